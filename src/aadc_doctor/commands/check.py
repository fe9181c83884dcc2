"""`aadc-doctor check`: probe the endpoints a feature needs, through the effective proxy, layer by layer.

Each endpoint gets an outcome code (DESIGN.md) with per-layer timings; the analysis turns the outcomes into
the articles' findings (403: open the URL; 407: sign-in; direct failure: machine.config; interception...).
Probes run concurrently with a hard timeout each, so the run lasts about as long as the slowest probe.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

from aadc_doctor.commands import CommandResult, RunContext
from aadc_doctor.errors import InputError, UsageError
from aadc_doctor.model import Finding, Report

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

    from aadc_doctor.knowledge.endpoints import EndpointCatalog
    from aadc_doctor.net.http_client import Redirect
    from aadc_doctor.net.outcome import EndpointResult, EndpointTarget
    from aadc_doctor.net.proxy_auth import ProxyAuthSettings
    from aadc_doctor.net.resolve import DnsFilterPolicy, IpNetwork
    from aadc_doctor.net.tls import TrustConfig
    from aadc_doctor.proxyconfig.model import ProxyConfig

HELP = "probe the endpoints Azure AD Connect, PTA and Health need, through the real proxy, layer by layer"
PROFILE_CHOICES = ("sync", "pta", "health", "writeback", "cloudsync", "all")
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 600.0  # a per-probe limit beyond ten minutes only hides a hang
TENANT_GUID = re.compile(r"\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?", re.IGNORECASE)
HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")

T = TypeVar("T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Probe the endpoints of one or more profiles concurrently, through the effective proxy: name resolution, "
        "TCP, the proxy's CONNECT answer and its authentication, TLS (with TLS-inspection detection), the HTTP "
        "answer, and CRL downloads. Each endpoint gets an outcome code; the findings give the cause and the fix. "
        "Exit 1 when an error finding exists."
    )
    what = parser.add_argument_group("what to probe")
    what.add_argument("--profile", action="append", choices=PROFILE_CHOICES, metavar="PROFILE",
                      help="sync (default), pta, health, writeback, cloudsync or all; repeatable")
    what.add_argument("--endpoint", action="append", metavar="URL",
                      help="probe this URL (repeatable); without --profile only these, with it in addition")
    what.add_argument("--tenant-id", metavar="ID",
                      help="tenant id (GUID): also probe tenant hosts such as <tenant>.registration.msappproxy.net")
    proxy = parser.add_argument_group("proxy (the first that applies is used; the report names it)")
    proxy.add_argument("--proxy", metavar="URL",
                       help="use this proxy, e.g. http://proxy:8080 (proxy:8080 alone means http://; https:// means "
                            "TLS to the proxy itself, which most proxies do not speak)")
    proxy.add_argument("--direct", action="store_true", help="use no proxy")
    proxy.add_argument("--pac", metavar="FILE_OR_URL", help="use the proxy a PAC script chooses for each URL")
    proxy.add_argument("--machine-config", metavar="PATH",
                       help="use <system.net><defaultProxy> of this machine.config (read by default on Windows)")
    proxy.add_argument("--proxy-auth", choices=("auto", "none", "basic", "ntlm", "negotiate"), default="auto",
                       help="how to answer the proxy's 407 (default auto: the best scheme it offers)")
    proxy.add_argument("--proxy-user", metavar="USER", help="proxy user (DOMAIN\\user for NTLM); on Windows NTLM and "
                       "Negotiate without a user sign in as the current user")
    proxy.add_argument("--proxy-password-env", metavar="VAR",
                       help="read the proxy password from this environment variable (else it is prompted for)")
    net = parser.add_argument_group("network")
    net.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                     help=f"hard limit per endpoint probe (default {DEFAULT_TIMEOUT_S:g}, at most {MAX_TIMEOUT_S:g})")
    net.add_argument("--resolve", action="append", metavar="HOST:PORT:ADDRESS",
                     help="use ADDRESS for HOST:PORT instead of DNS (repeatable, as in curl); through a proxy it "
                          "applies to the proxy's own name, since the proxy resolves the endpoints")
    net.add_argument("--connect-to", action="append", default=[], metavar="HOST:PORT:HOST2:PORT2",
                     help="for HOST:PORT connect to HOST2:PORT2 instead (repeatable, as in curl; the first that "
                          "matches wins). The real name stays in SNI, certificate verification and Host. Through a "
                          "proxy, CONNECT goes to HOST2:PORT2 (http:// URLs are then tunnelled too, as curl does)")
    net.add_argument("--dns-server", metavar="ADDR[:PORT]", help="resolve names with this DNS server, not the OS")
    net.add_argument("--ca-file", metavar="PEM",
                     help="extra trusted root certificates (PEM). This only adds trust: a CA in it never counts as "
                          "one of Microsoft's roots, so an inspecting proxy's CA given here is still reported")
    net.add_argument("--lab-microsoft-root", metavar="PEM",
                     help="FOR LABS AND TESTS ONLY: trust the CA certificates in PEM and count them as roots "
                          "Microsoft's endpoints chain to (a lab's stand-in for DigiCert Global Root G2). Never use "
                          "it on a real network: it would hide TLS inspection")
    net.add_argument("--lab-dns-answer", action="append", default=[], metavar="CIDR",
                     help="for labs only: DNS answers in this range (e.g. 127.0.0.0/8) are the lab's own servers, "
                          "not a DNS filter's sinkhole; repeatable. Without it a Microsoft name resolving to a "
                          "loopback, private or block-page address is reported as dns_filtered")
    net.add_argument("--concurrency", type=int, default=32, metavar="N", help="probes at a time (default 32)")


# -- options -> settings ------------------------------------------------------------------------------------

def _parse_connect_to(specs: Sequence[str]) -> list[Redirect]:
    """`account`'s parser (same syntax and messages); imported only when used: it loads requests (~0.1 s)."""
    if not specs:
        return []
    from aadc_doctor.net.http_client import parse_connect_to

    return [parse_connect_to(spec) for spec in specs]


def _tenant_guid(text: str) -> str:
    """The tenant id as the msappproxy host names use it: a lower-case GUID (a domain name is not accepted)."""
    match = TENANT_GUID.fullmatch(text.strip())
    if match is None:
        hint = ("that is a domain name; the tenant id is the GUID under Entra admin center > Overview > Tenant ID"
                if "." in text else "find it in the Entra admin center, Overview, Tenant ID")
        raise UsageError(f"--tenant-id {text!r}: expected the tenant id (a GUID such as "
                         "72f988bf-86f1-41af-91ab-2d7cd011db47)", hint=hint)
    return match.group(1).lower()


EMPTY_HINTS = {"proxy": "for no proxy at all use --direct", "proxy_user": "leave --proxy-user out for no sign-in"}


def _reject_empty_values(args: argparse.Namespace) -> None:
    """`--proxy "$PROXY"` with PROXY unset must not quietly fall back to another proxy source (or to none)."""
    for name in ("proxy", "pac", "machine_config", "ca_file", "lab_microsoft_root", "dns_server", "proxy_user",
                 "proxy_password_env"):
        value = getattr(args, name, None)
        if value is not None and not value.strip():
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option}: the value is empty", hint=EMPTY_HINTS.get(name))


def _select_proxy(args: argparse.Namespace, ctx: RunContext) -> ProxyConfig:
    from aadc_doctor.proxyconfig.select import select_proxy

    return select_proxy(proxy=args.proxy, direct=bool(args.direct), pac=args.pac,
                        machine_config=args.machine_config, env=ctx.env)


def _auth_settings(args: argparse.Namespace, ctx: RunContext, proxy_url: str | None) -> ProxyAuthSettings:
    """User and password from the options, the environment variable, a prompt, or the proxy URL itself."""
    from aadc_doctor.net.proxy_auth import ProxyAuthSettings
    from aadc_doctor.secrets import register_secret

    user: str | None = args.proxy_user
    password: str | None = None
    if args.proxy_password_env and not user:
        raise UsageError("--proxy-password-env needs --proxy-user")
    if user:
        if args.proxy_password_env:
            password = ctx.env.get(args.proxy_password_env)
            if password is None:
                raise UsageError(f"--proxy-password-env {args.proxy_password_env}: that variable is not set")
            if not password:
                raise UsageError(f"--proxy-password-env {args.proxy_password_env}: that variable is empty")
        else:
            password = _prompt_password(user)
    elif proxy_url:
        parts = urlsplit(proxy_url)
        if parts.username:
            user = unquote(parts.username)
            password = unquote(parts.password) if parts.password is not None else None
    register_secret(password, user=user)
    return ProxyAuthSettings(mode=args.proxy_auth, user=user, password=password)


def _prompt_password(user: str) -> str:
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        raise UsageError(f"--proxy-user {user}: no password given and no terminal to ask for one",
                         hint="put the password in an environment variable and pass --proxy-password-env VAR")
    import getpass

    try:
        return getpass.getpass(f"Proxy password for {user}: ")
    except EOFError:
        raise UsageError("no proxy password entered") from None


def _parse_endpoint(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--endpoint {url}: expected an http:// or https:// URL", hint=_endpoint_hint(url))
    try:
        port = parts.port
    except ValueError:
        port_text = parts.netloc.rpartition(":")[2]
        if port_text.isdigit():
            raise UsageError(f"--endpoint {url}: port {port_text} is out of range (1-65535)") from None
        raise UsageError(f"--endpoint {url}: {port_text!r} is not a port number") from None
    if port == 0:
        raise UsageError(f"--endpoint {url}: port 0 is out of range (1-65535)")
    host = parts.hostname.lower()
    if not _valid_host(host):
        raise UsageError(f"--endpoint {url}: {host!r} is not a valid host name")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def _valid_host(host: str) -> bool:
    """A DNS name (letters, digits, '-', '_' per label; IDN through its A-label) or an IP literal."""
    from aadc_doctor.net.resolve import is_ip_literal

    if is_ip_literal(host):
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(HOST_LABEL.fullmatch(label) for label in labels)


def _endpoint_hint(url: str) -> str:
    """The URL the admin most likely meant: a bare host (or host/path) becomes https://, or http:// for CRLs."""
    text = url.strip()
    if text and "://" not in text:
        guess = urlsplit(f"//{text}")
        try:
            plain = guess.port == 80 or guess.path.lower().endswith(".crl")
        except ValueError:
            plain = False
        if guess.hostname:
            return f"did you mean --endpoint {'http' if plain else 'https'}://{guess.netloc}{guess.path or '/'} ?"
    return "for example --endpoint https://login.microsoftonline.com/"


def build_targets(profiles: Sequence[str], endpoints: Sequence[str], tenant_id: str | None,
                  catalog: EndpointCatalog) -> tuple[list[EndpointTarget], list[dict[str, Any]]]:
    """Concrete URLs to probe (catalog rows stand in through their probe URLs) and the rows not probed."""
    from aadc_doctor.knowledge.endpoints import PROFILES
    from aadc_doctor.net.outcome import EndpointTarget

    wanted = set(PROFILES) if "all" in profiles else set(profiles)
    # keyed by what is probed, not by the text typed: Login.MicrosoftOnline.com and :443 are the same endpoint
    by_url: dict[tuple[str, str, int, str], EndpointTarget] = {}
    not_probed: list[dict[str, Any]] = []

    def add(target: EndpointTarget) -> None:
        key = (target.scheme, target.host, target.port, target.path)
        known = by_url.get(key)
        if known is None:
            by_url[key] = target
            return
        merged = tuple(dict.fromkeys((*known.profiles, *target.profiles)))
        by_url[key] = EndpointTarget(known.url, known.host, known.port, known.scheme, known.path, known.kind,
                                     merged, known.rule_id, known.rule_pattern)

    if profiles:
        current = catalog.for_profiles(sorted(wanted))
        for rule in current:
            urls = rule.urls_to_probe(tenant_id)
            rule_profiles = tuple(p for p in rule.profiles if p in wanted)
            if not urls:
                reason = ("needs --tenant-id" if rule.tenant_probe_urls else
                          "not probed: " + ("optional" if not rule.required else "no probe URL"))
                not_probed.append({"rule": rule.id, "pattern": rule.pattern, "port": rule.port,
                                   "profiles": list(rule_profiles), "reason": reason})
                continue
            for url in urls:
                scheme, host, port, path = _parse_endpoint(url)
                add(EndpointTarget(url, host, port, scheme, path, rule.kind, rule_profiles, rule.id, rule.pattern))
            if rule.tenant_probe_urls and not tenant_id:
                not_probed.append({"rule": rule.id, "pattern": rule.pattern, "port": rule.port,
                                   "profiles": list(rule_profiles),
                                   "reason": "tenant-specific hosts need --tenant-id"})
        for rule in catalog.for_profiles(sorted(wanted), include_seed_only=True):
            if not rule.is_current:
                replaced = ", ".join(catalog.by_id(r).pattern for r in rule.replaced_by)
                reason = "listed only in the 2016 article" + (f"; today: {replaced}" if replaced else "")
                not_probed.append({"rule": rule.id, "pattern": rule.pattern, "port": rule.port,
                                   "profiles": [p for p in rule.profiles if p in wanted], "reason": reason})
    for url in endpoints:
        scheme, host, port, path = _parse_endpoint(url)
        # a host a current row probes for itself (graph.windows.net for *.graph.windows.net) belongs to that row,
        # not to a 2016 seed row whose wildcard happens to cover it (*.windows.net)
        probed_by = [r for r in catalog.rules if r.is_current and host in r.probe_hosts()]
        matches = (probed_by or [r for r in catalog.match(host) if r.is_current] or catalog.match(host))
        chosen = next((r for r in matches if r.port == port), matches[0] if matches else None)
        # an --endpoint counts for the requested profiles its catalog rows belong to; alone it is "custom"
        profile_set = tuple(dict.fromkeys(p for r in matches for p in r.profiles if p in wanted)) or ("custom",)
        if path.split("?", 1)[0].lower().endswith(".crl"):
            kind = "crl"
        elif scheme == "http" and chosen is not None and chosen.kind == "ocsp":
            kind = "ocsp"
        else:
            kind = scheme
        add(EndpointTarget(url, host, port, scheme, path, kind, profile_set,
                           chosen.id if chosen else None, chosen.pattern if chosen else None))
    return list(by_url.values()), not_probed


def _configured_elsewhere(cfg: ProxyConfig, env: dict[str, str], results: Sequence[EndpointResult]) -> tuple[str, ...]:
    """Proxies set in places this run did not use, asked only when a direct call failed to connect.

    This is the article's "Unable to connect to the remote server": netsh winhttp (or the environment) has a
    proxy, but machine.config does not, so .NET calls go direct.
    """
    from aadc_doctor.errors import DoctorError
    from aadc_doctor.net.outcome import Outcome
    from aadc_doctor.proxyconfig.environment import environment_proxy
    from aadc_doctor.secrets import url_without_password

    direct_failures = (Outcome.DNS_FAILURE, Outcome.DNS_FILTERED, Outcome.TCP_REFUSED, Outcome.TCP_TIMEOUT)
    if not any(r.outcome in direct_failures and r.via_proxy is None for r in results):
        return ()
    found: list[str] = []
    if cfg.source != "environment":
        env_cfg = environment_proxy(env)
        if env_cfg is not None and env_cfg.url:
            found.append(f"HTTPS_PROXY/HTTP_PROXY in the environment: {url_without_password(env_cfg.url)}")
    if sys.platform == "win32" and not cfg.source.startswith("winhttp"):
        from aadc_doctor.proxyconfig.winhttp import run_netsh

        try:
            winhttp = run_netsh(timeout=5.0)
        except DoctorError:
            winhttp = None
        if winhttp is not None and not winhttp.direct and winhttp.proxy_server:
            found.append(f"netsh winhttp: {winhttp.proxy_server}")
    return tuple(found)


def _dns_filter(catalog: EndpointCatalog, lab_networks: tuple[IpNetwork, ...]) -> DnsFilterPolicy:
    """Sinkhole answers (knowledge data) count for the catalog's public Microsoft names, outside lab ranges."""
    from aadc_doctor.knowledge.dns_findings import load_sinkholes
    from aadc_doctor.net.resolve import DnsFilterPolicy

    return DnsFilterPolicy(load_sinkholes().explain, lambda name: bool(catalog.match(name)), lab_networks)


def _dns_lifetime(timeout: float) -> float:
    """A DNS lookup ends a little before the probe's deadline, so a silent DNS server is named as such."""
    return max(timeout * 0.5, timeout - 0.5)


def dotnet_config_findings(cfg: ProxyConfig) -> list[Finding]:
    """What .NET makes of the machine.config this run read its proxy from (see audit_dotnet_proxy_file)."""
    from aadc_doctor.analysis.proxy_audit import audit_dotnet_proxy_file
    from aadc_doctor.proxyconfig.machine_config import machine_config_of

    machine_config = machine_config_of(cfg)
    return audit_dotnet_proxy_file(machine_config) if machine_config is not None else []


def _run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run, also when the caller (e.g. the demo) already runs an event loop in this thread."""
    import asyncio
    import concurrent.futures

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


# -- run --------------------------------------------------------------------------------------------------

def run(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    return run_check(args, ctx)


def run_check(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    """Probe, diagnose, and return the report (results follow DESIGN.md's `check` JSON)."""
    from aadc_doctor.knowledge.endpoints import load_catalog
    from aadc_doctor.net.resolve import parse_dns_server, parse_lab_network, parse_resolve_option
    from aadc_doctor.net.tls import build_trust

    report = Report(command="check")
    _reject_empty_values(args)
    if not 0 < args.timeout <= MAX_TIMEOUT_S:  # also rejects nan and inf
        raise UsageError(f"--timeout {args.timeout:g}: expected seconds, more than 0 and at most {MAX_TIMEOUT_S:g}")
    if args.concurrency < 1:
        raise UsageError(f"--concurrency {args.concurrency}: must be at least 1")
    try:
        overrides = [parse_resolve_option(item) for item in args.resolve or ()]
        dns_server = parse_dns_server(args.dns_server) if args.dns_server else None
        lab_networks = tuple(parse_lab_network(item) for item in args.lab_dns_answer)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    redirects = _parse_connect_to(args.connect_to)
    connect_to: dict[tuple[str, int], tuple[str, int]] = {}
    for redirect in redirects:  # as curl: the first entry for a host:port wins
        connect_to.setdefault((redirect.host.rstrip("."), redirect.port), (redirect.target_host, redirect.target_port))
    tenant_id = _tenant_guid(args.tenant_id) if args.tenant_id is not None else None
    catalog = load_catalog()
    profiles = list(args.profile or ([] if args.endpoint else ["sync"]))
    targets, not_probed = build_targets(profiles, args.endpoint or (), tenant_id, catalog)
    if not targets:
        raise UsageError("nothing to probe: the chosen profiles have no probe URL",
                         hint="add --endpoint URL or --tenant-id")
    try:
        trust = build_trust(args.ca_file, args.lab_microsoft_root)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    try:
        return _probe_and_report(args, ctx, report, trust, targets, not_probed, profiles, catalog, redirects,
                                 connect_to, overrides, dns_server, lab_networks)
    finally:
        trust.close()  # the store-loading thread never outlives the command (it crashed the interpreter at exit)


def _probe_and_report(args: argparse.Namespace, ctx: RunContext, report: Report, trust: TrustConfig,
                      targets: list[EndpointTarget], not_probed: list[dict[str, Any]], profiles: list[str],
                      catalog: EndpointCatalog, redirects: list[Redirect],
                      connect_to: dict[tuple[str, int], tuple[str, int]], overrides: list[Any],
                      dns_server: Any, lab_networks: tuple[IpNetwork, ...]) -> CommandResult:
    from aadc_doctor.analysis.connectivity import ProxyContext, attribute_upstreams, diagnose
    from aadc_doctor.knowledge.connectivity_findings import load_connectivity_knowledge
    from aadc_doctor.net.probe import ProbeSettings, ProxyRoute
    from aadc_doctor.net.resolve import Resolver
    from aadc_doctor.net.runner import ProbeJob, run_probes_async
    from aadc_doctor.proxyconfig.model import display_proxy_url

    cfg = _select_proxy(args, ctx)

    def route_for(proxy_url: str) -> ProxyRoute:
        try:
            return ProxyRoute.from_url(proxy_url, display_proxy_url(proxy_url))
        except ValueError as exc:  # a malformed HTTPS_PROXY or PAC answer: name where it came from
            raise UsageError(f"{cfg.source}: {exc}") from None

    for configured in (cfg.url, *(url for _, url in cfg.scheme_urls)):
        if configured:
            route_for(configured)  # validated before anything reads user or password from it
    auth = _auth_settings(args, ctx, cfg.url)
    jobs: list[ProbeJob] = []
    for target in targets:
        proxy_url = cfg.proxy_for(target.url)
        jobs.append(ProbeJob(target, route_for(proxy_url) if proxy_url else None))

    kb = load_connectivity_knowledge()
    resolver = Resolver.build(overrides, dns_server, dns_filter=_dns_filter(catalog, lab_networks),
                              lifetime=_dns_lifetime(float(args.timeout)))
    settings = ProbeSettings(resolver, trust, auth, float(args.timeout),
                             kb.expected_issuer_organizations, connect_to)
    probed = {(t.host, t.port) for t in targets}
    unused_connect_to = [spec for spec, r in zip(args.connect_to, redirects, strict=True)
                         if (r.host.rstrip("."), r.port) not in probed]
    started = time.monotonic()
    live = _LiveTable(ctx, targets) if ctx.interactive else None

    async def probe_all() -> list[EndpointResult]:
        return await run_probes_async(jobs, settings, concurrency=args.concurrency,
                                      on_result=live.update if live else None)

    if live is not None:
        with live:
            results = _run_coroutine(probe_all)
    else:
        results = _run_coroutine(probe_all)
    wall_ms = (time.monotonic() - started) * 1000
    results = attribute_upstreams(results)  # an upstream's answer relayed verbatim is named in the JSON too

    proxy_ctx = ProxyContext(cfg.source, cfg.display_url, _configured_elsewhere(cfg, ctx.env, results))
    report.findings.extend(dotnet_config_findings(cfg))
    report.findings.extend(diagnose(results, proxy_ctx, catalog=catalog, knowledge=kb))
    proxy_info = cfg.to_dict()
    proxy_info["description"] = cfg.describe()
    report.results = {
        "proxy": proxy_info,
        "auth": {"mode": auth.mode, "user": auth.user},
        "profiles": profiles,
        "timeout_s": float(args.timeout),
        "concurrency": args.concurrency,
        "wall_ms": round(wall_ms, 1),
        "endpoints": [r.to_dict() for r in results],
        "not_probed": not_probed,
        "connect_to": list(args.connect_to),
        "connect_to_unused": unused_connect_to,
    }
    return CommandResult(report)


# -- rendering --------------------------------------------------------------------------------------------

OUTCOME_STYLE = {"ok": "green", "http_error": "yellow"}
ENDPOINT_WIDTH = 48
DETAIL_MIN_WIDTH = 30  # narrower than this, the Detail column is unreadable (or dropped): list layout instead
# Above the table, where a first-time reader looks: what the two number columns mean.
TABLE_LEGEND = (
    "CONNECT/HTTP: the proxy's answer to CONNECT / the endpoint's HTTP status (any status, even 4xx, means reachable)",
    "ms: time per layer, dns/tcp/CONNECT/tls/http ('-' = layer not used, e.g. no CONNECT when direct, or not reached)",
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _status(row: dict[str, Any]) -> str:
    connect, http = row.get("connect_status"), row.get("http_status")
    if connect is None and http is None:
        return "-"
    return f"{connect if connect is not None else '-'}/{http if http is not None else '-'}"


def _detail(row: dict[str, Any]) -> str:
    tls = row.get("tls")
    if row.get("outcome") in ("tls_intercepted", "tls_failure") and tls and tls.get("issuer"):
        issuer = tls.get("issuer_organization") or tls.get("issuer")
        return f"issuer {issuer}: {tls.get('verify_error') or row.get('error') or ''}"
    if row.get("outcome") != "ok":
        return str(row.get("error") or "")
    crl = row.get("crl")
    if crl and crl.get("parsed"):
        until = str(crl.get("next_update") or "")[:10]
        return "CRL ok" + (f" until {until}" if until else "")
    parts = []
    if tls:
        parts.append(str(tls.get("version") or ""))
        if tls.get("issuer_organization") or tls.get("issuer"):
            parts.append(f"issuer {tls.get('issuer_organization') or tls.get('issuer')}")
    if row.get("proxy_auth_scheme"):
        parts.append(f"proxy sign-in {row['proxy_auth_scheme']}")
    if not tls and row.get("http_status") is not None:
        parts.append(f"answered {row['http_status']}")
    return ", ".join(p for p in parts if p)


def _row_label(row: dict[str, Any]) -> tuple[str, str]:
    rule = row.get("rule") or {}
    pattern = rule.get("pattern") or "-"
    return f"{row['host']}:{row['port']}", pattern


def _timings(row: dict[str, Any]) -> str:
    phases = row.get("phases") or {}
    return "/".join(_ms(phases.get(k)) for k in ("dns_ms", "tcp_ms", "connect_ms", "tls_ms", "http_ms"))


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _endpoint_cell(label: str, pattern: str, connect_to: str | None = None) -> Text:
    from rich.text import Text

    host = label.rsplit(":", 1)[0]
    if len(label) > ENDPOINT_WIDTH and "." in label[:ENDPOINT_WIDTH]:
        # a tenant host (<tenant-id>.pta.bootstrap.his.msappproxy.net, 70 characters) would squeeze the Detail column
        # out of a 120-column table: break it after a dot
        cut = label.rindex(".", 0, ENDPOINT_WIDTH) + 1
        label = label[:cut] + "\n  " + label[cut:]
    cell = Text(label)
    if pattern not in ("-", host):
        cell.append(f"\n  for {pattern}", style="dim")
    if connect_to:
        cell.append(f"\n  connected to {connect_to}", style="dim")
    return cell


def build_table(rows: Sequence[dict[str, Any] | None], targets: Sequence[tuple[str, str]] = ()) -> Table:
    """The endpoint table; `None` rows (probes still running) show as pending with their target label.

    A wildcard catalog row is probed through a concrete host: the cell shows the row it stands for.
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    # no_wrap: host:port stays whole (a label over ENDPOINT_WIDTH is broken at a dot by _endpoint_cell). Letting rich
    # fold this column made it squeeze ordinary names, and a min_width made it crop the Detail text by a character.
    table.add_column("Endpoint", no_wrap=True)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("CONNECT/HTTP", justify="right", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column("Detail", overflow="fold", ratio=1, min_width=DETAIL_MIN_WIDTH)
    for index, row in enumerate(rows):
        if row is None:
            label, pattern = targets[index] if index < len(targets) else ("?", "-")
            table.add_row(_endpoint_cell(label, pattern), Text("probing...", style="dim"), "", "", "")
            continue
        label, pattern = _row_label(row)
        outcome = str(row.get("outcome"))
        table.add_row(_endpoint_cell(label, pattern, row.get("connect_to")),
                      Text(outcome, style=OUTCOME_STYLE.get(outcome, "bold red")),
                      _status(row), _timings(row), _short(_detail(row)))
    return table


def _fixed_columns_width(rows: Sequence[dict[str, Any] | None], targets: Sequence[tuple[str, str]]) -> int:
    """Width the table needs besides Detail: Endpoint, Outcome, CONNECT/HTTP, ms and the four separators."""
    labels = [_row_label(row)[0] if row is not None else (targets[i][0] if i < len(targets) else "?")
              for i, row in enumerate(rows)]
    endpoint = max([len("Endpoint"), *(min(len(label), ENDPOINT_WIDTH) for label in labels)])
    done = [row for row in rows if row is not None]
    outcome = max([len("probing..."), *(len(str(row.get("outcome"))) for row in done)])
    status = max([len("CONNECT/HTTP"), *(len(_status(row)) for row in done)])
    timings = max([len("ms"), *(len(_timings(row)) for row in done)])
    return endpoint + outcome + status + timings + 4 * 3


def build_view(rows: Sequence[dict[str, Any] | None], targets: Sequence[tuple[str, str]] = (), *,
               width: int = 120) -> RenderableType:
    """The table when the console leaves its Detail column DETAIL_MIN_WIDTH characters (rich drops a column that does
    not fit, and with it the cause), else one line per endpoint with the detail indented under it."""
    if width - _fixed_columns_width(rows, targets) >= DETAIL_MIN_WIDTH:
        return build_table(rows, targets)
    from rich.console import Group
    from rich.text import Text

    lines: list[Text] = []
    for index, row in enumerate(rows):
        if row is None:
            label = targets[index][0] if index < len(targets) else "?"
            lines.append(Text(label) + Text("  probing...", style="dim"))
            continue
        label, pattern = _row_label(row)
        outcome = str(row.get("outcome"))
        head = Text(label)
        head.append(f"  {outcome}", style=OUTCOME_STYLE.get(outcome, "bold red"))
        head.append(f"  {_status(row)}  {_timings(row)} ms")
        notes = [f"for {pattern}"] if pattern not in ("-", row.get("host")) else []
        if row.get("connect_to"):
            notes.append(f"connected to {row['connect_to']}")
        notes.append(_short(_detail(row), 200))
        lines.append(head)
        lines.append(Text("    " + "; ".join(n for n in notes if n), style="dim"))
    return Group(*lines)


class _LiveTable:
    """The table on a terminal, each row filling in as its probe completes."""

    def __init__(self, ctx: RunContext, targets: Sequence[EndpointTarget]) -> None:
        from rich.live import Live

        self._labels = [(t.label, t.rule_pattern or "-") for t in targets]
        self._rows: list[dict[str, Any] | None] = [None] * len(targets)
        self._width = ctx.console.width
        self._live = Live(build_view(self._rows, self._labels, width=self._width), console=ctx.console,
                          transient=True, refresh_per_second=8)

    def update(self, index: int, result: EndpointResult) -> None:
        self._rows[index] = result.to_dict()
        self._live.update(build_view(self._rows, self._labels, width=self._width))

    def __enter__(self) -> _LiveTable:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)


def render(report: Report, console: Console) -> None:
    from rich.text import Text

    results = report.results
    proxy = results.get("proxy") or {}
    where = proxy.get("description") or f"{proxy.get('url') or 'direct'} ({proxy.get('source')})"
    console.print(Text("Proxy: ", style="bold") + Text(str(where)))
    endpoints = list(results.get("endpoints") or ())
    # a PAC script, NO_PROXY or a bypass list picks per URL: say what was picked, or a DIRECT route goes unnoticed
    routes: dict[str, int] = {}
    for row in endpoints:
        route = row.get("via_proxy") or "DIRECT"
        routes[route] = routes.get(route, 0) + 1
    is_pac = str(proxy.get("source") or "").startswith("pac")
    if is_pac or len(routes) > 1:
        chosen = ", ".join(f"{route} ({count} endpoint{'s' if count != 1 else ''})" for route, count in routes.items())
        console.print(Text("PAC chose: " if is_pac else "Routes: ", style="bold") + Text(chosen or "-"))
    for line in TABLE_LEGEND:
        console.print(Text(line, style="dim"))
    console.print(build_view(endpoints, width=console.width))
    ok = sum(1 for e in endpoints if e.get("outcome") == "ok")
    wall = results.get("wall_ms")
    timing = ""
    if isinstance(wall, int | float):
        timing = f" in {wall / 1000:.1f} s" if wall >= 1000 else f" in {wall:.0f} ms"
    console.print(Text(f"{ok} of {len(endpoints)} endpoints ok{timing}", style="bold"))
    skipped = list(results.get("not_probed") or ())
    if skipped:
        console.print(Text("Not probed:", style="dim"))
        for item in skipped:
            console.print(Text(f"  {item['pattern']}:{item['port']}  {item['reason']}", style="dim"))
    for spec in results.get("connect_to_unused") or ():
        console.print(Text(f"--connect-to {spec} matched no probed endpoint: HOST:PORT must be a probed URL's "
                           "host and port (443 for https://, 80 for http://)", style="yellow"))
