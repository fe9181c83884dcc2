"""The lab itself works: real squid, dnsmasq and TLS origins, driven with plain requests/sockets/dnspython.

If these fail, every product integration test built on the fixtures is meaningless, so they come first.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import ssl
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.resolver
import pytest
import requests
from cryptography import x509
from tests.infra import (
    ALLOWED_TEST_HOST,
    DENIED_TEST_HOST,
    MICROSOFT_CRL_PATH,
    NXDOMAIN_HOST,
    CannedResponse,
    ComponentMissing,
    Dnsmasq,
    HttpOrigin,
    Route,
    SquidConfig,
    SquidProxy,
    StalledProxy,
    TlsOrigin,
    issue_server_cert,
)
from tests.infra.tools import find_tool

LOGIN = "login.microsoftonline.com"


def _get(url: str, proxy: str, ca_file: Path, timeout: float = 10) -> requests.Response:
    """GET through `proxy`; `Connection: close` makes the origin end the tunnel, so squid logs it right away."""
    with requests.Session() as session:
        session.trust_env = False
        return session.get(url, proxies={"https": proxy, "http": proxy}, verify=str(ca_file), timeout=timeout,
                           headers={"Connection": "close"})


def _connect(proxy_port: int, target: str, extra_headers: str = "") -> tuple[int, dict[str, str]]:
    """Send a raw CONNECT and return (status, headers) of squid's answer."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=5) as sock:
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra_headers}\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("iso-8859-1").split("\r\n")
    status = int(head[0].split()[1])
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return status, headers


def test_connect_allowed_tunnels_to_tls_origin_and_is_logged(squid: SquidProxy, tls_origin: TlsOrigin,
                                                             lab_ca_file: Path) -> None:
    since = squid.log_offset()
    response = _get(tls_origin.url(LOGIN, "/common/discovery"), squid.url("open"), lab_ca_file)
    assert response.status_code == 200
    assert response.text == "ok\n"
    assert any(r.host == f"{LOGIN}:{tls_origin.port}" and r.path == "/common/discovery" for r in tls_origin.requests)
    line = squid.wait_for_log(rf"TCP_TUNNEL/200 \d+ CONNECT {LOGIN}:{tls_origin.port} ", since=since)
    assert "HIER_DIRECT/127.0.0.1" in line


def test_denied_host_gets_403(squid: SquidProxy, tls_origin: TlsOrigin, lab_ca_file: Path) -> None:
    since = squid.log_offset()
    with pytest.raises(requests.exceptions.ProxyError, match="403"):
        _get(tls_origin.url(DENIED_TEST_HOST), squid.url("open"), lab_ca_file)
    status, headers = _connect(squid.open_port, f"{DENIED_TEST_HOST}:{tls_origin.port}")
    assert status == 403
    assert headers["x-squid-error"].startswith("ERR_ACCESS_DENIED")
    squid.wait_for_log(rf"TCP_DENIED/403 \d+ CONNECT {DENIED_TEST_HOST}:{tls_origin.port} ", since=since)


def test_basic_port_407_then_200_with_credentials(squid: SquidProxy, tls_origin: TlsOrigin,
                                                   lab_ca_file: Path) -> None:
    status, headers = _connect(squid.basic_port, f"{LOGIN}:{tls_origin.port}")
    assert status == 407
    assert headers["proxy-authenticate"] == 'Basic realm="TestProxy"'
    with pytest.raises(requests.exceptions.ProxyError, match="407"):
        _get(tls_origin.url(LOGIN), squid.url("basic", "alice", "wrong"), lab_ca_file)
    since = squid.log_offset()
    assert _get(tls_origin.url(LOGIN), squid.url("basic", "alice", "s3cret"), lab_ca_file).status_code == 200
    squid.wait_for_log(rf"TCP_TUNNEL/200 \d+ CONNECT {LOGIN}:{tls_origin.port} alice ", since=since)


def test_ntlm_port_offers_only_ntlm(squid: SquidProxy, tls_origin: TlsOrigin) -> None:
    status, headers = _connect(squid.ntlm_port, f"{LOGIN}:{tls_origin.port}")
    assert status == 407
    assert headers["proxy-authenticate"] == "NTLM"


def test_ntlm_type1_gets_a_type2_challenge(squid: SquidProxy, tls_origin: TlsOrigin) -> None:
    type1 = "TlRMTVNTUAABAAAABoIIAAAAAAAAAAAAAAAAAAAAAAA="  # curl's NTLM negotiate message
    status, headers = _connect(squid.ntlm_port, f"{LOGIN}:{tls_origin.port}",
                               f"Proxy-Authorization: NTLM {type1}\r\n")
    assert status == 407
    assert headers["proxy-authenticate"].startswith("NTLM TlRMTVNTUAACAAAA")  # base64 of "NTLMSSP\0" + type 2


def test_port_outside_ssl_ports_is_403(squid_factory, tls_origin: TlsOrigin) -> None:  # type: ignore[no-untyped-def]
    proxy = squid_factory(ssl_ports=["443"])
    status, _ = _connect(proxy.open_port, f"{LOGIN}:{tls_origin.port}")
    assert status == 403


def test_auth_before_acl_gives_407_for_denied_host(squid_factory, tls_origin: TlsOrigin) -> None:  # type: ignore[no-untyped-def]
    proxy = squid_factory(auth_before_acl=True, allowed_domains=[LOGIN])
    assert _connect(proxy.basic_port, f"adminwebservice.microsoftonline.com:{tls_origin.port}")[0] == 407
    assert _connect(proxy.open_port, f"adminwebservice.microsoftonline.com:{tls_origin.port}")[0] == 403
    assert _connect(proxy.open_port, f"{LOGIN}:{tls_origin.port}")[0] == 200


def test_inspected_origin_chains_to_the_inspecting_ca(squid: SquidProxy, inspected_origin: TlsOrigin,
                                                     lab_ca_file: Path, inspecting_ca_file: Path) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        _get(inspected_origin.url(LOGIN), squid.url("open"), lab_ca_file)
    assert _get(inspected_origin.url(LOGIN), squid.url("open"), inspecting_ca_file).status_code == 200


def test_dnsmasq_cname_chain_into_nsatc(dnsmasq: Dnsmasq) -> None:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dnsmasq.address]
    resolver.port = dnsmasq.port
    resolver.lifetime = 3
    answer = resolver.resolve("adminwebservice.microsoftonline.com", "A")
    assert str(answer.canonical_name) == "bba800-anchor.microsoftonline.com.nsatc.net."
    assert [r.address for r in answer] == ["127.0.0.1"]
    chain = [str(rrset.name) for rrset in answer.response.answer]
    assert chain == ["adminwebservice.microsoftonline.com.", "bba800-anchor.microsoftonline.com.",
                     "bba800-anchor.microsoftonline.com.nsatc.net."]
    login = resolver.resolve(LOGIN, "A")
    assert str(login.canonical_name) == "login.microsoftonline.com.nsatc.net."


def test_dnsmasq_nxdomain_and_refused(dnsmasq: Dnsmasq) -> None:
    reply = dns.query.udp(dns.message.make_query(NXDOMAIN_HOST, "A"), dnsmasq.address, port=dnsmasq.port,
                          timeout=3)
    assert reply.rcode() == dns.rcode.NXDOMAIN
    reply = dns.query.udp(dns.message.make_query("www.example.org", "A"), dnsmasq.address, port=dnsmasq.port,
                          timeout=3)
    assert reply.rcode() == dns.rcode.REFUSED
    assert any(f"query[A] {NXDOMAIN_HOST}" in line for line in dnsmasq.query_log())


def test_squid_resolves_through_dnsmasq_on_port_53(squid_dns: SquidProxy, tls_origin: TlsOrigin,
                                                   lab_ca_file: Path) -> None:
    url = tls_origin.url("adminwebservice.microsoftonline.com", "/provisioningservice.svc")
    assert _get(url, squid_dns.url("open"), lab_ca_file).status_code == 200
    start = time.monotonic()
    status, headers = _connect(squid_dns.open_port, f"{NXDOMAIN_HOST}:{tls_origin.port}")
    assert time.monotonic() - start < 1.5
    assert (status, headers["x-squid-error"]) == (500, "ERR_CANNOT_FORWARD 0")  # as measured in test-infra.md


def test_stalled_proxy_times_out(stalled_proxy: StalledProxy, lab_ca_file: Path) -> None:
    start = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        _get(f"https://{LOGIN}/", stalled_proxy.url, lab_ca_file, timeout=0.5)
    assert time.monotonic() - start < 3
    assert stalled_proxy.connections == 1


def test_closed_port_refuses(closed_port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port), timeout=2)


def test_stalled_tls_handshake(tls_origin_factory) -> None:  # type: ignore[no-untyped-def]
    origin = tls_origin_factory(stall="handshake")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", origin.port), timeout=0.5) as raw, pytest.raises(TimeoutError):
        ctx.wrap_socket(raw, server_hostname=LOGIN)
    assert origin.stalled_connections == 1


def test_origin_routes_and_delay(tls_origin_factory, lab_ca_file: Path, squid: SquidProxy) -> None:  # type: ignore[no-untyped-def]
    origin = tls_origin_factory(routes={"/slow": Route(200, b"late", delay=1.0),
                                        "/gone": Route(404, b"nope", {"X-Test": "1"})})
    gone = _get(origin.url(LOGIN, "/gone"), squid.url(), lab_ca_file)
    assert (gone.status_code, gone.text, gone.headers["X-Test"]) == (404, "nope", "1")
    with pytest.raises(requests.exceptions.ReadTimeout):
        _get(origin.url(LOGIN, "/slow"), squid.url(), lab_ca_file, timeout=0.3)


def test_crl_origin_serves_a_real_crl_through_squid(crl_origin: HttpOrigin, squid: SquidProxy, lab_ca) -> None:  # type: ignore[no-untyped-def]
    response = _get(crl_origin.url("crl.microsoft.com", MICROSOFT_CRL_PATH), squid.url(), Path("/nonexistent"))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    ca_cert = x509.load_pem_x509_certificate(lab_ca.cert_pem.bytes())
    assert crl.issuer == ca_cert.subject
    assert crl.is_signature_valid(ca_cert.public_key())


def test_real_ports_unmodified_urls_through_squid(squid_real_ports: SquidProxy, tls_origin_443: TlsOrigin,
                                                  http_origin_80: HttpOrigin, lab_ca_file: Path) -> None:
    assert tls_origin_443.port == 443 and http_origin_80.port == 80
    assert _get(f"https://{LOGIN}/", squid_real_ports.url(), lab_ca_file).status_code == 200
    crl = _get(f"http://crl.microsoft.com{MICROSOFT_CRL_PATH}", squid_real_ports.url(), lab_ca_file)
    assert crl.status_code == 200
    x509.load_der_x509_crl(crl.content)
    squid_real_ports.wait_for_log(rf"TCP_TUNNEL/200 \d+ CONNECT {LOGIN}:443 .* HIER_DIRECT/{tls_origin_443.host} ")
    squid_real_ports.wait_for_log(r"TCP_MISS/200 \d+ GET http://crl\.microsoft\.com" + re.escape(MICROSOFT_CRL_PATH))


def test_squid_503_when_origin_port_is_closed(squid: SquidProxy, closed_port: int) -> None:
    status, headers = _connect(squid.open_port, f"{LOGIN}:{closed_port}")
    assert status == 503
    assert headers["x-squid-error"].startswith("ERR_CONNECT_FAIL")


def test_canned_proxy_answers_in_order(canned_proxy_factory) -> None:  # type: ignore[no-untyped-def]
    proxy = canned_proxy_factory(CannedResponse(407, "Proxy Authentication Required",
                                                {"Proxy-Authenticate": "Negotiate"}),
                                 CannedResponse(502, "Bad Gateway"))
    assert _connect(proxy.port, f"{LOGIN}:443") == (407, {"proxy-authenticate": "Negotiate", "content-length": "0",
                                                          "connection": "close"})
    assert _connect(proxy.port, f"{LOGIN}:443")[0] == 502
    assert _connect(proxy.port, f"{LOGIN}:443")[0] == 502
    assert proxy.requests[0].startswith(f"CONNECT {LOGIN}:443 HTTP/1.1")


def test_expired_certificate_is_rejected(tls_origin_factory, lab_ca, lab_ca_file: Path,  # type: ignore[no-untyped-def]
                                         squid: SquidProxy) -> None:
    expired = issue_server_cert(lab_ca, [LOGIN], not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                                not_after=dt.datetime(2021, 1, 1, tzinfo=dt.UTC))
    origin = tls_origin_factory(cert=expired)
    with pytest.raises(requests.exceptions.SSLError, match="expired"):
        _get(origin.url(LOGIN), squid.url(), lab_ca_file)


def test_missing_component_fails_with_install_hint() -> None:
    with pytest.raises(ComponentMissing, match=r"install-system-deps\.sh"):
        find_tool("no-such-lab-component")


def test_reconfigure_and_extra_logs(squid_factory, tls_origin: TlsOrigin) -> None:  # type: ignore[no-untyped-def]
    proxy = squid_factory(extra_logs={"combined": "combined", "w3c": "%tl %>a %Ss/%03>Hs %rm %ru"})
    target = f"{LOGIN}:{tls_origin.port}"
    assert _connect(proxy.open_port, target)[0] == 200
    proxy.reconfigure(SquidConfig(allowed_domains=[ALLOWED_TEST_HOST], extra_logs=proxy.config.extra_logs))
    assert _connect(proxy.open_port, target)[0] == 403
    proxy.wait_for_log(rf"TCP_DENIED/403 \d+ CONNECT {re.escape(target)} ")
    proxy.wait_for_log(re.escape(f'"CONNECT {target} HTTP/1.1" 403'), log="combined")
    proxy.wait_for_log(re.escape(f"TCP_DENIED/403 CONNECT {target}"), log="w3c")


def test_origins_accept_a_burst_of_connections_without_queueing(tls_origin: TlsOrigin) -> None:
    """64 simultaneous connects (what `check --profile all` opens) all complete at once.

    A listen backlog of 5 (socketserver's default) drops the SYNs beyond it and the client retries a second
    later, which shows up as a 1000 ms "tcp" time on probes that did nothing wrong.
    """
    import selectors

    selector = selectors.DefaultSelector()
    socks = []
    start = time.monotonic()
    try:
        for _ in range(64):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", tls_origin.port))
            selector.register(sock, selectors.EVENT_WRITE)
            socks.append(sock)
        connected = 0
        while connected < len(socks) and time.monotonic() - start < 3:
            for key, _ in selector.select(timeout=0.1):
                selector.unregister(key.fileobj)
                connected += 1
        elapsed = time.monotonic() - start
    finally:
        for sock in socks:
            sock.close()
        selector.close()
    assert connected == 64
    assert elapsed < 0.5, f"the last of 64 connections took {elapsed:.2f} s: the origin's listen queue overflowed"
