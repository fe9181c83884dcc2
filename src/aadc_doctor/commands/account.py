"""`aadc-doctor account UPN`: find the wizard's and PTA registration's account errors before the wizard does.

Three steps, each only when the previous one allows it: user realm and tenant (no credentials), a
sign-in (device code, or the password flow with --password-env), then Microsoft Graph (account,
roles, PIM, organization, domains, PTA agents). Heavy imports (requests, msal) happen in run().
"""

from __future__ import annotations

import argparse
import re
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aadc_doctor.commands import CommandResult, RunContext
from aadc_doctor.errors import UsageError
from aadc_doctor.model import Finding, Report

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.account.models import GraphEvidence
    from aadc_doctor.proxyconfig.model import ProxyConfig

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
    net = parser.add_argument_group("network (as in check)")
    source = net.add_mutually_exclusive_group()
    source.add_argument("--proxy", metavar="URL", help="use this proxy")
    source.add_argument("--direct", action="store_true", help="use no proxy")
    source.add_argument("--pac", metavar="FILE_OR_URL", help="take the proxy from a PAC file")
    source.add_argument("--machine-config", metavar="PATH", help="take the proxy from this machine.config")
    net.add_argument("--proxy-user", metavar="USER", help="proxy user (Basic authentication)")
    net.add_argument("--proxy-password-env", metavar="VAR", help="proxy password from environment variable VAR")
    net.add_argument("--resolve", action="append", default=[], metavar="HOST:PORT:ADDRESS",
                     help="connect to ADDRESS for HOST:PORT, keeping the name for TLS (as curl; repeatable)")
    net.add_argument("--connect-to", action="append", default=[], metavar="HOST:PORT:HOST2:PORT2",
                     help="connect to HOST2:PORT2 for HOST:PORT, keeping the name for TLS (as curl; repeatable)")
    net.add_argument("--ca-file", metavar="PEM", help="extra trusted root certificates (added to the system store)")
    net.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                     help="per request (default 10)")


def _proxy_config(args: argparse.Namespace, ctx: RunContext) -> ProxyConfig:
    from aadc_doctor.proxyconfig.select import select_proxy

    return select_proxy(proxy=args.proxy, direct=bool(args.direct), pac=args.pac,
                        machine_config=args.machine_config, env=ctx.env)


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


def run(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    from aadc_doctor.account import checks
    from aadc_doctor.account.graph import GraphClient, read_graph
    from aadc_doctor.account.models import TenantInfo, UserRealm, to_json
    from aadc_doctor.account.oauth import OAuthError
    from aadc_doctor.account.realm import discover_realm, discover_tenant
    from aadc_doctor.account.signin import DEFAULT_CLIENT_ID, authority_for, sign_in
    from aadc_doctor.commands.check import dotnet_config_findings
    from aadc_doctor.net.http_client import HttpSettings, make_session, parse_connect_to, parse_resolve

    upn = args.upn.strip()
    if not _UPN.match(upn):
        raise UsageError(f"{upn!r} is not a user principal name",
                         hint="write it as user@domain, e.g. admin@contoso.com")
    for option, value, limit in (("--timeout", args.timeout, MAX_TIMEOUT_S),
                                 ("--device-code-timeout", args.device_code_timeout, MAX_DEVICE_CODE_TIMEOUT_S)):
        if not 0 < value <= limit:  # also NaN and infinity, which float() accepts
            raise UsageError(f"{option} {value:g}: give a number of seconds between 0 and {limit:g}")
    password = _secret_from_env(ctx, args.password_env, "--password-env") if args.password_env else None
    proxy_password = (_secret_from_env(ctx, args.proxy_password_env, "--proxy-password-env", args.proxy_user)
                      if args.proxy_password_env else None)
    if args.proxy_user and proxy_password is None and ctx.interactive:
        import getpass

        from aadc_doctor.secrets import register_secret

        proxy_password = getpass.getpass(f"Password for proxy user {args.proxy_user}: ")
        register_secret(proxy_password, user=args.proxy_user)
    if args.proxy_user and proxy_password is None:
        raise UsageError("--proxy-user needs a password", hint="pass --proxy-password-env VAR (or run interactively)")
    proxy = _proxy_config(args, ctx)

    def proxy_for(url: str) -> str | None:
        return _with_credentials(proxy.proxy_for(url), args.proxy_user, proxy_password)

    settings = HttpSettings(proxy_for=proxy_for, resolve=tuple(parse_resolve(s) for s in args.resolve),
                            connect_to=tuple(parse_connect_to(s) for s in args.connect_to),
                            ca_file=args.ca_file, timeout=float(args.timeout))
    session = make_session(settings)
    this_server = args.this_server or socket.gethostname()
    findings: list[Finding] = []
    results: dict[str, Any] = {
        "upn": upn,
        "proxy": {"source": proxy.source, "url": proxy.display_url, "login_proxy": _login_proxy(proxy_for)},
        "realm": None, "tenant": None, "sign_in": None, "graph": None, "stopped_at": None,
    }
    report = Report(command="account", findings=findings, results=results)
    findings += dotnet_config_findings(proxy)  # the wizard reads machine.config as .NET does, like check

    def done(stage: str | None) -> CommandResult:
        session.close()  # ends proxy tunnels now, so the proxy logs them while we still run
        results["stopped_at"] = stage
        results["requests"] = [to_json(e) for e in session.exchanges]
        return CommandResult(report)

    # 1. user realm and tenant
    realm = discover_realm(session, upn)
    results["realm"] = to_json(realm) if isinstance(realm, UserRealm) else {"failure": to_json(realm)}
    findings += checks.realm_findings(upn, realm)
    if not checks.realm_is_usable(realm):
        return done("realm")
    assert isinstance(realm, UserRealm)
    tenant = discover_tenant(session, checks.domain_of(upn))
    will_sign_in = not args.no_sign_in and not (realm.namespace_type.lower() == "federated" and password is not None)
    findings += checks.tenant_findings(upn, tenant, will_sign_in=will_sign_in)
    if not isinstance(tenant, TenantInfo):
        results["tenant"] = {"failure": to_json(tenant)} if not isinstance(tenant, OAuthError) else {
            "error": to_json(tenant)}
        return done("tenant")
    results["tenant"] = to_json(tenant)
    if args.no_sign_in:
        return done("no-sign-in")
    if not will_sign_in:
        results["sign_in"] = {"skipped": "federated domain: the password flow would go to the federation service; "
                                         "run without --password-env to use the device-code sign-in"}
        return done("sign-in-skipped")

    # 2. sign-in
    consumer = tenant.tenant_id == checks.consumer_tenant_id()

    def show_device_code(message: str) -> None:
        ctx.err_console.print(message, markup=False, highlight=False)

    outcome, token = sign_in(session, authority=authority_for(tenant, checks.consumer_tenant_id()), upn=upn,
                             graph_host=tenant.graph_host, client_id=args.client_id or DEFAULT_CLIENT_ID,
                             password=password, on_device_code=show_device_code,
                             device_timeout=float(args.device_code_timeout))
    results["sign_in"] = to_json(outcome)
    findings += checks.sign_in_findings(upn, outcome, consumer=consumer)
    if token is None:
        return done("sign-in")

    # 3. Microsoft Graph
    evidence = read_graph(GraphClient(session, tenant.graph_host, token))
    results["graph"] = _graph_results(evidence, this_server)
    findings += checks.graph_findings(upn, evidence, this_server=this_server, tenant_subject=tenant.tenant_id)
    return done(None)


def _graph_results(evidence: GraphEvidence, this_server: str) -> dict[str, Any]:
    from aadc_doctor.account.checks import same_machine
    from aadc_doctor.account.models import to_json

    failures = {name: to_json(getattr(evidence, name).failure)
                for name in ("me", "direct_roles", "transitive_roles", "eligible_roles", "organization", "domains",
                             "agents") if getattr(evidence, name).failure is not None}
    me = evidence.me.value
    direct = evidence.direct_roles.value or ()
    transitive = evidence.transitive_roles.value or ()
    agents = evidence.agents.value
    return {
        "account": None if me is None else {
            "id": me.id, "user_principal_name": me.user_principal_name, "display_name": me.display_name,
            "cloud_only": not me.on_premises_sync_enabled, "account_enabled": me.account_enabled,
            "user_type": me.user_type},
        "roles": {
            "direct": sorted({r.name or r.template_id for r in direct}),
            "through_groups": sorted({r.name or r.template_id for r in transitive}
                                     - {r.name or r.template_id for r in direct}),
            "eligible": sorted({r.template_id for r in evidence.eligible_roles.value or ()}),
        },
        "organization": evidence.organization.value,
        "domains": None if evidence.domains.value is None else [to_json(d) for d in evidence.domains.value],
        "pta_agents": None if agents is None else {
            "this_server": this_server,
            "active": sum(1 for a in agents if a.status == "active"),
            "inactive": sum(1 for a in agents if a.status != "active"),
            "agents": [{**to_json(a), "this_server": same_machine(a.machine_name, this_server)} for a in agents],
        },
        "failures": failures,
    }


def _line(console: Console, label: str, text: str) -> None:
    from rich.text import Text

    console.print(Text(f"  {label:<14}", style="bold") + Text(text))


def _login_proxy(proxy_for: Callable[[str], str | None]) -> str | None:
    """The proxy (password removed) the first call, the user realm lookup, goes through; None = direct."""
    from aadc_doctor.proxyconfig.model import display_proxy_url

    chosen = proxy_for(LOGIN_PROBE_URL)
    return display_proxy_url(chosen) if chosen else None


def _proxy_text(proxy: dict[str, Any]) -> str:
    """Where the requests go: a PAC names its choice for login.microsoftonline.com (it has no single URL)."""
    source = str(proxy.get("source") or "")
    if source.startswith("pac:"):
        return f"{proxy.get('login_proxy') or 'DIRECT'} for login.microsoftonline.com (PAC {source[4:]})"
    if source == "none":
        from aadc_doctor.proxyconfig.model import NO_PROXY_SETTING

        return NO_PROXY_SETTING
    return f"{proxy.get('url') or 'direct'} ({source})"


def render(report: Report, console: Console) -> None:
    from rich.text import Text

    r = report.results
    console.print(Text(f"Account {r.get('upn')}", style="bold"))
    proxy = r.get("proxy") or {}
    _line(console, "Proxy", _proxy_text(proxy))
    realm = r.get("realm") or {}
    if "failure" in realm:
        _line(console, "User realm", f"failed: {realm['failure']['outcome']}: {realm['failure']['message']}")
    elif realm:
        brand = f", {realm['federation_brand_name']}" if realm.get("federation_brand_name") else ""
        _line(console, "User realm", f"{realm['namespace_type']} ({realm['domain_name']}{brand})")
    tenant = r.get("tenant")
    if tenant and "tenant_id" in tenant:
        region = f", region {tenant['tenant_region_scope']}" if tenant.get("tenant_region_scope") else ""
        _line(console, "Tenant", f"{tenant['tenant_id']} in the {tenant['cloud']} cloud "
                                 f"({tenant['cloud_instance_name']}{region})")
    elif tenant:
        _line(console, "Tenant", "could not be read")
    sign_in = r.get("sign_in")
    if sign_in:
        if "skipped" in sign_in:
            _line(console, "Sign-in", f"skipped: {sign_in['skipped']}")
        else:
            flow = "device code" if sign_in["flow"] == "device_code" else "password"
            why = f"AADSTS{sign_in['codes'][0]}" if sign_in.get("codes") else sign_in.get("error") or "network"
            state = "succeeded" if sign_in["succeeded"] else f"failed ({why})"
            _line(console, "Sign-in", f"{state}, {flow} flow")
    elif r.get("stopped_at") == "no-sign-in":
        _line(console, "Sign-in", "not attempted (--no-sign-in)")
    graph = r.get("graph")
    if graph:
        _render_graph(console, graph)


def _render_graph(console: Console, graph: dict[str, Any]) -> None:
    account = graph.get("account")
    if account:
        _line(console, "Account", ("cloud-only" if account["cloud_only"] else "synchronized from on-premises AD")
              + f", {account['user_type'] or 'Member'}")
    roles = graph["roles"]
    parts = [f"{', '.join(roles['direct'])} (direct)"] if roles["direct"] else ["none assigned directly"]
    if roles["through_groups"]:
        parts.append(f"{', '.join(roles['through_groups'])} (through a group)")
    if roles["eligible"]:
        parts.append(f"{len(roles['eligible'])} eligible in PIM")
    _line(console, "Roles", "; ".join(parts))
    org = graph.get("organization")
    _line(console, "Organization", org["display_name"] if org else "could not be read")
    domains = graph.get("domains")
    if domains is None:
        _line(console, "Domains", "could not be read")
    else:
        verified = sum(1 for d in domains if d["is_verified"])
        _line(console, "Domains", f"{len(domains)} ({verified} verified)")
    agents = graph.get("pta_agents")
    if agents is None:
        _line(console, "PTA agents", "could not be listed")
    else:
        names = [f"{a['machine_name']}{' (this server)' if a['this_server'] else ''}"
                 for a in agents["agents"] if a["status"] == "active"]
        text = f"{agents['active']} active" + (f": {', '.join(names)}" if names else "")
        if agents["inactive"]:
            text += f"; {agents['inactive']} inactive"
        _line(console, "PTA agents", text)
