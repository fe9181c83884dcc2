"""Check that a CRL download is a real certificate revocation list, not a proxy's HTML error or login page.

A proxy that answers CRL requests with its own page breaks revocation checking just as surely as a 403,
so a port-80 CRL endpoint counts as reachable only when the body parses as an X.509 CRL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aadc_doctor.net.outcome import CrlInfo

MAX_CRL_BYTES = 32 * 1024 * 1024


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def inspect_crl(body: bytes, content_type: str | None = None) -> CrlInfo:
    """Parse DER or PEM CRL bytes; `parsed=False` with the reason when they are not a CRL."""
    from cryptography import x509

    size = len(body)
    if not body:
        return CrlInfo(parsed=False, size=0, error="the answer was empty")
    try:
        crl = x509.load_pem_x509_crl(body) if body.lstrip().startswith(b"-----BEGIN") else x509.load_der_x509_crl(body)
        issuer = crl.issuer.rfc4514_string()
        last_update = crl.last_update_utc
        next_update = crl.next_update_utc
        revoked = len(crl)
    except ValueError as exc:
        shown = f" (Content-Type {content_type})" if content_type else ""
        looks_html = body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))
        reason = "an HTML page, not a CRL" if looks_html else f"not a CRL: {exc}"
        return CrlInfo(parsed=False, size=size, error=f"the answer{shown} is {reason}")
    stale = next_update is not None and next_update < datetime.now(UTC)
    return CrlInfo(parsed=True, size=size, issuer=issuer, last_update=_iso(last_update),
                   next_update=_iso(next_update), revoked=revoked, stale=stale)
