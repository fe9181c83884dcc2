"""`aadc-doctor account UPN`: find the wizard's and PTA registration's account errors before the wizard does.

Three steps, each only when the previous one allows it: user realm and tenant (no credentials), a
sign-in (device code, or the password flow with --password-env), then Microsoft Graph (account,
roles, PIM, organization, domains, PTA agents). Heavy imports (requests, msal) happen in collect().
"""

from __future__ import annotations

import argparse
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from aadc_doctor.commands import RunContext
from aadc_doctor.errors import UsageError
from aadc_doctor.model import Finding
from aadc_doctor.options import (
    add_connection_options,
    add_proxy_options,
    check_timeout,
    proxy_credentials,
    select_proxy_of,
)
from aadc_doctor.pipeline import Analysis, BaseCommand
from aadc_doctor.results import (
    AccountGraph,
    AccountProxy,
    AccountResults,
    Errored,
    Failed,
    GraphAccount,
    GraphRoles,
    PtaAgents,
    PtaAgentSeen,
    Skipped,
)

if TYPE_CHECKING:
    from aadc_doctor.account.models import CallFailure, GraphEvidence, SignInResult, TenantInfo, UserRealm
    from aadc_doctor.account.oauth import OAuthError
    from aadc_doctor.net.http_client import Exchange
    from aadc_doctor.proxyconfig.dotnet_config import ConfigFile

HELP = ("before the wizard: user realm, tenant and cloud, then (after a sign-in) the role, PIM, company, "
        "domain and PTA-agent checks the wizard and PTA registration depend on.")

MAX_TIMEOUT_S = 3600.0
LOGIN_PROBE_URL = "https://login.microsoftonline.com/"
MAX_DEVICE_CODE_TIMEOUT_S = 86400.0  # a device code expires long before a day
# user@domain; the domain a DNS name (IDN letters allowed), so it can only name a domain in the URLs built from it
_UPN = re.compile(r"^[^@\s]+@[\w-]+(?:\.[\w-]+)+$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("upn", metavar="UPN", help="the admin account the wizard will use, e.g. admin@contoso.com")
    sign = parser.add_argument_group("sign-in")
    sign.add_argument("--no-sign-in", action="store_true", help="only the checks that need no credentials")
    sign.add_argument("--password-env", metavar="VAR",
                      help="sign in with the password in environment variable VAR (resource-owner flow, for "
                           "automation); default: device-code sign-in, which works with MFA")
    sign.add_argument("--client-id", default=None, metavar="GUID",
                      help="public client app to sign in with (default: Microsoft Graph Command Line Tools)")
    sign.add_argument("--device-code-timeout", type=float, default=900.0, metavar="SECONDS",
                      help="how long to wait for the device-code sign-in (default 900)")
    sign.add_argument("--this-server", metavar="NAME", default=None,
                      help="this server's name among the PTA agents (default: this machine's host name)")
    add_proxy_options(parser, title="proxy (as in check; one source at a time)", exclusive=True)
    add_connection_options(parser, timeout=10.0, max_timeout=MAX_TIMEOUT_S, timeout_help="per request")


def _with_credentials(proxy_url: str | None, user: str | None, password: str | None) -> str | None:
    """Basic proxy credentials in the URL (requests sends them on CONNECT); never shown unscrubbed."""
    if proxy_url is None or user is None:
        return proxy_url
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(proxy_url)
    host = parts.hostname or ""
    netloc = f"{quote(user, safe='')}:{quote(password or '', safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _secret_from_env(ctx: RunContext, var: str, what: str, user: str | None = None) -> str:
    from aadc_doctor.secrets import register_secret

    value = ctx.env.get(var)
    if value is None:
        raise UsageError(f"{what}: environment variable {var} is not set")
    register_secret(value, user=user)  # with the user: the Basic token requests builds from a proxy URL
    return value


@dataclass(frozen=True)
class AccountEvidence:
    """What the three steps read, up to where they stopped (`stopped_at`, None when all ran)."""

    upn: str
    proxy: AccountProxy
    machine_config: ConfigFile | None  # the machine.config the proxy came from, read as .NET reads it
    this_server: str
    stopped_at: str | None
    exchanges: tuple[Exchange, ...]
    realm: UserRealm | CallFailure | None = None
    tenant: TenantInfo | CallFailure | OAuthError | None = None
    will_sign_in: bool = False
    sign_in: SignInResult | None = None
    consumer: bool = False
    graph: GraphEvidence | None = None


class AccountCommand(BaseCommand):
    name = "account"
    help = HELP

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> AccountEvidence:
        return _collect(args, ctx)

    def analyse(self, evidence: AccountEvidence) -> Analysis[AccountResults]:
        return _analyse(evidence)


COMMAND = AccountCommand()


def _collect(args: argparse.Namespace, ctx: RunContext) -> AccountEvidence:
    from aadc_doctor.account import checks
    from aadc_doctor.account.graph import GraphClient, read_graph
    from aadc_doctor.account.models import TenantInfo, UserRealm
    from aadc_doctor.account.realm import discover_realm, discover_tenant
    from aadc_doctor.account.signin import DEFAULT_CLIENT_ID, authority_for, sign_in
    from aadc_doctor.net.http_client import HttpSettings, make_session, parse_connect_to, parse_resolve
    from aadc_doctor.proxyconfig.machine_config import machine_config_of

    upn = args.upn.strip()
    if not _UPN.match(upn):
        raise UsageError(f"{upn!r} is not a user principal name",
                         hint="write it as user@domain, e.g. admin@contoso.com")
    check_timeout(args.timeout, MAX_TIMEOUT_S)
    check_timeout(args.device_code_timeout, MAX_DEVICE_CODE_TIMEOUT_S, "--device-code-timeout")
    password = _secret_from_env(ctx, args.password_env, "--password-env") if args.password_env else None
    proxy = select_proxy_of(args, ctx.env)
    credentials = proxy_credentials(args, ctx.env, ctx.ask_password, None)

    def proxy_for(url: str) -> str | None:
        return _with_credentials(proxy.proxy_for(url), credentials.user, credentials.password)

    settings = HttpSettings(proxy_for=proxy_for, resolve=tuple(parse_resolve(s) for s in args.resolve),
                            connect_to=tuple(parse_connect_to(s) for s in args.connect_to),
                            ca_file=args.ca_file, timeout=float(args.timeout))
    session = make_session(settings)
    base = AccountEvidence(upn=upn, proxy=AccountProxy(proxy.source, proxy.display_url, _login_proxy(proxy_for)),
                           machine_config=machine_config_of(proxy),
                           this_server=args.this_server or socket.gethostname(), stopped_at=None, exchanges=())

    def done(stage: str | None, read: AccountEvidence) -> AccountEvidence:
        session.close()  # ends proxy tunnels now, so the proxy logs them while we still run
        return replace(read, stopped_at=stage, exchanges=tuple(session.exchanges))

    # 1. user realm and tenant
    realm = discover_realm(session, upn)
    if not checks.realm_is_usable(realm):
        return done("realm", replace(base, realm=realm))
    assert isinstance(realm, UserRealm)
    tenant = discover_tenant(session, checks.domain_of(upn))
    will_sign_in = not args.no_sign_in and not (realm.namespace_type.lower() == "federated" and password is not None)
    read = replace(base, realm=realm, tenant=tenant, will_sign_in=will_sign_in)
    if not isinstance(tenant, TenantInfo):
        return done("tenant", read)
    if args.no_sign_in:
        return done("no-sign-in", read)
    if not will_sign_in:
        return done("sign-in-skipped", read)

    # 2. sign-in
    consumer = tenant.tenant_id == checks.consumer_tenant_id()

    def show_device_code(message: str) -> None:
        ctx.err_console.print(message, markup=False, highlight=False)

    outcome, token = sign_in(session, authority=authority_for(tenant, checks.consumer_tenant_id()), upn=upn,
                             graph_host=tenant.graph_host, client_id=args.client_id or DEFAULT_CLIENT_ID,
                             password=password, on_device_code=show_device_code,
                             device_timeout=float(args.device_code_timeout))
    read = replace(read, sign_in=outcome, consumer=consumer)
    if token is None:
        return done("sign-in", read)

    # 3. Microsoft Graph
    return done(None, replace(read, graph=read_graph(GraphClient(session, tenant.graph_host, token))))


SIGN_IN_SKIPPED = ("federated domain: the password flow would go to the federation service; run without "
                   "--password-env to use the device-code sign-in")


def _analyse(evidence: AccountEvidence) -> Analysis[AccountResults]:
    from aadc_doctor.account import checks
    from aadc_doctor.account.models import TenantInfo, UserRealm
    from aadc_doctor.account.oauth import OAuthError
    from aadc_doctor.analysis.proxy_audit import audit_dotnet_proxy_file

    upn = evidence.upn
    findings: list[Finding] = []
    if evidence.machine_config is not None:  # the wizard reads machine.config as .NET does, like check
        findings += audit_dotnet_proxy_file(evidence.machine_config)
    realm: UserRealm | Failed | None = None
    tenant: TenantInfo | Failed | Errored | None = None
    sign_in: SignInResult | Skipped | None = None
    graph = None
    if evidence.realm is not None:
        realm = evidence.realm if isinstance(evidence.realm, UserRealm) else Failed(evidence.realm)
        findings += checks.realm_findings(upn, evidence.realm)
    if evidence.tenant is not None:
        findings += checks.tenant_findings(upn, evidence.tenant, will_sign_in=evidence.will_sign_in)
        if isinstance(evidence.tenant, TenantInfo):
            tenant = evidence.tenant
        elif isinstance(evidence.tenant, OAuthError):
            tenant = Errored(evidence.tenant)
        else:
            tenant = Failed(evidence.tenant)
    if evidence.stopped_at == "sign-in-skipped":
        sign_in = Skipped(SIGN_IN_SKIPPED)
    if evidence.sign_in is not None:
        sign_in = evidence.sign_in
        findings += checks.sign_in_findings(upn, evidence.sign_in, consumer=evidence.consumer)
    if evidence.graph is not None:
        assert isinstance(evidence.tenant, TenantInfo)
        graph = _graph_results(evidence.graph, evidence.this_server)
        findings += checks.graph_findings(upn, evidence.graph, this_server=evidence.this_server,
                                          tenant_subject=evidence.tenant.tenant_id)
    results = AccountResults(upn=upn, proxy=evidence.proxy, realm=realm, tenant=tenant, sign_in=sign_in, graph=graph,
                             stopped_at=evidence.stopped_at, requests=evidence.exchanges)
    return Analysis(results, findings)


def _graph_results(evidence: GraphEvidence, this_server: str) -> AccountGraph:
    from aadc_doctor.account.checks import same_machine

    failures = {name: getattr(evidence, name).failure
                for name in ("me", "direct_roles", "transitive_roles", "eligible_roles", "organization", "domains",
                             "agents") if getattr(evidence, name).failure is not None}
    me = evidence.me.value
    direct = evidence.direct_roles.value or ()
    transitive = evidence.transitive_roles.value or ()
    agents = evidence.agents.value
    return AccountGraph(
        account=None if me is None else GraphAccount(
            id=me.id, user_principal_name=me.user_principal_name, display_name=me.display_name,
            cloud_only=not me.on_premises_sync_enabled, account_enabled=me.account_enabled, user_type=me.user_type),
        roles=GraphRoles(
            direct=tuple(sorted({r.name or r.template_id for r in direct})),
            through_groups=tuple(sorted({r.name or r.template_id for r in transitive}
                                        - {r.name or r.template_id for r in direct})),
            eligible=tuple(sorted({r.template_id for r in evidence.eligible_roles.value or ()}))),
        organization=evidence.organization.value,
        domains=evidence.domains.value,
        pta_agents=None if agents is None else PtaAgents(
            this_server=this_server,
            active=sum(1 for a in agents if a.status == "active"),
            inactive=sum(1 for a in agents if a.status != "active"),
            agents=tuple(PtaAgentSeen(a, same_machine(a.machine_name, this_server)) for a in agents)),
        failures=failures,
    )


def _login_proxy(proxy_for: Callable[[str], str | None]) -> str | None:
    """The proxy (password removed) the first call, the user realm lookup, goes through; None = direct."""
    from aadc_doctor.proxyconfig.model import display_proxy_url

    chosen = proxy_for(LOGIN_PROBE_URL)
    return display_proxy_url(chosen) if chosen else None
