"""`account`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aadc_doctor.json_data import json_meta
from aadc_doctor.results.base import JsonObject

if TYPE_CHECKING:
    from aadc_doctor.account.models import Agent, CallFailure, Domain, SignInResult, TenantInfo, UserRealm
    from aadc_doctor.account.oauth import OAuthError
    from aadc_doctor.net.http_client import Exchange


@dataclass(frozen=True)
class Failed:
    """A step that got no usable answer: {"failure": ...}."""

    failure: CallFailure


@dataclass(frozen=True)
class Errored:
    """A step the service answered with an OAuth error: {"error": ...}."""

    error: OAuthError


@dataclass(frozen=True)
class Skipped:
    skipped: str  # why the step did not run


@dataclass(frozen=True)
class AccountProxy:
    source: str
    url: str | None  # password removed
    login_proxy: str | None  # the proxy login.microsoftonline.com goes through (None: direct)


@dataclass(frozen=True)
class GraphAccount:
    id: str
    user_principal_name: str
    display_name: str
    cloud_only: bool
    account_enabled: bool | None
    user_type: str | None


@dataclass(frozen=True)
class GraphRoles:
    direct: tuple[str, ...]
    through_groups: tuple[str, ...]
    eligible: tuple[str, ...]  # role template ids eligible in PIM


@dataclass(frozen=True)
class PtaAgentSeen:
    agent: Agent = field(metadata=json_meta(flatten=True))
    this_server: bool = False


@dataclass(frozen=True)
class PtaAgents:
    this_server: str
    active: int
    inactive: int
    agents: tuple[PtaAgentSeen, ...]


@dataclass(frozen=True)
class AccountGraph:
    account: GraphAccount | None
    roles: GraphRoles
    organization: JsonObject | None
    domains: tuple[Domain, ...] | None
    pta_agents: PtaAgents | None
    failures: Mapping[str, CallFailure]  # Graph read -> why it failed


@dataclass(frozen=True)
class AccountResults:
    upn: str
    proxy: AccountProxy
    realm: UserRealm | Failed | None
    tenant: TenantInfo | Failed | Errored | None
    sign_in: SignInResult | Skipped | None
    graph: AccountGraph | None
    stopped_at: str | None  # the step that stopped the run; None when every step ran
    requests: tuple[Exchange, ...]
