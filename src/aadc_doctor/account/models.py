"""Evidence gathered by ``account``: frozen, JSON-ready, and never holding a token or password."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar

from aadc_doctor.net.outcome import Outcome as CallOutcome

T = TypeVar("T")


@dataclass(frozen=True)
class CallFailure:
    """A request that did not give what we asked for: no answer (network) or an error answer."""

    url: str
    outcome: CallOutcome  # the probes' outcome codes (DESIGN.md): dns_failure, proxy_forbidden, ..., http_error
    message: str
    status: int | None = None
    code: str = ""  # Graph error.code or the OAuth error
    request_id: str = ""

    @property
    def is_network(self) -> bool:
        return self.status is None


@dataclass(frozen=True)
class UserRealm:
    """The answer of /common/userrealm/UPN?api-version=2.1."""

    upn: str
    namespace_type: str  # Managed | Federated | Unknown
    domain_name: str = ""
    federation_brand_name: str = ""
    cloud_instance_name: str = ""
    federation_protocol: str = ""
    auth_url: str = ""


@dataclass(frozen=True)
class TenantInfo:
    """What the tenant's OpenID configuration says about it."""

    tenant_id: str
    cloud: str  # worldwide | usgov | china | unknown
    cloud_instance_name: str
    tenant_region_scope: str
    tenant_region_sub_scope: str
    token_endpoint: str
    login_host: str
    graph_host: str


@dataclass(frozen=True)
class SignInResult:
    """How the sign-in ended; ``succeeded`` is all later checks need (the token stays elsewhere)."""

    flow: str  # device_code | password
    succeeded: bool
    error: str = ""  # OAuth error (invalid_grant, authorization_declined, ...)
    codes: tuple[int, ...] = ()
    description: str = ""  # the AADSTS text without the Trace/Correlation/Timestamp tail
    correlation_id: str = ""
    trace_id: str = ""
    timestamp: str = ""
    failure: CallFailure | None = None  # the sign-in never got an answer
    verification_uri: str = ""
    expires_in: int = 0


@dataclass(frozen=True)
class DirectoryUser:
    id: str
    user_principal_name: str
    display_name: str
    on_premises_sync_enabled: bool | None
    account_enabled: bool | None
    user_type: str


@dataclass(frozen=True)
class RoleRef:
    """A directory role by its template id (the same in every tenant) and its name."""

    template_id: str
    name: str


@dataclass(frozen=True)
class Domain:
    name: str
    is_verified: bool
    authentication_type: str
    is_default: bool


@dataclass(frozen=True)
class Agent:
    """A Pass-through Authentication agent (Graph beta onPremisesAgent)."""

    id: str
    machine_name: str
    external_ip: str
    status: str  # active | inactive
    publishing_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One Graph read: a value, or why there is none."""

    value: T | None = None
    failure: CallFailure | None = None


@dataclass(frozen=True)
class GraphEvidence:
    """Everything read from Microsoft Graph after a successful sign-in."""

    me: Outcome[DirectoryUser] = field(default_factory=Outcome)
    direct_roles: Outcome[tuple[RoleRef, ...]] = field(default_factory=Outcome)
    transitive_roles: Outcome[tuple[RoleRef, ...]] = field(default_factory=Outcome)
    eligible_roles: Outcome[tuple[RoleRef, ...]] = field(default_factory=Outcome)
    organization: Outcome[dict[str, Any]] = field(default_factory=Outcome)
    domains: Outcome[tuple[Domain, ...]] = field(default_factory=Outcome)
    agents: Outcome[tuple[Agent, ...]] = field(default_factory=Outcome)


def to_json(value: Any) -> Any:
    """Dataclasses to plain JSON values (tuples become lists, None stays)."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_json(v) for k, v in asdict(value).items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value
