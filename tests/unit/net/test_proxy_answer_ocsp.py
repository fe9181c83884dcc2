"""Reading a proxy's answer (Proxy-Status, Via, X-Cache, error pages) and the OCSP probe's request."""

from __future__ import annotations

from cryptography.x509 import ocsp

from aadc_doctor.knowledge.microsoft_roots import load_microsoft_roots, parse_fingerprint
from aadc_doctor.net.http import ResponseHead
from aadc_doctor.net.ocsp import inspect_ocsp, ocsp_request
from aadc_doctor.net.proxy_answer import (
    error_page_author,
    parse_proxy_status,
    read_answer,
    upstream_name,
    via_hops,
    x_cache_hops,
)


def _head(status: int, *headers: tuple[str, str]) -> ResponseHead:
    return ResponseHead("HTTP/1.1", status, "", tuple(headers))


def test_proxy_status_members_in_order() -> None:
    entries = parse_proxy_status(['parent; error=http_request_denied; details="a, b"', "edge"])
    assert [(e.name, e.error, e.details) for e in entries] == [("parent", "http_request_denied", "a, b"),
                                                               ("edge", None, None)]


def test_via_and_x_cache_hops() -> None:
    assert via_hops(["1.1 parent (squid/5.7), 1.0 child"]) == ["parent", "child"]
    assert x_cache_hops(["MISS from parent", "MISS from child"]) == ["parent", "child"]


def test_upstream_from_proxy_status_via_and_error_page() -> None:
    assert upstream_name(_head(403, ("Proxy-Status", "parent; error=http_request_denied, child"))) == "parent"
    assert upstream_name(_head(403, ("Via", "1.1 parent (squid/5.7), 1.1 child (squid/5.7)"))) == "parent"
    assert upstream_name(_head(403, ("Via", "1.1 child (squid/5.7)"))) is None
    page = b"<p>Generated Sun, 06 Dec 2026 00:11:01 GMT by parent (squid/5.7)</p>"
    assert error_page_author(page) == "parent"
    assert upstream_name(_head(403, ("Via", "1.1 child (squid/5.7)")), page) == "parent"


def test_denials() -> None:
    assert read_answer(_head(403), 403, b"", "h").denial
    assert read_answer(_head(302, ("Location", "http://block/")), 302, b"", "h").denial
    assert not read_answer(_head(302, ("Location", "http://h/other")), 302, b"", "h").denial
    assert read_answer(_head(502, ("Proxy-Status", "p; error=destination_ip_prohibited")), 502, b"", "h").denial
    assert not read_answer(_head(502, ("Proxy-Status", "p; error=dns_timeout")), 502, b"", "h").denial


def test_the_ocsp_request_asks_about_the_microsoft_intermediate() -> None:
    request = ocsp.load_der_ocsp_request(ocsp_request())
    probe = load_microsoft_roots().ocsp_probe
    assert request.serial_number == probe.serial
    assert (request.issuer_name_hash, request.issuer_key_hash) == (probe.issuer_name_sha1, probe.issuer_key_sha1)


def test_ocsp_answers() -> None:
    assert inspect_ocsp(bytes.fromhex("30030a0106")).status == "unauthorized"
    html = inspect_ocsp(b"<!DOCTYPE html><html>blocked</html>")
    assert not html.parsed and html.error == "an HTML page, not an OCSP response"


def test_microsoft_roots_have_sha256_fingerprints() -> None:
    roots = load_microsoft_roots()
    g2 = parse_fingerprint("CB:3C:CB:B7:60:31:E5:E0:13:8F:8D:D3:9A:23:F9:DE:"
                           "47:FF:C3:5E:43:C1:14:4C:EA:27:D4:6A:5A:B1:CB:5F")
    assert roots.name_of(g2) == "DigiCert Global Root G2"
    assert len(roots.names_by_sha256) >= 6


def test_the_roots_still_valid_match_the_systems_root_store() -> None:
    """The fingerprints in microsoft_roots.toml are those of the certificates the root store ships (Debian's
    ca-certificates here): a typo in the data would report Microsoft's own chain as interception."""
    import datetime as dt
    import hashlib
    import ssl

    from aadc_doctor.knowledge import read_toml

    store = {hashlib.sha256(der).digest() for der in ssl.create_default_context().get_ca_certs(binary_form=True)}
    today = dt.date.today().isoformat()
    current = [r for r in read_toml("microsoft_roots.toml")["root"] if r["not_after"] > today]
    assert len(current) >= 6
    missing = [r["name"] for r in current if parse_fingerprint(r["sha256"]) not in store]
    assert missing == []
