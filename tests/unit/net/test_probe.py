"""One probe, each failure layer: the outcome code, the layer, and a bounded time. Small local fakes only."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from tests.infra import CannedProxy, CannedResponse, ClosedPort, StalledProxy, TlsOrigin
from tests.infra.certs import issue_server_cert, make_ca, write_ca_pem

from aadc_doctor.json_data import to_json_data
from aadc_doctor.net.outcome import EndpointResult, EndpointTarget, Outcome, Phase
from aadc_doctor.net.probe import ProbeSettings, ProxyRoute, probe_endpoint
from aadc_doctor.net.proxy_auth import ProxyAuthSettings
from aadc_doctor.net.resolve import Resolver, parse_resolve_option
from aadc_doctor.net.tls import TrustConfig, build_trust

HOST = "login.microsoftonline.com"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return make_ca("Probe Unit CA")


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ca_pem(ca, tmp_path_factory.mktemp("pki") / "ca.pem")


@pytest.fixture(scope="module")
def origin(ca: trustme.CA) -> Iterator[TlsOrigin]:
    with TlsOrigin(ca, [HOST]) as server:
        yield server


def _target(port: int, host: str = HOST, scheme: str = "https", rule: str | None = "microsoftonline") -> EndpointTarget:
    return EndpointTarget(f"{scheme}://{host}:{port}/", host, port, scheme, "/", scheme, ("sync",), rule,
                          "*.microsoftonline.com" if rule else None)


def _settings(ca_file: Path | None, timeout: float = 3.0, trust: TrustConfig | None = None,
              expected: frozenset[str] = frozenset()) -> ProbeSettings:
    return ProbeSettings(Resolver(), trust or build_trust(None, str(ca_file) if ca_file else None), timeout=timeout,
                         expected_issuer_organizations=expected)


def _probe(target: EndpointTarget, proxy: str | None, settings: ProbeSettings) -> EndpointResult:
    route = ProxyRoute.from_url(proxy) if proxy else None
    return asyncio.run(probe_endpoint(target, route, settings))


def _direct(port: int) -> EndpointTarget:
    """Direct probes resolve the real name through --resolve to the local origin."""
    return _target(port)


def _direct_settings(ca_file: Path | None, port: int, *, timeout: float = 3.0, trust: TrustConfig | None = None,
                     expected: frozenset[str] = frozenset()) -> ProbeSettings:
    base = _settings(ca_file, timeout, trust, expected)
    resolver = Resolver.build([parse_resolve_option(f"{HOST}:{port}:127.0.0.1")])
    return ProbeSettings(resolver, base.trust, base.auth, base.timeout, base.expected_issuer_organizations)


def test_direct_ok_records_every_layer(origin: TlsOrigin, ca_file: Path) -> None:
    result = _probe(_direct(origin.port), None, _direct_settings(ca_file, origin.port))
    assert result.outcome is Outcome.OK and result.http_status == 200 and result.phase is None
    assert result.tls is not None and result.tls.verified and result.tls.trust == "lab-root"
    assert result.tls.issuer_organization == "Probe Unit CA"
    phases = result.phases
    assert None not in (phases.dns_ms, phases.tcp_ms, phases.tls_ms, phases.http_ms) and phases.connect_ms is None
    assert result.dns is not None and result.dns.source == "--resolve"


def test_direct_closed_port_is_refused(ca_file: Path) -> None:
    with ClosedPort() as closed:
        result = _probe(_direct(closed.port), None, _direct_settings(ca_file, closed.port))
    assert (result.outcome, result.phase) == (Outcome.TCP_REFUSED, Phase.TCP)


def test_proxy_on_closed_port_is_unreachable(origin: TlsOrigin, ca_file: Path) -> None:
    with ClosedPort() as closed:
        result = _probe(_target(origin.port), f"http://127.0.0.1:{closed.port}", _settings(ca_file))
    assert (result.outcome, result.phase) == (Outcome.PROXY_UNREACHABLE, Phase.TCP)
    assert "cannot connect to the proxy" in (result.error or "")


@pytest.mark.parametrize("response, outcome, tag", [
    (CannedResponse(502, "Bad Gateway", {"X-Squid-Error": "ERR_CONNECT_FAIL 111"}), Outcome.PROXY_ERROR,
     "ERR_CONNECT_FAIL 111"),
    (CannedResponse(403, "Forbidden"), Outcome.PROXY_FORBIDDEN, None),
    (CannedResponse(407, "Proxy Authentication Required", {"Proxy-Authenticate": "Negotiate"}),
     Outcome.PROXY_AUTH_REQUIRED, None),
])
def test_proxy_answers_to_connect(response: CannedResponse, outcome: Outcome, tag: str | None, ca_file: Path) -> None:
    with CannedProxy(response) as proxy:
        result = _probe(_target(443), proxy.url, _settings(ca_file))
        assert proxy.requests[0].startswith(f"CONNECT {HOST}:443 HTTP/1.1")
    assert (result.outcome, result.phase, result.connect_status) == (outcome, Phase.CONNECT, response.status)
    assert result.proxy_error == tag
    if outcome is Outcome.PROXY_AUTH_REQUIRED:
        assert result.proxy_authenticate == ("Negotiate",) and result.proxy_auth_challenged
        assert "needs --proxy-user" in (result.error or "") or "signed-in" in (result.error or "")


def test_non_http_proxy_is_a_proxy_error(ca_file: Path) -> None:
    with CannedProxy(raw=b"SSH-2.0-OpenSSH_9.2\r\n\r\n") as proxy:
        result = _probe(_target(443), proxy.url, _settings(ca_file))
    assert result.outcome is Outcome.PROXY_ERROR and "not an HTTP answer" in (result.error or "")


def test_a_proxy_answering_with_bare_lf_line_ends_is_understood(ca_file: Path) -> None:
    with CannedProxy(raw=b"HTTP/1.0 403 Forbidden\nX-Squid-Error: ERR_ACCESS_DENIED 0\n\n") as proxy:
        result = _probe(_target(443), proxy.url, _settings(ca_file))
    assert (result.outcome, result.connect_status, result.proxy_error) == \
        (Outcome.PROXY_FORBIDDEN, 403, "ERR_ACCESS_DENIED 0")


def test_a_non_http_service_that_stays_open_is_a_proxy_error_at_once(ca_file: Path) -> None:
    """The proxy setting names an FTP or SMTP port: it answers a line and waits. Not 'did not answer'."""
    async def go() -> tuple[EndpointResult, float]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"220 relay.contoso.com ESMTP ready\r\n")
            while line := await reader.readline():
                writer.write(b"500 5.5.1 Command unrecognized: " + line)
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        start = time.monotonic()
        async with server:
            route = ProxyRoute.from_url(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
            result = await probe_endpoint(_target(443), route, _settings(ca_file, timeout=2.0))
        return result, time.monotonic() - start

    result, elapsed = asyncio.run(go())
    assert (result.outcome, result.phase) == (Outcome.PROXY_ERROR, Phase.CONNECT)
    assert "not an HTTP answer: '220 relay.contoso.com ESMTP ready'" in (result.error or "")
    assert elapsed < 1.0


def test_stalled_proxy_times_out_at_connect_within_the_limit(ca_file: Path) -> None:
    with StalledProxy() as proxy:
        start = time.monotonic()
        result = _probe(_target(443), proxy.url, _settings(ca_file, timeout=0.5))
        elapsed = time.monotonic() - start
        assert proxy.connections == 1
    assert (result.outcome, result.phase) == (Outcome.TIMEOUT, Phase.CONNECT)
    assert elapsed < 1.5


def test_stalled_tls_handshake_times_out_at_tls(ca: trustme.CA, ca_file: Path) -> None:
    with TlsOrigin(ca, [HOST], stall="handshake") as stalled:
        result = _probe(_direct(stalled.port), None, _direct_settings(ca_file, stalled.port, timeout=0.5))
    assert (result.outcome, result.phase) == (Outcome.TIMEOUT, Phase.TLS)


def test_untrusted_issuer_is_interception_naming_the_issuer(ca_file: Path) -> None:
    other = make_ca("Contoso Inspection CA")
    with TlsOrigin(other, [HOST]) as inspected:
        result = _probe(_direct(inspected.port), None, _direct_settings(ca_file, inspected.port))
    assert (result.outcome, result.phase) == (Outcome.TLS_INTERCEPTED, Phase.TLS)
    assert result.tls is not None and result.tls.issuer_organization == "Contoso Inspection CA"
    assert "Contoso Inspection CA" in (result.error or "")


def test_a_public_microsoft_ca_the_machine_lacks_is_a_root_store_failure_not_interception(ca_file: Path) -> None:
    """An old server without DigiCert Global Root G2 (automatic root updates off) sees Microsoft's real chain as
    untrusted; calling that interception sends the admin hunting for a proxy that does not exist."""
    public = make_ca("DigiCert Inc")  # the issuer Microsoft's endpoints use, absent from this machine's store
    with TlsOrigin(public, [HOST]) as endpoint:
        settings = _direct_settings(ca_file, endpoint.port, expected=frozenset({"digicert inc"}))
        result = _probe(_direct(endpoint.port), None, settings)
        custom = _probe(_target(endpoint.port, rule=None), None, settings)
    assert (result.outcome, result.phase) == (Outcome.TLS_FAILURE, Phase.TLS)
    assert "trusted root" in (result.error or "") and "DigiCert Inc" in (result.error or "")
    assert result.tls is not None and result.tls.trust == "untrusted-issuer"
    assert custom.outcome is Outcome.TLS_INTERCEPTED  # not a catalog host: no expectation about its CA


def test_wrong_name_is_interception(ca: trustme.CA, ca_file: Path) -> None:
    with TlsOrigin(cert=issue_server_cert(ca, ["proxy.contoso.com"])) as wrong:
        result = _probe(_direct(wrong.port), None, _direct_settings(ca_file, wrong.port))
    assert result.outcome is Outcome.TLS_INTERCEPTED and "proxy.contoso.com" in (result.error or "")


def test_expired_certificate_is_a_tls_failure(ca: trustme.CA, ca_file: Path) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    cert = issue_server_cert(ca, [HOST], not_before=past - dt.timedelta(days=30), not_after=past)
    with TlsOrigin(cert=cert) as expired:
        result = _probe(_direct(expired.port), None, _direct_settings(ca_file, expired.port))
    assert (result.outcome, result.phase) == (Outcome.TLS_FAILURE, Phase.TLS)
    assert result.tls is not None and result.tls.trust == "expired"


def test_machine_trusted_inspection_ca_is_caught_by_its_chain(origin: TlsOrigin, ca_file: Path) -> None:
    """Rule 1: verified through the system store, but the chain holds none of Microsoft's roots."""
    verifying = ssl.create_default_context(cafile=str(ca_file))
    plain = build_trust(None)
    trust = TrustConfig(verifying, plain.unverified, frozenset())  # the CA is "in the machine store"
    settings = _direct_settings(None, origin.port, trust=trust)
    result = _probe(_direct(origin.port), None, settings)
    assert result.outcome is Outcome.TLS_INTERCEPTED
    assert "this machine trusts that CA (this machine's trusted root store)" in (result.error or "")
    assert result.tls is not None and result.tls.microsoft_chain is False and result.tls.trust == "system"
    custom = _probe(_target(origin.port, rule=None), None, settings)
    assert custom.outcome is Outcome.OK  # not a catalog host: no expectation about its CA


def test_ca_file_only_adds_trust_it_never_makes_a_ca_microsofts(origin: TlsOrigin, ca_file: Path) -> None:
    """--ca-file: the chain verifies (trust "ca-file"), but a catalog host behind it is still intercepted."""
    settings = _direct_settings(None, origin.port, trust=build_trust(str(ca_file)))
    result = _probe(_direct(origin.port), None, settings)
    assert result.outcome is Outcome.TLS_INTERCEPTED
    assert result.tls is not None and result.tls.verified and result.tls.trust == "ca-file"
    assert f"this machine trusts that CA (--ca-file {ca_file})" in (result.error or "")
    assert result.tls.root_sha256 is not None and result.tls.root == "Probe Unit CA"
    custom = _probe(_target(origin.port, rule=None), None, settings)
    assert custom.outcome is Outcome.OK


def test_a_slow_trust_store_load_does_not_stall_the_deadline(origin: TlsOrigin, ca_file: Path) -> None:
    """The system store loads in a thread; a probe waiting for it must still stop at its own deadline, and its
    giving up must not cancel the load the other probes share."""
    def slow_store() -> ssl.SSLContext:
        time.sleep(1.0)
        return ssl.create_default_context(cafile=str(ca_file))

    lab = build_trust(None, str(ca_file))
    trust = TrustConfig(slow_store, lab.unverified, frozenset(), lab_root_fingerprints=lab.lab_root_fingerprints)
    start = time.monotonic()
    first = _probe(_direct(origin.port), None, _direct_settings(None, origin.port, timeout=0.3, trust=trust))
    elapsed = time.monotonic() - start
    assert (first.outcome, first.phase) == (Outcome.TIMEOUT, Phase.TLS)
    assert elapsed < 0.8
    later = _probe(_direct(origin.port), None, _direct_settings(None, origin.port, timeout=3.0, trust=trust))
    assert later.outcome is Outcome.OK


def test_server_error_from_the_origin_is_http_error(ca: trustme.CA, ca_file: Path) -> None:
    from tests.infra import Route

    with TlsOrigin(ca, [HOST], default_route=Route(503, b"down")) as failing:
        result = _probe(_direct(failing.port), None, _direct_settings(ca_file, failing.port))
    assert (result.outcome, result.http_status) == (Outcome.HTTP_ERROR, 503)


def test_https_proxy_is_reached_over_tls(ca: trustme.CA, ca_file: Path) -> None:
    """An https:// proxy URL: TLS to the proxy first (verified), then CONNECT inside it."""
    with TlsOrigin(ca, ["localhost"]) as not_a_proxy:  # an HTTPS server that does not implement CONNECT
        result = _probe(_target(443), f"https://localhost:{not_a_proxy.port}", _settings(ca_file))
        assert not_a_proxy.tls_errors == []
    assert (result.outcome, result.connect_status) == (Outcome.PROXY_ERROR, 501)


def test_negotiate_sends_a_token_and_reports_the_rejection(ca_file: Path) -> None:
    challenge = CannedResponse(407, "Proxy Authentication Required", {"Proxy-Authenticate": "Negotiate"})
    settings = ProbeSettings(Resolver(), build_trust(None, str(ca_file)),
                             ProxyAuthSettings(user="CONTOSO\\bob", password="pw"), timeout=3.0)
    with CannedProxy(challenge) as proxy:
        result = _probe(_target(443), proxy.url, settings)
        assert len(proxy.requests) == 2 and "Proxy-Authorization" not in proxy.requests[0]
        assert "Proxy-Authorization: Negotiate " in proxy.requests[1]
    assert (result.outcome, result.proxy_auth_scheme) == (Outcome.PROXY_AUTH_REQUIRED, "Negotiate")


def test_credentials_are_resent_on_a_new_connection_when_the_proxy_closed_after_its_407(ca_file: Path) -> None:
    """HTTP/1.1 407 without 'Connection: close', then the proxy closes anyway (allowed): reconnect, as curl does."""
    challenge = CannedResponse(407, "Proxy Authentication Required", {"Proxy-Authenticate": 'Basic realm="x"'})
    quiet_close = challenge.wire().replace(b"Connection: close\r\n", b"")
    refusal = CannedResponse(403, "Forbidden", {"X-Squid-Error": "ERR_ACCESS_DENIED 0"}).wire()

    async def go() -> tuple[EndpointResult, list[bytes]]:
        heads: list[bytes] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(refusal if b"Proxy-Authorization" in heads[-1] else quiet_close)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        settings = ProbeSettings(Resolver(), build_trust(None, str(ca_file)),
                                 ProxyAuthSettings(user="alice", password="pw"), timeout=3.0)
        async with server:
            result = await probe_endpoint(_target(443), ProxyRoute.from_url(f"http://127.0.0.1:{port}"), settings)
        return result, heads

    result, heads = asyncio.run(go())
    assert (result.outcome, result.connect_status, result.proxy_auth_scheme) == \
        (Outcome.PROXY_FORBIDDEN, 403, "Basic")
    assert b"Proxy-Authorization: Basic " in heads[-1]


def test_proxy_auth_none_never_sends_credentials(ca_file: Path) -> None:
    challenge = CannedResponse(407, "Proxy Authentication Required", {"Proxy-Authenticate": 'Basic realm="x"'})
    settings = ProbeSettings(Resolver(), build_trust(None, str(ca_file)),
                             ProxyAuthSettings(mode="none", user="alice", password="pw"), timeout=3.0)
    with CannedProxy(challenge) as proxy:
        result = _probe(_target(443), proxy.url, settings)
        assert len(proxy.requests) == 1
    assert result.outcome is Outcome.PROXY_AUTH_REQUIRED and "turned off" in (result.error or "")


# -- --connect-to (curl semantics) -------------------------------------------------------------------------

def _connect_to_settings(ca_file: Path, dial: tuple[str, int], *, resolver: Resolver | None = None,
                         key: tuple[str, int] = (HOST, 443)) -> ProbeSettings:
    return ProbeSettings(resolver or Resolver(), build_trust(None, str(ca_file)), timeout=3.0, connect_to={key: dial})


def test_connect_to_dials_elsewhere_but_keeps_the_name(origin: TlsOrigin, ca_file: Path) -> None:
    """https://login.microsoftonline.com/ (port 443) lands on the origin's high port; SNI, verification, Host keep
    the real name."""
    before = len(origin.requests)
    result = _probe(_target(443), None, _connect_to_settings(ca_file, ("127.0.0.1", origin.port)))
    assert result.outcome is Outcome.OK, result.error
    assert result.connect_to == f"127.0.0.1:{origin.port}" and to_json_data(result)["connect_to"] == result.connect_to
    assert result.tls is not None and result.tls.verified and HOST in result.tls.names
    assert origin.requests[before].host == HOST  # no port: the URL's port is the default 443


def test_connect_to_host_is_resolved_at_the_connect_to_port(origin: TlsOrigin, ca_file: Path) -> None:
    """As curl: a --resolve entry for HOST2:PORT2 applies to the connect-to destination."""
    resolver = Resolver.build([parse_resolve_option(f"node1.lab.test:{origin.port}:127.0.0.1")])
    result = _probe(_target(443), None, _connect_to_settings(ca_file, ("node1.lab.test", origin.port),
                                                             resolver=resolver))
    assert result.outcome is Outcome.OK, result.error
    assert result.dns is not None and (result.dns.name, result.dns.source) == ("node1.lab.test", "--resolve")


def test_connect_to_refused_names_the_destination(ca_file: Path) -> None:
    with ClosedPort() as closed:
        result = _probe(_target(443), None, _connect_to_settings(ca_file, ("127.0.0.1", closed.port)))
    assert (result.outcome, result.phase) == (Outcome.TCP_REFUSED, Phase.TCP)
    assert f"127.0.0.1:{closed.port}" in (result.error or "")


def test_connect_to_through_a_proxy_changes_the_connect_target(ca_file: Path) -> None:
    with CannedProxy(CannedResponse(403, "Forbidden")) as proxy:
        result = _probe(_target(443), proxy.url, _connect_to_settings(ca_file, ("10.1.2.3", 8443)))
        assert proxy.requests[0].startswith("CONNECT 10.1.2.3:8443 HTTP/1.1\r\nHost: 10.1.2.3:8443\r\n")
    assert result.outcome is Outcome.PROXY_FORBIDDEN and result.connect_to == "10.1.2.3:8443"


def test_connect_to_through_a_proxy_tunnels_plain_http_too(ca_file: Path) -> None:
    """curl sends CONNECT for an http:// URL when --connect-to applies through a proxy (checked with curl 7.88)."""
    target = _target(80, host="crl.microsoft.com", scheme="http", rule=None)
    settings = _connect_to_settings(ca_file, ("127.0.0.1", 9080), key=("crl.microsoft.com", 80))
    with CannedProxy(CannedResponse(403, "Forbidden")) as proxy:
        result = _probe(target, proxy.url, settings)
        assert proxy.requests[0].startswith("CONNECT 127.0.0.1:9080 HTTP/1.1")
    assert (result.outcome, result.phase) == (Outcome.PROXY_FORBIDDEN, Phase.CONNECT)


def test_connect_to_for_another_host_changes_nothing(ca_file: Path) -> None:
    with CannedProxy(CannedResponse(403, "Forbidden")) as proxy:
        result = _probe(_target(443), proxy.url,
                        _connect_to_settings(ca_file, ("127.0.0.1", 1), key=("graph.windows.net", 443)))
        assert proxy.requests[0].startswith(f"CONNECT {HOST}:443 HTTP/1.1")
    assert result.connect_to is None


# -- an https:// proxy URL for a proxy that speaks plain HTTP (a common typo) --------------------------------

def test_https_proxy_url_to_a_silent_plain_proxy_names_tls_not_tcp(ca_file: Path) -> None:
    """TCP to the proxy worked; the TLS handshake got no answer. Saying 'no TCP connection' sent admins to the
    firewall instead of to the typo in the scheme."""
    with StalledProxy() as proxy:
        result = _probe(_target(443), f"https://127.0.0.1:{proxy.port}", _settings(ca_file, timeout=0.5))
    assert (result.outcome, result.phase) == (Outcome.PROXY_UNREACHABLE, Phase.TCP)
    assert "no TCP connection" not in (result.error or "")
    assert "TLS handshake with the https:// proxy" in (result.error or "")
    assert f"--proxy http://127.0.0.1:{proxy.port}" in (result.error or "")


def test_https_proxy_url_to_a_plain_proxy_suggests_http(ca_file: Path) -> None:
    with CannedProxy(CannedResponse(400, "Bad Request")) as proxy:
        result = _probe(_target(443), f"https://127.0.0.1:{proxy.port}", _settings(ca_file, timeout=1.0))
    assert result.outcome is Outcome.PROXY_UNREACHABLE
    assert f"--proxy http://127.0.0.1:{proxy.port}" in (result.error or "")


def test_https_proxy_with_an_untrusted_certificate_asks_for_its_ca(ca_file: Path) -> None:
    with TlsOrigin(make_ca("Contoso Proxy CA"), ["localhost"]) as tls_proxy:
        result = _probe(_target(443), f"https://localhost:{tls_proxy.port}", _settings(ca_file))
    assert result.outcome is Outcome.PROXY_UNREACHABLE and "--ca-file" in (result.error or "")
    assert "plain HTTP" not in (result.error or "")


def test_rejected_credentials_lead_the_error_so_a_short_view_keeps_the_cause(ca_file: Path) -> None:
    """The table shows the first ~90 characters of the error: the cause must come before Squid's error tag."""
    challenge = CannedResponse(407, "Proxy Authentication Required",
                               {"Proxy-Authenticate": 'Basic realm="x"', "X-Squid-Error": "ERR_CACHE_ACCESS_DENIED 0"})
    settings = ProbeSettings(Resolver(), build_trust(None, str(ca_file)),
                             ProxyAuthSettings(user="svc-aadsync", password="wrong"), timeout=3.0)
    with CannedProxy(challenge) as proxy:
        result = _probe(_target(443), proxy.url, settings)
    assert result.outcome is Outcome.PROXY_AUTH_REQUIRED
    error = result.error or ""
    assert error.startswith("the proxy rejected the Basic credentials: the proxy answered CONNECT with 407"), error
    assert "ERR_CACHE_ACCESS_DENIED 0" in error and "it offers Basic" in error


@pytest.mark.parametrize("url", ["http://alice:s3cr3t@[::1", "http://alice:s3cr3t@proxy:abc", "socks5://alice:s3cr3t@p:1"])
def test_a_bad_proxy_url_is_a_value_error_without_its_password(url: str) -> None:
    with pytest.raises(ValueError, match=r"alice:\*\*\*@") as failure:
        ProxyRoute.from_url(url)
    assert "s3cr3t" not in str(failure.value)


@pytest.mark.parametrize(("response", "outcome", "says"), [
    # RFC 9209: the proxy's policy refused, whatever the status code
    (CannedResponse(502, "Bad Gateway", {"Proxy-Status": 'corp-proxy; error=http_request_denied; details="policy"'}),
     Outcome.PROXY_FORBIDDEN, "Proxy-Status says http_request_denied"),
    (CannedResponse(502, "Bad Gateway", {"Proxy-Status": "corp-proxy; error=connection_refused"}),
     Outcome.PROXY_ERROR, "Proxy-Status says connection_refused"),
    (CannedResponse(307, "Temporary Redirect", {"Location": "https://block.example.test/denied"}),
     Outcome.PROXY_FORBIDDEN, "a redirect to https://block.example.test/denied: a block page"),
    (CannedResponse(451, "Unavailable For Legal Reasons"), Outcome.PROXY_FORBIDDEN, "451"),
])
def test_every_way_a_proxy_says_no_to_connect(response: CannedResponse, outcome: Outcome, says: str,
                                              ca_file: Path) -> None:
    with CannedProxy(response) as proxy:
        result = _probe(_target(443), proxy.url, _settings(ca_file))
    assert (result.outcome, result.phase) == (outcome, Phase.CONNECT)
    assert says in (result.error or "")


def test_a_proxy_closing_right_after_connect_is_a_denial(ca_file: Path) -> None:
    with CannedProxy(raw=b"") as proxy:
        result = _probe(_target(443), proxy.url, _settings(ca_file))
    assert (result.outcome, result.phase) == (Outcome.PROXY_FORBIDDEN, Phase.CONNECT)
    assert "closed the connection right after the CONNECT request" in (result.error or "")


def test_an_upstream_named_by_via_and_its_error_page(ca_file: Path) -> None:
    page = b"<html><p>Generated Sun, 06 Dec 2026 00:11:01 GMT by parent.fabrikam.test (squid/5.7)</p></html>"
    response = CannedResponse(403, "Forbidden", {"Via": "1.1 parent.fabrikam.test (squid/5.7), 1.1 child (squid)",
                                                 "X-Squid-Error": "ERR_ACCESS_DENIED 0"}, page)
    with CannedProxy(response) as proxy:
        result = _probe(_target(443), proxy.url, _settings(ca_file))
    assert (result.outcome, result.answered_by) == (Outcome.PROXY_FORBIDDEN, "parent.fabrikam.test")
    assert result.proxy_hops == ("parent.fabrikam.test", "child")


@pytest.mark.parametrize(("response", "outcome"), [
    (CannedResponse(403, "Forbidden"), Outcome.PROXY_FORBIDDEN),  # no proxy header at all
    (CannedResponse(302, "Found", {"Location": "http://block.example.test/"}), Outcome.PROXY_FORBIDDEN),
    (CannedResponse(200, "OK", {"Content-Type": "text/html"}, b"<html>Blocked by policy</html>"),
     Outcome.PROXY_FORBIDDEN),
    (CannedResponse(200, "OK", {"Content-Type": "application/ocsp-response"}, bytes.fromhex("30030a0106")),
     Outcome.OK),
])
def test_ocsp_through_a_proxy_is_ok_only_with_an_ocsp_response(response: CannedResponse, outcome: Outcome,
                                                               ca_file: Path) -> None:
    target = EndpointTarget("http://ocsp.digicert.com/", "ocsp.digicert.com", 80, "http", "/", "ocsp", ("sync",),
                            "ocsp-ocsp-digicert-com", "ocsp.digicert.com")
    with CannedProxy(response) as proxy:
        result = _probe(target, proxy.url, _settings(ca_file))
        sent = proxy.requests[0]
    assert result.outcome is outcome, result.error
    assert sent.startswith("POST http://ocsp.digicert.com/ HTTP/1.1") and "application/ocsp-request" in sent
