"""Every command's results: frozen dataclasses, the one declaration of each JSON `results` shape (DESIGN.md).

`render/json_data.to_json_data` turns them into the report's JSON; the terminal renderers (render/text/) and
any later renderer read the same objects; ``field(metadata=json_meta(...))`` declares a JSON exception (json_data.py).
Domain types are imported for type checking only: importing this module costs nothing at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aadc_doctor.json_data import json_meta

if TYPE_CHECKING:
    from aadc_doctor.account.models import Agent, CallFailure, Domain, SignInResult, TenantInfo, UserRealm
    from aadc_doctor.account.oauth import OAuthError
    from aadc_doctor.ad.dc_survey import DcSurvey
    from aadc_doctor.ad.discovery import Discovery
    from aadc_doctor.explain.lookup import Reading
    from aadc_doctor.logs.proxylog_reader import BadLineSample, ProxyLogFile
    from aadc_doctor.net.http_client import Exchange
    from aadc_doctor.net.outcome import EndpointResult
    from aadc_doctor.net.targets import NotProbed
    from aadc_doctor.proxyconfig.dotnet_config import ConfigProblem
    from aadc_doctor.proxyconfig.effective import ComponentProxy
    from aadc_doctor.proxyconfig.model import ProxyConfig

JsonObject = Mapping[str, Any]  # JSON-ready data read from a file or another tool's report (not our own shape)


# -- helpmsg ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HelpmsgResults:
    input: str
    code: int
    hex: str
    found: bool
    name: str | None
    message: str | None
    text: str
    note: str | None = field(default=None, metadata=json_meta(omit_none=True))


# -- explain ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExplainResults:
    entries: tuple[Reading, ...]
    matched_by: str  # "code", "relevance" or "none"
    unknown: tuple[str, ...]
    suggestions: tuple[str, ...]
    request_ids: tuple[JsonObject, ...]


# -- proxy -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DotnetConfigSource:
    """machine.config or a component's .exe.config: its <defaultProxy> (password removed)."""

    kind: str  # "machine.config" or "exe.config"
    path: str
    component: str | None = field(metadata=json_meta(omit_none=True))  # exe.config only
    declared: bool = False
    line: int | None = None
    enabled: bool | None = None
    proxy: str | None = None
    use_system_default: bool | None = None
    bypass_on_local: bool | None = None
    bypass: tuple[str, ...] = ()
    use_default_credentials: bool | None = None
    script_location: str | None = None
    auto_detect: bool = False
    problems: tuple[ConfigProblem, ...] = ()


@dataclass(frozen=True, kw_only=True)
class WinhttpSource:
    """Saved or live `netsh winhttp show proxy` (advproxy adds the PAC URL and auto-detect)."""

    kind: str = "winhttp"
    path: str
    direct: bool
    proxy: str | None
    bypass: tuple[str, ...]
    auto_config_url: str | None
    auto_detect: bool


@dataclass(frozen=True)
class UnreadSource:
    """A source read by default (on Windows) that could not be read; the rest is audited."""

    kind: str
    path: str
    error: str


@dataclass(frozen=True, kw_only=True)
class PacSource:
    kind: str = "pac"
    path: str
    samples: Mapping[str, str | None]  # URL -> the proxy the script chooses (None: DIRECT)


@dataclass(frozen=True, kw_only=True)
class EnvironmentSource:
    kind: str = "environment"
    variables: Mapping[str, str]  # passwords removed
    proxy: str | None
    no_proxy: tuple[str, ...]


ProxySource = DotnetConfigSource | WinhttpSource | UnreadSource | PacSource | EnvironmentSource


@dataclass(frozen=True)
class ProxyResults:
    sources: tuple[ProxySource, ...]
    effective: Mapping[str, ComponentProxy]  # component id -> where its proxy comes from


# -- collect ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CollectResults:
    zip: str
    files: int
    bytes: int
    redaction_map: str | None
    messages: tuple[str, ...]
    manifest: JsonObject  # manifest.json (DESIGN.md "collect manifest") without "files"


# -- demo ------------------------------------------------------------------------------------------------------
# A scenario's expectation, what it got and the reports it judged are JSON: the verdict compares JSON reports.

@dataclass(frozen=True)
class DemoScenario:
    name: str
    title: str
    setup: str
    mirrors: str
    kind: str  # "check" or "account"
    expected: JsonObject


@dataclass(frozen=True)
class DemoListResults:
    scenarios: tuple[DemoScenario, ...]
    listed: bool = True


@dataclass(frozen=True)
class DemoAccountRun:
    title: str
    upn: str
    args: tuple[str, ...]
    got: JsonObject
    passed: bool
    report: JsonObject | None


@dataclass(frozen=True)
class DemoScenarioRun:
    name: str
    title: str
    kind: str
    argv: tuple[str, ...]
    expected: JsonObject
    got: JsonObject
    passed: bool
    problems: tuple[str, ...]
    report: JsonObject | None  # the `check` report judged (JSON, schema 1); None for the account scenario
    runs: tuple[DemoAccountRun, ...] | None = field(default=None, metadata=json_meta(omit_none=True))
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class DemoResults:
    scenarios: tuple[DemoScenarioRun, ...]
    wall_s: float


# -- proxylog --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProxylogResults:
    format: str
    files: tuple[ProxyLogFile, ...]
    # ProxyLogAnalysis.results(): endpoints, phases, clients...
    analysis: JsonObject = field(metadata=json_meta(flatten=True))
    bad_line_samples: tuple[BadLineSample, ...] = ()


# -- pta -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HourReasonCount:
    hour: str  # "2026-12-05T08:00Z"
    reason: int | None  # the Win32 reason; None for a failure without one
    count: int


@dataclass(frozen=True)
class PtaResults:
    """`pta trace` and `pta events` (the command's docstring lists the keys beyond DESIGN.md's)."""

    # analysis.pta.analyse(): requests, by_reason, summary...
    analysis: JsonObject = field(metadata=json_meta(flatten=True))
    # failures per hour and reason, for the HTML report's heat map (the JSON has by_hour and by_reason)
    by_hour_reason: tuple[HourReasonCount, ...] = field(default=(), metadata=json_meta(skip=True))


@dataclass(frozen=True)
class PtaAgentGeneration:
    generation: str
    name: str
    process: str


@dataclass(frozen=True)
class PtaDcQueryResults:
    query_xml: str
    processes: tuple[str, ...]
    generations: tuple[PtaAgentGeneration, ...]
    run_on: str
    note: str


# -- ad --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AdDcsResults:
    domain: str | None
    discovery: Discovery | None  # None when --dc named the DCs
    dcs: tuple[DcSurvey, ...]
    wall_ms: float


@dataclass(frozen=True)
class AdLogonResults:
    # ad/logon.validate: upn, dc, transport, outcome, reason, account
    logon: JsonObject = field(metadata=json_meta(flatten=True))


@dataclass(frozen=True)
class AdSsoResults:
    domain: str | None
    dc: str | None
    account: JsonObject | None  # AZUREADSSOACC as ad/sso_account.describe reads it
    tickets: JsonObject | None  # the 4769 tally (--events) and the files read


AdResults = AdDcsResults | AdLogonResults | AdSsoResults


# -- account ---------------------------------------------------------------------------------------------------

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


# -- check -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckProxy:
    config: ProxyConfig = field(metadata=json_meta(flatten=True))  # source, url (password removed), bypass...
    description: str = ""  # one line for a human


@dataclass(frozen=True)
class CheckAuth:
    mode: str  # --proxy-auth
    user: str | None


@dataclass(frozen=True)
class CheckResults:
    proxy: CheckProxy
    auth: CheckAuth
    profiles: tuple[str, ...]
    timeout_s: float
    concurrency: int
    wall_ms: float
    endpoints: tuple[EndpointResult, ...]
    not_probed: tuple[NotProbed, ...]
    connect_to: tuple[str, ...]
    connect_to_unused: tuple[str, ...]
