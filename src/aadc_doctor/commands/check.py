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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aadc_doctor.commands import RunContext
from aadc_doctor.errors import InputError, UsageError
from aadc_doctor.model import Finding
from aadc_doctor.options import (
    add_connection_options,
    add_proxy_options,
    check_timeout,
    proxy_credentials,
    reject_empty_values,
    select_proxy_of,
)
from aadc_doctor.pipeline import Analysis, BaseCommand
from aadc_doctor.results import CheckAuth, CheckProxy, CheckResults

if TYPE_CHECKING:
    from aadc_doctor.knowledge.connectivity_findings import ConnectivityKnowledge
    from aadc_doctor.knowledge.endpoints import EndpointCatalog
    from aadc_doctor.net.http_client import Redirect
    from aadc_doctor.net.outcome import EndpointResult, EndpointTarget
    from aadc_doctor.net.proxy_auth import ProxyAuthSettings
    from aadc_doctor.net.resolve import DnsFilterPolicy, IpNetwork
    from aadc_doctor.net.targets import NotProbed
    from aadc_doctor.net.tls import TrustConfig
    from aadc_doctor.proxyconfig.dotnet_config import ConfigFile
    from aadc_doctor.proxyconfig.model import ProxyConfig

HELP = "probe the endpoints Azure AD Connect, PTA and Health need, through the real proxy, layer by layer"
PROFILE_CHOICES = ("sync", "pta", "health", "writeback", "cloudsync", "all")
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 600.0  # a per-probe limit beyond ten minutes only hides a hang
TENANT_GUID = re.compile(r"\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?", re.IGNORECASE)

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
    proxy = add_proxy_options(parser, title="proxy (the first that applies is used; the report names it)",
                              exclusive=False)
    proxy.add_argument("--proxy-auth", choices=("auto", "none", "basic", "ntlm", "negotiate"), default="auto",
                       help="how to answer the proxy's 407 (default auto: the best scheme it offers)")
    net = add_connection_options(parser, timeout=DEFAULT_TIMEOUT_S, max_timeout=MAX_TIMEOUT_S,
                                 timeout_help="hard limit per endpoint probe")
    net.add_argument("--dns-server", metavar="ADDR[:PORT]", help="resolve names with this DNS server, not the OS")
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

@dataclass(frozen=True)
class CheckEvidence:
    """What the probes found, and everything the diagnosis needs to read it."""

    proxy: ProxyConfig
    auth: ProxyAuthSettings
    profiles: tuple[str, ...]
    timeout_s: float
    concurrency: int
    catalog: EndpointCatalog
    knowledge: ConnectivityKnowledge
    machine_config: ConfigFile | None  # the machine.config the proxy came from, read as .NET reads it
    configured_elsewhere: tuple[str, ...]
    endpoints: tuple[EndpointResult, ...]
    not_probed: tuple[NotProbed, ...]
    connect_to: tuple[str, ...]
    connect_to_unused: tuple[str, ...]
    wall_ms: float


class CheckCommand(BaseCommand):
    name = "check"
    help = HELP

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> CheckEvidence:
        return _collect(args, ctx)

    def analyse(self, evidence: CheckEvidence) -> Analysis[CheckResults]:
        from aadc_doctor.analysis.connectivity import ProxyContext, attribute_upstreams, diagnose
        from aadc_doctor.analysis.proxy_audit import audit_dotnet_proxy_file

        endpoints = tuple(attribute_upstreams(list(evidence.endpoints)))  # an upstream's relayed answer is named
        cfg = evidence.proxy
        proxy_ctx = ProxyContext(cfg.source, cfg.display_url, evidence.configured_elsewhere)
        findings: list[Finding] = []
        if evidence.machine_config is not None:
            findings += audit_dotnet_proxy_file(evidence.machine_config)
        findings += diagnose(list(endpoints), proxy_ctx, catalog=evidence.catalog, knowledge=evidence.knowledge)
        results = CheckResults(
            proxy=CheckProxy(cfg, cfg.describe()), auth=CheckAuth(evidence.auth.mode, evidence.auth.user),
            profiles=evidence.profiles, timeout_s=evidence.timeout_s, concurrency=evidence.concurrency,
            wall_ms=evidence.wall_ms, endpoints=endpoints, not_probed=evidence.not_probed,
            connect_to=evidence.connect_to, connect_to_unused=evidence.connect_to_unused)
        return Analysis(results, findings)


COMMAND = CheckCommand()


def _collect(args: argparse.Namespace, ctx: RunContext) -> CheckEvidence:
    """Options to settings, then every probe (results follow DESIGN.md's `check` JSON)."""
    from aadc_doctor.knowledge.endpoints import load_catalog
    from aadc_doctor.net.resolve import parse_dns_server, parse_lab_network, parse_resolve_option
    from aadc_doctor.net.targets import build_targets
    from aadc_doctor.net.tls import build_trust

    reject_empty_values(args)
    check_timeout(args.timeout, MAX_TIMEOUT_S)
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
        return _probe(args, ctx, trust, targets, not_probed, profiles, catalog, redirects, connect_to, overrides,
                      dns_server, lab_networks)
    finally:
        trust.close()  # the store-loading thread never outlives the command (it crashed the interpreter at exit)


def _probe(args: argparse.Namespace, ctx: RunContext, trust: TrustConfig, targets: list[EndpointTarget],
           not_probed: list[NotProbed], profiles: list[str], catalog: EndpointCatalog, redirects: list[Redirect],
           connect_to: dict[tuple[str, int], tuple[str, int]], overrides: list[Any], dns_server: Any,
           lab_networks: tuple[IpNetwork, ...]) -> CheckEvidence:
    from aadc_doctor.knowledge.connectivity_findings import load_connectivity_knowledge
    from aadc_doctor.net.probe import ProbeSettings, ProxyRoute
    from aadc_doctor.net.proxy_auth import ProxyAuthSettings
    from aadc_doctor.net.resolve import Resolver
    from aadc_doctor.net.runner import ProbeJob, run_probes_async
    from aadc_doctor.proxyconfig.machine_config import machine_config_of
    from aadc_doctor.proxyconfig.model import display_proxy_url

    cfg = select_proxy_of(args, ctx.env)

    def route_for(proxy_url: str) -> ProxyRoute:
        try:
            return ProxyRoute.from_url(proxy_url, display_proxy_url(proxy_url))
        except ValueError as exc:  # a malformed HTTPS_PROXY or PAC answer: name where it came from
            raise UsageError(f"{cfg.source}: {exc}") from None

    for configured in (cfg.url, *(url for _, url in cfg.scheme_urls)):
        if configured:
            route_for(configured)  # validated before anything reads user or password from it
    credentials = proxy_credentials(args, ctx.env, ctx.ask_password, cfg.url)
    auth = ProxyAuthSettings(mode=args.proxy_auth, user=credentials.user, password=credentials.password)
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
    live = None
    if ctx.interactive:
        from aadc_doctor.render.text.check import LiveTable

        live = LiveTable(ctx.console, targets)

    async def probe_all() -> list[EndpointResult]:
        return await run_probes_async(jobs, settings, concurrency=args.concurrency,
                                      on_result=live.update if live else None)

    if live is not None:
        with live:
            results = _run_coroutine(probe_all)
    else:
        results = _run_coroutine(probe_all)
    wall_ms = (time.monotonic() - started) * 1000
    return CheckEvidence(
        proxy=cfg, auth=auth, profiles=tuple(profiles), timeout_s=float(args.timeout), concurrency=args.concurrency,
        catalog=catalog, knowledge=kb, machine_config=machine_config_of(cfg),
        configured_elsewhere=_configured_elsewhere(cfg, ctx.env, results), endpoints=tuple(results),
        not_probed=tuple(not_probed), connect_to=tuple(args.connect_to), connect_to_unused=tuple(unused_connect_to),
        wall_ms=round(wall_ms, 1))
