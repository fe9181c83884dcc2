"""Ask an OCSP responder a real question and check that the answer is an OCSP response.

A proxy that answers an OCSP request with its own page (HTML, a 403, a redirect) breaks revocation checking as
surely as a closed port, so an OCSP endpoint counts as reachable only when it answers a real request (RFC 6960,
built with `cryptography` for a Microsoft intermediate, knowledge/data/microsoft_roots.toml) with a response
that parses. Any response status counts, 'unauthorized' included: the responder itself answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

OCSP_REQUEST_TYPE = "application/ocsp-request"
MAX_OCSP_BYTES = 64 * 1024


@cache
def ocsp_request() -> bytes:
    """DER of an OCSP request for the Microsoft intermediate named in the knowledge data (SHA-1 CertID)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    from aadc_doctor.knowledge.microsoft_roots import load_microsoft_roots

    probe = load_microsoft_roots().ocsp_probe
    request = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        probe.issuer_name_sha1, probe.issuer_key_sha1, probe.serial, hashes.SHA1()).build()
    return request.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class OcspAnswer:
    parsed: bool
    status: str | None = None  # the OCSP response status: successful, unauthorized, malformed_request, ...
    error: str | None = None


def inspect_ocsp(body: bytes) -> OcspAnswer:
    """Parse an OCSP response; `parsed=False` with the reason when the body is something else."""
    from cryptography.x509 import ocsp

    if not body:
        return OcspAnswer(False, error="the answer was empty")
    try:
        response = ocsp.load_der_ocsp_response(body)
    except ValueError as exc:
        looks_html = body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))
        return OcspAnswer(False, error="an HTML page, not an OCSP response" if looks_html
                          else f"not an OCSP response: {exc}")
    return OcspAnswer(True, status=response.response_status.name.lower())
