"""The lab against real clients: requests, raw sockets, curl, dig, openssl and dnspython, all on 127.0.0.1.

Given a started lab (origin, DNS, proxies with different policies), when a real client talks to it, then it
sees what it would see from the Microsoft endpoints behind a Squid: the right certificates, Squid's 403/407/503
pages and headers, real CRLs, and a Squid native access.log.
"""

from __future__ import annotations

import base64
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import dns.rcode
import dns.resolver
import pytest
import requests
from cryptography import x509
from cryptography.x509 import ocsp

from aadc_doctor.lab.ca import INSPECTION_CA_NAME, LAB_ISSUING_NAME, ca_certificate
from aadc_doctor.lab.lab import Lab
from aadc_doctor.lab.proxy import LabProxy, ProxyPolicy

pytestmark = pytest.mark.integration

ADMIN_URL = "https://adminwebservice.microsoftonline.com/ProvisioningService.svc"
CRL_URL = "http://crl3.digicert.com/DigiCertGlobalRootG2.crl"
SQUID_NATIVE = re.compile(r"^\d+\.\d{3} +\d+ \S+ [A-Z_]+/\d{3} \d+ [A-Z]+ \S+ \S+ [A-Z_]+/\S+ \S+$")
USER, PASSWORD = "svc-aadsync", "Lab-Passw0rd!"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


@pytest.fixture(scope="module")
def open_proxy(lab: Lab) -> LabProxy:
    return lab.add_proxy(ProxyPolicy())


@pytest.fixture(scope="module")
def deny_proxy(lab: Lab) -> LabProxy:
    return lab.add_proxy(ProxyPolicy(deny=("secure.aadcdn.microsoftonline-p.com",)))


@pytest.fixture(scope="module")
def auth_proxy(lab: Lab) -> LabProxy:
    return lab.add_proxy(ProxyPolicy(basic_user=USER, basic_password=PASSWORD))


@pytest.fixture(scope="module")
def inspecting_proxy(lab: Lab) -> LabProxy:
    return lab.add_proxy(ProxyPolicy(inspect_tls=True))


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never the machine's own proxy settings
    return session


def _connect(proxy: LabProxy, target: str, *headers: str) -> tuple[socket.socket, bytes]:
    """Send a CONNECT by hand; return the socket and the proxy's whole answer head (and body, if any)."""
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    extra = "".join(f"{h}\r\n" for h in headers)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra}\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"Content-Length: (\d+)", head)
    while match and len(body) < int(match.group(1)):
        body += sock.recv(65536)
    return sock, head + b"\r\n\r\n" + body


def _peer_certificate(sock: socket.socket, host: str) -> x509.Certificate:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with ctx.wrap_socket(sock, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _cn(name: x509.Name) -> str:
    return str(name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def test_healthy_tunnel_serves_the_provisioning_service_with_a_lab_chain(lab: Lab, open_proxy: LabProxy) -> None:
    response = _session().get(ADMIN_URL, proxies={"https": open_proxy.url}, verify=str(lab.files.ca_file), timeout=5)
    assert response.status_code == 200
    assert "ProvisioningService Service" in response.text
    assert "You have created a service." in response.text
    sock, head = _connect(open_proxy, "login.microsoftonline.com:443")
    assert head.startswith(b"HTTP/1.1 200 Connection established")
    cert = _peer_certificate(sock, "login.microsoftonline.com")
    assert _cn(cert.subject) == "login.microsoftonline.com"
    assert _cn(cert.issuer) == LAB_ISSUING_NAME
    cert.verify_directly_issued_by(ca_certificate(lab.pki.issuing))


def test_token_endpoint_answers_like_entra_id(lab: Lab, open_proxy: LabProxy) -> None:
    url = "https://login.microsoftonline.com/common/oauth2/token"
    session = _session()
    got = session.get(url, proxies={"https": open_proxy.url}, verify=str(lab.files.ca_file), timeout=5)
    assert got.status_code == 400
    assert got.json()["error_codes"] == [900561]
    posted = session.post(url, data={"x": "1"}, proxies={"https": open_proxy.url}, verify=str(lab.files.ca_file),
                          timeout=5)
    assert posted.status_code == 400
    assert posted.json()["error_codes"] == [900144]


def test_a_client_without_sni_gets_a_certificate_for_no_real_name(lab: Lab) -> None:
    sock = socket.create_connection(("127.0.0.1", lab.origin.https_port), timeout=5)
    ctx = ssl.create_default_context(cafile=str(lab.files.ca_file))
    with pytest.raises(ssl.SSLCertVerificationError, match=r"Hostname mismatch|doesn't match"):
        ctx.wrap_socket(sock, server_hostname="www.example.org")
    sock.close()


def test_denied_host_gets_squid_403_and_the_connection_stays_usable(deny_proxy: LabProxy) -> None:
    sock, answer = _connect(deny_proxy, "secure.aadcdn.microsoftonline-p.com:443")
    assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"X-Squid-Error: ERR_ACCESS_DENIED 0\r\n" in answer
    assert b"Access Denied." in answer
    assert b"secure.aadcdn.microsoftonline-p.com:443" in answer
    sock.sendall(b"CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: login.microsoftonline.com:443\r\n\r\n")
    assert sock.recv(100).startswith(b"HTTP/1.1 200 Connection established")
    sock.close()


def test_connect_to_a_port_squid_does_not_allow_is_denied(open_proxy: LabProxy) -> None:
    sock, answer = _connect(open_proxy, "login.microsoftonline.com:8080")
    sock.close()
    assert answer.startswith(b"HTTP/1.1 403 ")
    assert b"ERR_ACCESS_DENIED" in answer


def test_unknown_names_get_err_dns_fail_and_never_leave_the_lab(lab: Lab, open_proxy: LabProxy) -> None:
    before = len(lab.origin.requests)
    sock, answer = _connect(open_proxy, "www.example.org:443")
    sock.close()
    assert answer.startswith(b"HTTP/1.1 503 Service Unavailable")
    assert b"X-Squid-Error: ERR_DNS_FAIL 0" in answer
    assert len(lab.origin.requests) == before


def test_basic_authentication(lab: Lab, auth_proxy: LabProxy) -> None:
    sock, answer = _connect(auth_proxy, "login.microsoftonline.com:443")
    assert answer.startswith(b"HTTP/1.1 407 Proxy Authentication Required")
    assert b'Proxy-Authenticate: Basic realm="Fabrikam proxy"' in answer
    assert b"X-Squid-Error: ERR_CACHE_ACCESS_DENIED 0" in answer
    wrong = base64.b64encode(f"{USER}:nope".encode()).decode()
    sock.sendall(f"CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nProxy-Authorization: Basic {wrong}\r\n\r\n"
                 .encode())
    assert sock.recv(100).startswith(b"HTTP/1.1 407")
    sock.close()
    proxy = f"http://{USER}:{PASSWORD}@127.0.0.1:{auth_proxy.port}"
    response = _session().get(ADMIN_URL, proxies={"https": proxy}, verify=str(lab.files.ca_file), timeout=5)
    assert response.status_code == 200


def test_crl_through_the_proxy_is_a_real_signed_crl(lab: Lab, open_proxy: LabProxy, tmp_path: Path) -> None:
    response = _session().get(CRL_URL, proxies={"http": open_proxy.url}, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pkix-crl"
    assert response.headers["Via"].startswith("1.1 fabrikamproxy")
    crl = x509.load_der_x509_crl(response.content)
    assert crl.is_signature_valid(ca_certificate(lab.pki.issuing).public_key())  # type: ignore[arg-type]
    openssl = shutil.which("openssl")
    assert openssl, "openssl is required for this test (apt-get install openssl)"
    (tmp_path / "lab.crl").write_bytes(response.content)
    out = subprocess.run([openssl, "crl", "-inform", "DER", "-in", str(tmp_path / "lab.crl"), "-noout", "-issuer"],
                         capture_output=True, text=True, check=True).stdout
    assert LAB_ISSUING_NAME in out


def test_ocsp_hosts_answer_an_ocsp_response(open_proxy: LabProxy) -> None:
    response = _session().get("http://ocsp.digicert.com/", proxies={"http": open_proxy.url}, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/ocsp-response"
    parsed = ocsp.load_der_ocsp_response(response.content)
    assert parsed.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_inspecting_proxy_re_signs_with_its_own_ca(lab: Lab, inspecting_proxy: LabProxy) -> None:
    sock, head = _connect(inspecting_proxy, "login.microsoftonline.com:443")
    assert head.startswith(b"HTTP/1.1 200 Connection established")
    cert = _peer_certificate(sock, "login.microsoftonline.com")
    assert _cn(cert.issuer) == INSPECTION_CA_NAME
    session = _session()
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        session.get(ADMIN_URL, proxies={"https": inspecting_proxy.url}, verify=str(lab.files.ca_file), timeout=5)
    # A machine that trusts the inspection CA (pushed by policy) gets through, and the origin really answers.
    seen = len(lab.origin.requests)
    response = session.get(ADMIN_URL, proxies={"https": inspecting_proxy.url},
                           verify=str(lab.files.inspecting_ca_file), timeout=5)
    assert response.status_code == 200
    assert "ProvisioningService Service" in response.text
    assert lab.origin.requests[seen:][-1].sni == "adminwebservice.microsoftonline.com"


def test_curl_through_the_lab_proxy(lab: Lab, open_proxy: LabProxy, deny_proxy: LabProxy) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is required for this test (apt-get install curl)"
    base = [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "", "--cacert", str(lab.files.ca_file),
            "--max-time", "5"]
    ok = subprocess.run([*base, "--proxy", open_proxy.url, ADMIN_URL], capture_output=True, text=True)
    assert (ok.returncode, ok.stdout) == (0, "200")
    denied = subprocess.run([*base, "--proxy", deny_proxy.url, "https://secure.aadcdn.microsoftonline-p.com/"],
                            capture_output=True, text=True)
    assert denied.returncode == 56
    assert "403" in denied.stderr


def test_dns_server_with_dnspython_and_dig(lab: Lab) -> None:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = lab.dns.port
    resolver.lifetime = 3
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("adminwebservice.microsoftonline.com", "A")
    dig = shutil.which("dig")
    assert dig, "dig is required for this test (apt-get install dnsutils)"
    out = subprocess.run([dig, "+time=2", "+tries=1", "@127.0.0.1", "-p", str(lab.dns.port),
                          "login.microsoftonline.com", "A"], capture_output=True, text=True, check=True).stdout
    assert "status: NXDOMAIN" in out
    assert any(q.name == "login.microsoftonline.com" and q.rcode == dns.rcode.to_text(dns.rcode.NXDOMAIN)
               for q in lab.dns.queries)


def test_malformed_requests_get_squid_400(open_proxy: LabProxy) -> None:
    with socket.create_connection(("127.0.0.1", open_proxy.port), timeout=5) as sock:
        sock.sendall(b"HELLO\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"ERR_INVALID_REQ" in answer


def test_access_log_is_squid_native_and_records_users(lab: Lab, auth_proxy: LabProxy) -> None:
    proxy = f"http://{USER}:{PASSWORD}@127.0.0.1:{auth_proxy.port}"
    session = _session()
    session.get(CRL_URL, proxies={"http": proxy}, timeout=5)
    session.close()
    lines = lab.access_log.path.read_text("utf-8").splitlines()
    assert lines
    for line in lines:
        assert SQUID_NATIVE.match(line), line
    assert any(f" GET {CRL_URL} {USER} HIER_DIRECT/127.0.0.1 application/pkix-crl" in line for line in lines)
    assert any("TCP_DENIED/407" in line and "CONNECT login.microsoftonline.com:443 -" in line for line in lines)


def test_close_stops_every_server_and_thread(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    lab = Lab(tmp_path).start()
    proxy = lab.add_proxy(ProxyPolicy())
    assert set(threading.enumerate()) - before
    hanging, _ = _connect(proxy, "login.microsoftonline.com:443")  # an open tunnel must not block shutdown
    ports = [proxy.port, lab.origin.https_port, lab.origin.http_port]
    lab.close()
    hanging.close()
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)
    assert not set(threading.enumerate()) - before
    assert (tmp_path / "lab-root-ca.pem").exists()  # a caller's directory is left alone


def test_own_temp_dir_is_removed() -> None:
    lab = Lab().start()
    workdir = lab.workdir
    assert (workdir / "access.log").exists()
    lab.close()
    assert not workdir.exists()
