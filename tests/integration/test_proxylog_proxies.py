"""`aadc-doctor proxylog` on the logs real proxies wrote: Squid (native and combined), squid-openssl with ssl_bump,
a Squid behind a parent Squid that denies, and tinyproxy (Filter, ConnectPort, BasicAuth, an upstream proxy).

Traffic is real: curl through each proxy to TLS and HTTP origins on a spare 127.x.y.z (ports 443 and 80, the real
endpoint names mapped there by Squid's hosts file), from distinct loopback source addresses so that the Azure AD
Connect server, a browser and a probe run are different clients, as on a real network. Every proxy is started once
per session; each scenario's log is read whole, and its findings are asserted exactly. A healthy network gives zero
findings through every proxy.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import trustme
from tests.infra import (
    LAB_HOSTS,
    MICROSOFT_HOSTS,
    ClosedPort,
    HttpOrigin,
    Route,
    SquidConfig,
    SquidProxy,
    TlsOrigin,
    spare_loopback_address,
    write_ca_pem,
)
from tests.infra.squid_bump import BumpingSquid, parent_directives
from tests.infra.tinyproxy import Tinyproxy, TinyproxyConfig
from tests.infra.tools import ComponentMissing, find_tool, is_root

pytestmark = pytest.mark.integration

SERVER = "127.0.0.5"  # the Azure AD Connect server
BROWSER = "127.0.0.9"
PROBE = "127.0.0.7"  # one run of a connectivity probe: every endpoint once, at the same time
PROVISIONING = "provisioningapi.microsoftonline.com"
# The article's "Connect to Azure AD" page, as the wizard calls it
CONNECT_PHASE = ["login.microsoftonline.com", "adminwebservice.microsoftonline.com",
                 "bba800-anchor.microsoftonline.com", "login.microsoftonline.com", PROVISIONING,
                 "bwsc02-relay.microsoftonline.com"]
TINYPROXY_AUTH = {"alice": "s3cret"}


def _started(make: Callable[[], Any]) -> Any:
    try:
        return make()
    except ComponentMissing as exc:
        pytest.fail(str(exc), pytrace=False)


# -- session-wide origins and proxies ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pl_address() -> str:
    if not is_root():
        pytest.fail("the origins listen on ports 80/443 of a spare 127.x.y.z and need root (CI runs as root)",
                    pytrace=False)
    return spare_loopback_address(tcp_ports=(80, 443))


@pytest.fixture(scope="session")
def pl_origins(lab_ca: trustme.CA, pl_address: str) -> Iterator[str]:
    """HTTPS on 443 (200 to anything) and plain HTTP on 80 answering 400, like a login page asked a bare GET."""
    with TlsOrigin(lab_ca, LAB_HOSTS, host=pl_address, port=443), \
            HttpOrigin(default_route=Route(400, b"Bad Request\n"), host=pl_address, port=80):
        yield pl_address


def _hosts(address: str) -> dict[str, str]:
    return {name: address for name in LAB_HOSTS}


@pytest.fixture(scope="session")
def healthy_squid(pl_origins: str) -> Iterator[SquidProxy]:
    proxy = _started(lambda: SquidProxy(SquidConfig(hosts=_hosts(pl_origins), extra_logs={"combined": "combined"})))
    proxy.start()
    yield proxy
    proxy.stop(wait=False)


@pytest.fixture(scope="session")
def parent_squid(pl_origins: str) -> Iterator[SquidProxy]:
    """The corporate parent: denies provisioningapi (the child's own rules allow it)."""
    proxy = _started(lambda: SquidProxy(SquidConfig(hosts=_hosts(pl_origins), denied_domains=[PROVISIONING])))
    proxy.start()
    yield proxy
    proxy.stop(wait=False)


@pytest.fixture(scope="session")
def child_squid(parent_squid: SquidProxy) -> Iterator[SquidProxy]:
    proxy = _started(lambda: SquidProxy(SquidConfig(extra_directives=parent_directives(parent_squid),
                                                    extra_logs={"combined": "combined"})))
    proxy.start()
    yield proxy
    proxy.stop(wait=False)


@pytest.fixture(scope="session")
def bumping_squid(pl_origins: str, inspecting_ca: trustme.CA, lab_ca: trustme.CA) -> Iterator[BumpingSquid]:
    """TLS inspection: bumps every tunnel except login.windows.net (spliced)."""
    proxy = _started(lambda: BumpingSquid(SquidConfig(hosts=_hosts(pl_origins)), inspecting_ca, lab_ca,
                                          splice=["login.windows.net"]))
    proxy.start()
    yield proxy
    proxy.stop(wait=False)


@pytest.fixture(scope="session")
def deny_info_squid(pl_origins: str) -> Iterator[SquidProxy]:
    """Squid saying no without a 403, as check's scenarios set it up: a deny_info redirect to a block page for
    some hosts, TCP_RESET for others."""
    config = SquidConfig(hosts=_hosts(pl_origins), allowed_domains=None, extra_directives=[
        "acl redirect_hosts dstdomain aadcdn.msauth.net crl3.digicert.com",
        "acl reset_hosts dstdomain aadcdn.msftauth.net crl4.digicert.com",
        "deny_info 302:http://block.contoso.test/blocked?url=%u redirect_hosts",
        "deny_info TCP_RESET reset_hosts",
        "http_access deny redirect_hosts", "http_access deny reset_hosts"])
    proxy = _started(lambda: SquidProxy(config))
    proxy.start()
    yield proxy
    proxy.stop(wait=False)


@pytest.fixture(scope="session")
def parentless_squid() -> Iterator[SquidProxy]:
    """A Squid whose only way out is a parent proxy that is down."""
    with ClosedPort() as down:
        proxy = _started(lambda: SquidProxy(SquidConfig(allowed_domains=None, extra_directives=[
            f"cache_peer 127.0.0.1 parent {down.port} 0 no-query default name=upstream", "never_direct allow all"])))
        proxy.start()
        yield proxy
        proxy.stop(wait=False)


@pytest.fixture(scope="session")
def healthy_tinyproxy(healthy_squid: SquidProxy) -> Iterator[Tinyproxy]:
    proxy = _started(lambda: Tinyproxy(TinyproxyConfig(basic_auth=TINYPROXY_AUTH,
                                                       upstream=f"127.0.0.1:{healthy_squid.open_port}")))
    with proxy:
        yield proxy


@pytest.fixture(scope="session")
def strict_tinyproxy(healthy_squid: SquidProxy) -> Iterator[Tinyproxy]:
    """Filter denies provisioningapi, CONNECT only to 443, BasicAuth."""
    proxy = _started(lambda: Tinyproxy(TinyproxyConfig(filter=[r"^provisioningapi\.microsoftonline\.com$"],
                                                       connect_ports=(443,), basic_auth=TINYPROXY_AUTH,
                                                       upstream=f"127.0.0.1:{healthy_squid.open_port}")))
    with proxy:
        yield proxy


@pytest.fixture(scope="session")
def ca_bundle(lab_ca: trustme.CA, inspecting_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both CAs: curl completes bumped (inspecting CA) and spliced (lab CA) connections alike."""
    folder = tmp_path_factory.mktemp("proxylog-pki")
    lab = write_ca_pem(lab_ca, folder / "lab.pem").read_text()
    inspecting = write_ca_pem(inspecting_ca, folder / "inspecting.pem").read_text()
    bundle = folder / "bundle.pem"
    bundle.write_text(lab + inspecting)
    return bundle


# -- traffic ---------------------------------------------------------------------------------------------------
def curl(proxy: str, url: str, *, source: str, ca: Path) -> str:
    """One request through `proxy` from loopback address `source`; the HTTP code curl saw ("000": none)."""
    done = subprocess.run([find_tool("curl"), "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
                           "--interface", source, "-x", proxy, "--cacert", str(ca), url],
                          capture_output=True, text=True, timeout=30)
    return done.stdout


def wizard(proxy: str, ca: Path, hosts: Sequence[str] = CONNECT_PHASE) -> list[str]:
    """The Azure AD Connect server's calls of one wizard page, in order."""
    return [curl(proxy, f"https://{host}/", source=SERVER, ca=ca) for host in hosts]


def probe_run(proxy: str, ca: Path) -> list[str]:
    """Every Microsoft endpoint at once, as a connectivity check does."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda h: curl(proxy, f"https://{h}/", source=PROBE, ca=ca), MICROSOFT_HOSTS))


def squid_lines(proxy: SquidProxy, count: int, log: str | None = None, timeout: float = 15.0) -> list[str]:
    """Wait until the log holds `count` request lines (Squid writes a tunnel's line when it closes)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in proxy.access_log_lines(log=log) if "error:transaction-end" not in line]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def proxylog(run_cli: Callable[..., Any], path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli("proxylog", "--json", *args, str(path))
    assert result.code in (0, 1), result.stderr
    return result.code, result.json()


def ids(report: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((f["id"], f["subject"]) for f in report["findings"])


# -- scenarios -------------------------------------------------------------------------------------------------
def test_healthy_squid_logs_give_no_finding(healthy_squid: SquidProxy, lab_ca_file: Path,
                                            run_cli: Callable[..., Any]) -> None:
    # Given: the server's wizard page, a browser's sign-in and a bare GET of a login page (the endpoint answers 400),
    # and one probe run of every endpoint, all through a proxy that allows them
    proxy = healthy_squid.url()
    assert wizard(proxy, lab_ca_file) == ["200"] * 6
    assert curl(proxy, "https://login.microsoftonline.com/", source=BROWSER, ca=lab_ca_file) == "200"
    assert curl(proxy, "http://login.microsoftonline.com/", source=BROWSER, ca=lab_ca_file) == "400"
    assert set(probe_run(proxy, lab_ca_file)) == {"200"}
    expected = 6 + 2 + len(MICROSOFT_HOSTS)
    assert len(squid_lines(healthy_squid, expected)) == expected
    assert len(squid_lines(healthy_squid, expected, log="combined")) == expected

    # When
    code, report = proxylog(run_cli, healthy_squid.access_log)
    combined_code, combined = proxylog(run_cli, healthy_squid.extra_log("combined"))

    # Then
    assert (code, ids(report)) == (0, [])
    r = report["results"]
    assert (r["format"], r["line_counts"]["bad"]) == ("squid", 0)
    assert r["phase_summary"] == {"client": SERVER, "reached": ["connect"], "stops_at": "configure"}
    login = next(e for e in r["endpoints"] if (e["host"], e["port"]) == ("login.microsoftonline.com", 80))
    assert (login["statuses"], login["failed"]) == ({"400": 1}, 0)
    assert (combined_code, ids(combined)) == (0, [])
    assert combined["results"]["format"] == "combined"
    assert combined["results"]["phase_summary"]["reached"] == ["connect"]


def test_a_parent_proxys_denial_names_the_parent(child_squid: SquidProxy, lab_ca_file: Path,
                                                 run_cli: Callable[..., Any]) -> None:
    # Given: the child proxy allows everything; its parent refuses provisioningapi (CONNECT and a plain GET)
    proxy = child_squid.url()
    assert wizard(proxy, lab_ca_file) == ["200", "200", "200", "200", "000", "200"]
    assert curl(proxy, f"http://{PROVISIONING}/", source=SERVER, ca=lab_ca_file) == "403"
    lines = squid_lines(child_squid, 7)
    assert len(lines) == 7 and sum("FIRSTUP_PARENT" in line and "/403 " in line for line in lines) == 2, lines
    assert len(squid_lines(child_squid, 7, log="combined")) == 7

    # When
    code, report = proxylog(run_cli, child_squid.access_log)
    combined_code, combined = proxylog(run_cli, child_squid.extra_log("combined"))

    # Then
    expected = [("proxylog-phase-stops", "Connect to Azure AD"), ("proxylog-required-denied", f"{PROVISIONING}:443")]
    assert (code, ids(report)) == (1, expected)
    denied = next(f for f in report["findings"] if f["id"] == "proxylog-required-denied")
    assert "parent proxy 127.0.0.1" in denied["detail"] and "127.0.0.1" in denied["remedy"]
    plain = next(e for e in report["results"]["endpoints"] if (e["host"], e["port"]) == (PROVISIONING, 80))
    assert (plain["denied"], plain["denied_by_parent"]) == (1, {"127.0.0.1": 1})
    assert (combined_code, ids(combined)) == (1, expected)


def test_tls_inspection_is_reported(bumping_squid: BumpingSquid, ca_bundle: Path,
                                    run_cli: Callable[..., Any]) -> None:
    # Given: the wizard's calls bumped (decrypted) by squid-openssl, login.windows.net spliced. Squid 5.7 logs about
    # a third of the tunnels it splices TCP_TUNNEL/500 although they worked (Squid bug 5274): splice until the log
    # holds such a line, so the report is read with it (20 tries: all fine by chance once in a thousand sessions)
    proxy = bumping_squid.url()
    assert wizard(proxy, ca_bundle) == ["200"] * 6
    spliced_500: list[str] = []
    for tries in range(1, 21):
        assert curl(proxy, "https://login.windows.net/", source=SERVER, ca=ca_bundle) == "200"
        # 6 x (CONNECT + GET https://), and 2 CONNECT lines per spliced tunnel (the peek, then the tunnel)
        lines = squid_lines(bumping_squid, 12 + 2 * tries)
        spliced_500 = [line for line in lines if "TCP_TUNNEL/500" in line]
        if spliced_500:
            break
    assert sum(" GET https://" in line for line in lines) == 6, lines
    assert all("login.windows.net:443" in line and "HIER_DIRECT/" in line for line in spliced_500), spliced_500

    # When
    code, report = proxylog(run_cli, bumping_squid.access_log)

    # Then
    hosts = ("login.microsoftonline.com, adminwebservice.microsoftonline.com, bba800-anchor.microsoftonline.com, "
             f"{PROVISIONING}, bwsc02-relay.microsoftonline.com")
    [finding] = report["findings"]
    assert (code, finding["id"], finding["severity"]) == (1, "proxylog-tls-decrypted", "error")
    assert set(finding["subject"].split(", ")) == set(hosts.split(", "))
    assert "6 requests" in finding["detail"]
    spliced = next(e for e in report["results"]["endpoints"] if e["host"] == "login.windows.net")
    assert (spliced["decrypted"], spliced["failed"], spliced["allowed"]) == (0, 0, spliced["requests"])
    assert spliced["tunnels_logged_500_after_transfer"] == len(spliced_500)


def test_healthy_tinyproxy_log_gives_no_finding(healthy_tinyproxy: Tinyproxy, lab_ca_file: Path,
                                                run_cli: Callable[..., Any]) -> None:
    # Given: the wizard's page and a probe run through tinyproxy (BasicAuth, an upstream Squid)
    proxy = healthy_tinyproxy.url_with("alice", "s3cret")
    assert wizard(proxy, lab_ca_file) == ["200"] * 6
    assert set(probe_run(proxy, lab_ca_file)) == {"200"}
    healthy_tinyproxy.wait_for_log("Closed connection between local client", count=6 + len(MICROSOFT_HOSTS))

    # When
    code, report = proxylog(run_cli, healthy_tinyproxy.log_path)

    # Then
    assert (code, ids(report)) == (0, [])
    r = report["results"]
    assert (r["format"], r["line_counts"]["bad"]) == ("tinyproxy", 0)
    assert r["phase_summary"] == {"client": SERVER, "reached": ["connect"], "stops_at": "configure"}
    assert r["records"] == 6 + len(MICROSOFT_HOSTS)


def test_tinyproxy_filter_connect_port_and_basic_auth(strict_tinyproxy: Tinyproxy, lab_ca_file: Path,
                                                      run_cli: Callable[..., Any]) -> None:
    # Given: the wizard's page (provisioningapi is on the Filter list), a CONNECT to a port outside ConnectPort,
    # and an account tinyproxy does not accept, three times
    proxy = strict_tinyproxy.url_with("alice", "s3cret")
    assert wizard(proxy, lab_ca_file) == ["200", "200", "200", "200", "000", "200"]
    assert curl(proxy, "https://login.microsoftonline.com:8443/", source=SERVER, ca=lab_ca_file) == "000"
    wrong = proxy.replace("s3cret", "wrong")
    assert [curl(wrong, "https://graph.windows.net/", source=BROWSER, ca=lab_ca_file) for _ in range(3)] == ["000"] * 3
    # tinyproxy logs no line for a 407: the next connection on the same descriptor closes the request
    assert curl(proxy, "https://login.windows.net/", source=SERVER, ca=lab_ca_file) == "200"
    strict_tinyproxy.wait_for_log("Closed connection between local client", count=6)

    # When
    code, report = proxylog(run_cli, strict_tinyproxy.log_path)

    # Then
    assert (code, ids(report)) == (1, [("proxylog-auth-failing", BROWSER),
                                       ("proxylog-phase-stops", "Connect to Azure AD"),
                                       ("proxylog-required-denied", "graph.windows.net:443"),
                                       ("proxylog-required-denied", f"{PROVISIONING}:443")])
    assert "and no request succeeded afterwards" in next(f for f in report["findings"]
                                                         if f["id"] == "proxylog-auth-failing")["detail"]
    endpoints = {(e["host"], e["port"]): e for e in report["results"]["endpoints"]}
    assert endpoints[(PROVISIONING, 443)]["statuses"] == {"403": 1}
    assert endpoints[("login.microsoftonline.com", 8443)]["statuses"] == {"403": 1}
    assert endpoints[("graph.windows.net", 443)]["statuses"] == {"407": 3}


def test_redirects_and_resets_are_denials_and_a_down_parent_fails_every_request(
        deny_info_squid: SquidProxy, parentless_squid: SquidProxy, lab_ca_file: Path,
        run_cli: Callable[..., Any]) -> None:
    # Given: a deny_info redirect (302 to a block page) and a TCP_RESET, to CONNECT and to a CRL download; and a
    # proxy whose parent is down (Squid's own 500/502, logged with HIER_NONE: no server was reached)
    deny = deny_info_squid.url()
    got = [curl(deny, url, source=SERVER, ca=lab_ca_file) for url in (
        "https://login.microsoftonline.com/", "https://aadcdn.msauth.net/", "https://aadcdn.msftauth.net/",
        "http://crl3.digicert.com/pki.crl", "http://crl4.digicert.com/pki.crl")]
    assert got == ["200", "000", "000", "302", "000"]
    assert len(squid_lines(deny_info_squid, 5)) == 5
    down = parentless_squid.url()
    got = [curl(down, url, source=SERVER, ca=lab_ca_file) for url in (
        "https://login.microsoftonline.com/", "https://graph.windows.net/", "http://crl3.digicert.com/pki.crl")]
    assert got == ["000", "000", "502"]
    lines = squid_lines(parentless_squid, 3)
    assert len(lines) == 3 and all("HIER_NONE/-" in line for line in lines), lines

    # When
    deny_code, denials = proxylog(run_cli, deny_info_squid.access_log)
    down_code, failures = proxylog(run_cli, parentless_squid.access_log)

    # Then: every way of saying no is a denial; Squid's own 500 is a failure (not a tunnel logged 500 by mistake)
    endpoints = {(e["host"], e["port"]): e for e in denials["results"]["endpoints"]}
    assert {k: (e["denied"], e["statuses"]) for k, e in endpoints.items() if e["denied"]} == {
        ("aadcdn.msauth.net", 443): (1, {"302": 1}), ("aadcdn.msftauth.net", 443): (1, {"0": 1}),
        ("crl3.digicert.com", 80): (1, {"302": 1}), ("crl4.digicert.com", 80): (1, {"0": 1})}
    assert deny_code == 1 and {i for i, _ in ids(denials)} == {"proxylog-required-denied"}
    assert {s for _, s in ids(denials)} == {f"{h}:{p}" for (h, p), e in endpoints.items()
                                            if e["denied"] and e["classification"] == "required"}
    down_rows = {(e["host"], e["port"]): e for e in failures["results"]["endpoints"]}
    assert {k: (e["failed"], e["statuses"], e["tunnels_logged_500_after_transfer"]) for k, e in down_rows.items()} == {
        ("login.microsoftonline.com", 443): (1, {"500": 1}, 0), ("graph.windows.net", 443): (1, {"500": 1}, 0),
        ("crl3.digicert.com", 80): (1, {"502": 1}, 0)}
    assert (down_code, ids(failures)) == (0, [("proxylog-required-failed", "crl3.digicert.com:80"),  # warnings
                                              ("proxylog-required-failed", "graph.windows.net:443"),
                                              ("proxylog-required-failed", "login.microsoftonline.com:443")])
