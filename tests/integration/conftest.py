"""Fixtures for integration tests against real components on 127.0.0.1 (see tests/infra for the classes).

Every test in tests/integration is marked `integration` automatically; mark tests elsewhere yourself.
A missing component (squid, dnsmasq, htpasswd) FAILS the test with an install hint, it never skips.

Certificates
    lab_ca: trustme.CA                 the CA behind every lab TLS server ("aadc-doctor lab CA")
    inspecting_ca: trustme.CA          a second CA playing a TLS-inspecting proxy ("Contoso TLS Inspection CA")
    lab_ca_file / inspecting_ca_file: Path   their PEM files, for `--ca-file` or requests(verify=...)

Origins (TLS servers stand in for the Microsoft endpoints; names resolve to 127.0.0.1 via squid/dnsmasq/--resolve)
    tls_origin: TlsOrigin              session-wide, cert from lab_ca for every name in LAB_HOSTS, answers 200 "ok\\n"
                                       on any path. origin.port, origin.url("login.microsoftonline.com", "/path"),
                                       origin.requests (list of SeenRequest).
    inspected_origin: TlsOrigin        same names, but its certificate is issued by inspecting_ca
    tls_origin_factory(hostnames=LAB_HOSTS, *, ca=lab_ca, cert=None, routes=None, default_route=Route(),
                       stall=None) -> TlsOrigin   started; stopped after the test.
                                       routes={"/path": Route(status, body, headers, delay)}; stall="handshake"
                                       (TCP accepted, TLS never starts) or "response" (request read, never answered).
    http_origin_factory(routes=None, *, default_route=Route(404), stall=None, port=0) -> HttpOrigin
    crl_origin: HttpOrigin             session-wide plain HTTP server serving a real DER CRL signed by lab_ca at
                                       MICROSOFT_CRL_PATH ("/pki/mscorp/crl/Microsoft%20RSA%20TLS%20CA%2001.crl").
    lab_address: str                   a random spare 127.x.y.z with ports 80/443 free (root only)
    tls_origin_443 / http_origin_80    like tls_origin / crl_origin but on the real ports 443 and 80 of lab_address,
                                       a random spare 127.x.y.z (root only; no clash with other test runs). With
                                       squid_real_ports, unmodified endpoint URLs (https://login.microsoftonline.com/,
                                       http://crl.microsoft.com/pki/...) work; without a proxy use
                                       --resolve login.microsoftonline.com:443:<lab_address>.

Proxy (real squid 5, one process, three ports)
    squid: SquidProxy                  session-wide, default SquidConfig(): allow-list DEFAULT_ALLOWED_DOMAINS
                                       (Microsoft domains + allowed.example.com; denied.example.com -> 403),
                                       SSL_ports 443 + 1024-65535, Basic user alice / s3cret, hosts_file mapping
                                       LAB_HOSTS to 127.0.0.1. squid.url("open"|"basic"|"ntlm", user, password),
                                       squid.open_port/basic_port/ntlm_port, squid.access_log (Path),
                                       squid.log_offset(), squid.wait_for_log(regex, since=offset).
                                       Squid writes a CONNECT line only when the tunnel closes: close the client
                                       connection (or send `Connection: close`) before waiting for the line.
                                       Do not reconfigure the shared one: use squid_factory.
    squid_factory(config=None, **overrides) -> SquidProxy
                                       e.g. squid_factory(allowed_domains=["login.microsoftonline.com"],
                                       auth_before_acl=True). Started (~0.1 s); stopped in the background after
                                       the test (its ports close at once).
    squid_dns: SquidProxy              session-wide squid resolving through dnsmasq53 (no hosts file) - root only.
    squid_real_ports: SquidProxy       session-wide default-config squid whose hosts file maps LAB_HOSTS to
                                       lab_address, where tls_origin_443 and http_origin_80 listen - root only.

DNS (real dnsmasq)
    dnsmasq: Dnsmasq                   session-wide on dnsmasq.address ("127.0.0.1") : dnsmasq.port (free high port).
                                       A records for LAB_HOSTS, CNAME chains login.microsoftonline.com ->
                                       ak.privatelink.msidentity.com -> login.microsoftonline.com.nsatc.net -> 127.0.0.1
                                       and adminwebservice.microsoftonline.com -> bba800-anchor.microsoftonline.com ->
                                       bba800-anchor.microsoftonline.com.nsatc.net -> 127.0.0.1; NXDOMAIN_HOST and
                                       unknown names under the Microsoft domains -> NXDOMAIN; other names -> REFUSED.
    dnsmasq53: Dnsmasq                 the same records on port 53 of a random spare 127.x.y.z (root only), for
                                       squid_dns (squid cannot query another port).
    dnsmasq_factory(config=None, *, address=None, port=None) -> Dnsmasq
                                       custom DnsConfig(a_records=..., cnames=..., nxdomain=..., local_domains=...);
                                       127.0.0.1:<free port> by default, a spare 127.x.y.z when port=53.

Active Directory (real Samba AD DC, root only; tests/infra/samba.py)
    samba_dcs: SambaDcs                session-wide: .plain and .strong (strong auth required), each on a random
                                       free 127.x.y.z, one provision; .startup_seconds
    samba_dc / samba_dc_strong: SambaDC   dc.address, dc.upn("alice"), dc.user_password, dc.admin_upn,
                                       dc.admin_password, dc.ca_file (LDAPS CA), dc.unlock(user)
DNS breakage lab (names and records in tests/infra/dns_lab.py)
    filtering_dns: Dnsmasq             sinkholes (0.0.0.0/:: for ZERO, 127.0.0.1, 10.20.30.40, 169.254.10.10, the
                                       Umbrella block page 146.112.61.104), NXDOMAIN under microsoftonline.com and
                                       windows.net, REFUSED outside them, msappproxy.net forwarded to loop_zone.
    loop_zone: Nsd                     real NSD, authoritative for msappproxy.net with a CNAME loop (LOOP).
    validating_dns: Dnsmasq            validates DNSSEC (root anchor) over filtering_dns: SERVFAIL, EDE 6.
    silent_dns_port: int               a bound UDP port on 127.0.0.1 that never answers (DNS timeout).

Failure helpers
    stalled_proxy: StalledProxy        accepts TCP and never answers (stalled_proxy.url, .port, .connections)
    canned_proxy_factory(*responses: CannedResponse, raw=None) -> CannedProxy
                                       a fake proxy giving prepared answers in order (last repeats), e.g.
                                       CannedResponse(502, "Bad Gateway") or CannedResponse(407, headers=
                                       {"Proxy-Authenticate": "Negotiate"}); raw=b"..." sends bytes verbatim.
    closed_port: int                   a 127.0.0.1 port held bound but not listening: connect() is refused.

Real proxies of every kind (session-wide: each started once; see tests/integration/test_check_real_proxies.py)
    inspection_pki: InspectionPki      a two-tier inspection CA (root "Contoso Inspection Root CA" -> issuing
                                       "Contoso TLS Inspection Issuing CA"); .bundle: PEM with both (what group
                                       policy deploys, or --ca-file)
    bump_squid: SquidProxy             squid-openssl with ssl_bump on its open port: peek, splice *.msappproxy.net,
                                       bump every other host, signing with the two-tier issuing CA
                                       (security_file_certgen, ssl_db initialised in its work dir)
    deny_squid: SquidProxy             Squid saying no without a 403: deny_info 302 redirects (aadcdn.msauth.net,
                                       crl3.digicert.com) and deny_info TCP_RESET (aadcdn.msftauth.net,
                                       secure.aadcdn.microsoftonline-p.com, crl4.digicert.com)
    parent_squid / child_squid         child -> cache_peer parent (never_direct); the parent denies .msftauth.net and
                                       crl4.digicert.com. Names: parent-proxy.fabrikam.test, child-proxy.contoso.test
    orphan_squid: SquidProxy           cache_peer parent on a closed port: the upstream is down
    tinyproxy_denylist / tinyproxy_allowlist / tinyproxy_connectport: Tinyproxy
                                       Filter deny-list (msftauth.net); Filter allow-list (microsoftonline.com,
                                       digicert.com) with BasicAuth alice/s3cret; ConnectPort 563 only
    mitmproxy: Mitmproxy               mitmdump (from .venv-tools) inspecting TLS with its own CA, passing
                                       *.msappproxy.net through untouched

Set AADC_SAVE_PROXY_LOGS=DIR to keep every real proxy's access log after the session (DIR/<fixture>.log): fixtures
for the `proxylog` tests (docs/notes/proxy-log-fixtures.md).

The classes and constants (SquidConfig, Route, DnsConfig, LAB_HOSTS, MICROSOFT_CRL_PATH, build_crl,
issue_server_cert, ...) import from `tests.infra` (pyproject puts the repository root on pytest's sys.path).

Example:
    def test_denied(squid, tls_origin, lab_ca_file):
        import requests
        with pytest.raises(requests.exceptions.ProxyError, match="403"):
            requests.get(tls_origin.url("denied.example.com"), proxies={"https": squid.url()}, verify=lab_ca_file)
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trustme
from tests.infra import (
    LAB_HOSTS,
    MICROSOFT_CRL_PATH,
    CannedProxy,
    CannedResponse,
    ClosedPort,
    ComponentMissing,
    DnsConfig,
    Dnsmasq,
    HttpOrigin,
    Nsd,
    Route,
    SquidConfig,
    SquidProxy,
    StalledProxy,
    TlsOrigin,
    build_crl,
    crl_route,
    make_ca,
    procs,
    spare_loopback_address,
    write_ca_pem,
)
from tests.infra.dns_lab import LOOP_ZONE, filtering_config, validating_config
from tests.infra.mitmproxy import MitmConfig, Mitmproxy
from tests.infra.samba import SambaDC
from tests.infra.tinyproxy import Tinyproxy, TinyproxyConfig
from tests.infra.tls_servers import DEFAULT_ROUTE, Stall
from tests.infra.tools import find_squid_helper, is_root

from aadc_doctor.lab.ca import make_ca as make_named_ca

SAVE_LOGS_ENV = "AADC_SAVE_PROXY_LOGS"

_HERE = Path(__file__).resolve().parent
T = TypeVar("T")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration as `integration`."""
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)


def _required(make: Callable[[], T]) -> T:
    """Start a component; a missing one fails the test (with the install hint) instead of erroring obscurely."""
    try:
        return make()
    except ComponentMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _reap_lab_daemons() -> Iterator[None]:
    """At session end, wait for daemons that factories stopped in the background (squid takes 2-3 s to exit)."""
    yield
    procs.join_background()


# -- certificates ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def lab_ca() -> trustme.CA:
    return make_ca("aadc-doctor lab CA")


@pytest.fixture(scope="session")
def inspecting_ca() -> trustme.CA:
    return make_ca("Contoso TLS Inspection CA")


@pytest.fixture(scope="session")
def lab_ca_file(lab_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ca_pem(lab_ca, tmp_path_factory.mktemp("pki") / "lab-ca.pem")


@pytest.fixture(scope="session")
def inspecting_ca_file(inspecting_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ca_pem(inspecting_ca, tmp_path_factory.mktemp("pki") / "inspecting-ca.pem")


# -- origins ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tls_origin(lab_ca: trustme.CA) -> Iterator[TlsOrigin]:
    with TlsOrigin(lab_ca, LAB_HOSTS) as origin:
        yield origin


@pytest.fixture(scope="session")
def inspected_origin(inspecting_ca: trustme.CA) -> Iterator[TlsOrigin]:
    with TlsOrigin(inspecting_ca, LAB_HOSTS) as origin:
        yield origin


@pytest.fixture
def tls_origin_factory(lab_ca: trustme.CA) -> Iterator[Callable[..., TlsOrigin]]:
    started: list[TlsOrigin] = []

    def make(hostnames: tuple[str, ...] | list[str] = LAB_HOSTS, *, ca: trustme.CA | None = None,
             cert: trustme.LeafCert | None = None, routes: Mapping[str, Route] | None = None,
             default_route: Route = DEFAULT_ROUTE, stall: Stall | None = None, **kwargs: Any) -> TlsOrigin:
        origin = TlsOrigin(None if cert else (ca or lab_ca), hostnames, cert=cert, routes=routes,
                           default_route=default_route, stall=stall, **kwargs)
        started.append(origin)
        origin.start()
        return origin

    yield make
    for origin in started:
        origin.stop()


@pytest.fixture
def http_origin_factory() -> Iterator[Callable[..., HttpOrigin]]:
    started: list[HttpOrigin] = []

    def make(routes: Mapping[str, Route] | None = None, **kwargs: Any) -> HttpOrigin:
        origin = HttpOrigin(routes, **kwargs)
        started.append(origin)
        origin.start()
        return origin

    yield make
    for origin in started:
        origin.stop()


@pytest.fixture(scope="session")
def crl_origin(lab_ca: trustme.CA) -> Iterator[HttpOrigin]:
    with HttpOrigin({MICROSOFT_CRL_PATH: crl_route(build_crl(lab_ca))}) as origin:
        yield origin


@pytest.fixture(scope="session")
def lab_address() -> str:
    """A spare loopback address (127.x.y.z) with ports 80 and 443 free: home of the real-port origins (root only)."""
    if not is_root():
        pytest.fail("the real-port lab origins listen on ports 80/443 and need root (CI runs as root)", pytrace=False)
    return spare_loopback_address(tcp_ports=(80, 443))


@pytest.fixture(scope="session")
def tls_origin_443(lab_ca: trustme.CA, lab_address: str) -> Iterator[TlsOrigin]:
    with TlsOrigin(lab_ca, LAB_HOSTS, host=lab_address, port=443) as origin:
        yield origin


@pytest.fixture(scope="session")
def http_origin_80(lab_ca: trustme.CA, lab_address: str) -> Iterator[HttpOrigin]:
    with HttpOrigin({MICROSOFT_CRL_PATH: crl_route(build_crl(lab_ca))}, host=lab_address, port=80) as origin:
        yield origin


# -- squid -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def squid() -> Iterator[SquidProxy]:
    proxy = _required(lambda: SquidProxy(SquidConfig()))
    proxy.start()
    yield proxy
    proxy.stop(wait=False)


@pytest.fixture
def squid_factory() -> Iterator[Callable[..., SquidProxy]]:
    started: list[SquidProxy] = []

    def make(config: SquidConfig | None = None, **overrides: Any) -> SquidProxy:
        cfg = config or SquidConfig()
        if overrides:
            cfg = SquidConfig(**{**cfg.__dict__, **overrides})
        proxy = _required(lambda: SquidProxy(cfg))
        started.append(proxy)
        return proxy.start()

    yield make
    for proxy in started:
        proxy.stop(wait=False)


@pytest.fixture(scope="session")
def squid_dns(dnsmasq53: Dnsmasq) -> Iterator[SquidProxy]:
    proxy = _required(lambda: SquidProxy(SquidConfig(dns_nameserver=dnsmasq53.address)))
    proxy.start()
    yield proxy
    proxy.stop(wait=False)


@pytest.fixture(scope="session")
def squid_real_ports(tls_origin_443: TlsOrigin, http_origin_80: HttpOrigin) -> Iterator[SquidProxy]:
    proxy = _required(lambda: SquidProxy(SquidConfig(hosts={name: tls_origin_443.host for name in LAB_HOSTS})))
    proxy.start()
    yield proxy
    proxy.stop(wait=False)


# -- dnsmasq ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def dnsmasq() -> Iterator[Dnsmasq]:
    server = _required(lambda: Dnsmasq(DnsConfig()))
    with server:
        yield server


@pytest.fixture(scope="session")
def dnsmasq53() -> Iterator[Dnsmasq]:
    if not is_root():
        pytest.fail("dnsmasq on port 53 needs root (squid can only query DNS on port 53); CI runs as root",
                    pytrace=False)
    server = _required(lambda: Dnsmasq(DnsConfig(), port=53))
    with server:
        yield server


@pytest.fixture
def dnsmasq_factory() -> Iterator[Callable[..., Dnsmasq]]:
    started: list[Dnsmasq] = []

    def make(config: DnsConfig | None = None, **kwargs: Any) -> Dnsmasq:
        server = _required(lambda: Dnsmasq(config, **kwargs))
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


# -- the DNS breakage lab (tests/infra/dns_lab.py) ------------------------------------------------------------
@pytest.fixture(scope="session")
def loop_zone() -> Iterator[Nsd]:
    server = _required(lambda: Nsd({"msappproxy.net": LOOP_ZONE}))
    with server:
        yield server


@pytest.fixture(scope="session")
def filtering_dns(loop_zone: Nsd) -> Iterator[Dnsmasq]:
    server = _required(lambda: Dnsmasq(filtering_config(loop_zone.address, loop_zone.port)))
    with server:
        yield server


@pytest.fixture(scope="session")
def validating_dns(filtering_dns: Dnsmasq) -> Iterator[Dnsmasq]:
    server = _required(lambda: Dnsmasq(validating_config(filtering_dns.address, filtering_dns.port)))
    with server:
        yield server


@pytest.fixture(scope="session")
def silent_dns_port() -> Iterator[int]:
    """A UDP port that is bound (so no ICMP 'port unreachable') but never answers: a DNS server that is gone."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


# -- failure helpers -------------------------------------------------------------------------------------------
@pytest.fixture
def stalled_proxy() -> Iterator[StalledProxy]:
    with StalledProxy() as proxy:
        yield proxy


@pytest.fixture
def canned_proxy_factory() -> Iterator[Callable[..., CannedProxy]]:
    started: list[CannedProxy] = []

    def make(*responses: CannedResponse, raw: bytes | None = None) -> CannedProxy:
        proxy = CannedProxy(*responses, raw=raw)
        started.append(proxy)
        return proxy.start()

    yield make
    for proxy in started:
        proxy.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    with ClosedPort() as held:
        yield held.port


# -- Samba AD domain controller (the `ad` command) ----------------------------------------------------------------
@dataclass(frozen=True)
class SambaDcs:
    """Two DC processes over one provisioned domain, each on a random free 127.x.y.z: `plain` and `strong` (`ldap
    server require strong auth = yes`). Provisioned once per session (~11 s idle, ~20 s on a busy machine)."""

    plain: SambaDC
    strong: SambaDC
    startup_seconds: float


@pytest.fixture(scope="session")
def samba_dcs() -> Iterator[SambaDcs]:
    import time

    start = time.monotonic()
    plain = SambaDC().prepare()
    strong = plain.clone()
    try:
        plain.start()
        strong.share_tls_from(plain)
        strong.start()
        yield SambaDcs(plain, strong, time.monotonic() - start)
    finally:
        strong.stop()
        plain.stop()


@pytest.fixture(scope="session")
def samba_dc(samba_dcs: SambaDcs) -> SambaDC:
    """The Samba AD DC (samba_dc.address): users in every logon state (tests/infra/samba.py USERS), AZUREADSSOACC
    with RC4 only and a key from 2026-01-01, lockout threshold 3. Its LDAPS CA: samba_dc.ca_file."""
    return samba_dcs.plain


@pytest.fixture(scope="session")
def samba_dc_strong(samba_dcs: SambaDcs) -> SambaDC:
    """The same domain on another address, refusing simple binds without TLS (strongerAuthRequired)."""
    return samba_dcs.strong
# -- real proxies of every kind ----------------------------------------------------------------------------------
def _save_log(name: str, log: Path) -> None:
    """Keep a proxy's access log for the proxylog tests when AADC_SAVE_PROXY_LOGS names a directory."""
    target = os.environ.get(SAVE_LOGS_ENV)
    if target and log.exists():
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, Path(target) / f"{name}.log")


class InspectionPki:
    """A two-tier inspection CA as corporate proxies use: a root, and an issuing CA that signs the forged leaves."""

    def __init__(self, directory: Path) -> None:
        self.root = make_named_ca("Contoso Inspection Root CA", "Contoso")
        self.issuing = make_named_ca("Contoso TLS Inspection Issuing CA", "Contoso", self.root, path_length=0)
        self.bundle = directory / "contoso-inspection-cas.pem"
        self.bundle.write_bytes(self.root.cert_pem.bytes() + self.issuing.cert_pem.bytes())


@pytest.fixture(scope="session")
def inspection_pki(tmp_path_factory: pytest.TempPathFactory) -> InspectionPki:
    return InspectionPki(tmp_path_factory.mktemp("inspection-pki"))


def _session_squid(name: str, config: SquidConfig) -> Iterator[SquidProxy]:
    proxy = _required(lambda: SquidProxy(config))
    proxy.start()
    yield proxy
    _save_log(name, proxy.access_log)
    proxy.stop(wait=False)


@pytest.fixture(scope="session")
def bump_squid(inspection_pki: InspectionPki, lab_ca: trustme.CA) -> Iterator[SquidProxy]:
    pki = inspection_pki
    files = {"signing.pem": pki.issuing.cert_pem.bytes() + pki.root.cert_pem.bytes(),
             "signing.key": pki.issuing.private_key_pem.bytes(), "origin-ca.pem": lab_ca.cert_pem.bytes()}
    certgen = _required(lambda: find_squid_helper("security_file_certgen"))
    config = SquidConfig(
        allowed_domains=None, visible_hostname="bump-proxy.contoso.test", files=files, ssl_db=True,
        open_port_options="ssl-bump tls-cert={workdir}/signing.pem tls-key={workdir}/signing.key "
                          "generate-host-certificates=on dynamic_cert_mem_cache_size=4MB",
        extra_directives=[f"sslcrtd_program {certgen} -s {{workdir}}/ssl_db -M 4MB", "sslcrtd_children 2 startup=1",
                          "tls_outgoing_options cafile={workdir}/origin-ca.pem",
                          "acl step1 at_step SslBump1", "acl splice_hosts ssl::server_name .msappproxy.net",
                          "ssl_bump peek step1", "ssl_bump splice splice_hosts", "ssl_bump bump all"])
    yield from _session_squid("squid-ssl-bump", config)


@pytest.fixture(scope="session")
def deny_squid() -> Iterator[SquidProxy]:
    config = SquidConfig(allowed_domains=None, visible_hostname="deny-proxy.contoso.test", extra_directives=[
        "acl redirect_hosts dstdomain aadcdn.msauth.net crl3.digicert.com",
        "acl reset_hosts dstdomain aadcdn.msftauth.net secure.aadcdn.microsoftonline-p.com crl4.digicert.com",
        "deny_info 302:http://block.contoso.test/blocked?url=%u redirect_hosts",
        "deny_info TCP_RESET reset_hosts",
        "http_access deny redirect_hosts", "http_access deny reset_hosts"])
    yield from _session_squid("squid-deny-info", config)


@pytest.fixture(scope="session")
def parent_squid() -> Iterator[SquidProxy]:
    config = SquidConfig(allowed_domains=None, denied_domains=(".msftauth.net", "crl4.digicert.com"),
                         visible_hostname="parent-proxy.fabrikam.test")
    yield from _session_squid("squid-parent", config)


def _child_of(port: int) -> SquidConfig:
    return SquidConfig(allowed_domains=None, visible_hostname="child-proxy.contoso.test", extra_directives=[
        f"cache_peer 127.0.0.1 parent {port} 0 no-query default name=upstream", "never_direct allow all"])


@pytest.fixture(scope="session")
def child_squid(parent_squid: SquidProxy) -> Iterator[SquidProxy]:
    yield from _session_squid("squid-child", _child_of(parent_squid.open_port))


@pytest.fixture(scope="session")
def orphan_squid() -> Iterator[SquidProxy]:
    with ClosedPort() as down:
        yield from _session_squid("squid-parent-down", _child_of(down.port))


def _session_tinyproxy(name: str, config: TinyproxyConfig) -> Iterator[Tinyproxy]:
    proxy = _required(lambda: Tinyproxy(config))
    proxy.start()
    yield proxy
    _save_log(name, proxy.log_path)
    proxy.stop()


@pytest.fixture(scope="session")
def tinyproxy_denylist() -> Iterator[Tinyproxy]:
    yield from _session_tinyproxy("tinyproxy-denylist", TinyproxyConfig(filter=[r"msftauth\.net$"]))


@pytest.fixture(scope="session")
def tinyproxy_allowlist() -> Iterator[Tinyproxy]:
    config = TinyproxyConfig(filter=[r"microsoftonline\.com$", r"digicert\.com$"], filter_default_deny=True,
                             basic_auth={"alice": "s3cret"})
    yield from _session_tinyproxy("tinyproxy-allowlist-auth", config)


@pytest.fixture(scope="session")
def tinyproxy_connectport() -> Iterator[Tinyproxy]:
    yield from _session_tinyproxy("tinyproxy-connectport", TinyproxyConfig(connect_ports=[563]))


@pytest.fixture(scope="session")
def mitmproxy(lab_ca_file: Path) -> Iterator[Mitmproxy]:
    proxy = _required(lambda: Mitmproxy(MitmConfig(lab_ca_file, ignore_hosts=[r"msappproxy\.net"])))
    proxy.start()
    yield proxy
    _save_log("mitmproxy", proxy.output)
    proxy.stop()
