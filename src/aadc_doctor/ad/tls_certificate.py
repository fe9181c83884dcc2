"""The certificate a DC presents on LDAPS (636), read without trusting it, so a failure can name its issuer."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

from aadc_doctor.net.trust_context import system_trust_context


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    not_after: datetime
    names: tuple[str, ...]
    self_signed: bool


def describe_certificate(der: bytes) -> CertificateInfo:
    import warnings

    from cryptography import x509

    with warnings.catch_warnings():  # Samba's self-made certificates have a negative serial number
        warnings.simplefilter("ignore")
        cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(str(n) for n in san.get_values_for_type(x509.DNSName))
        names += tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        names = ()
    return CertificateInfo(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                           not_after=cert.not_valid_after_utc, names=names, self_signed=cert.issuer == cert.subject)


def fetch_certificate(address: str, port: int, timeout: float, server_name: str | None = None) -> bytes:
    """The leaf certificate (DER) after a handshake that verifies nothing; raises OSError/ssl.SSLError."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return der


def verifying_context(ca_file: str | None) -> ssl.SSLContext:
    """This machine's trust store (the Windows store on Windows), plus --ca-file."""
    # Windows' own LDAP client does not require an Authority Key Identifier, so neither does this verdict
    return system_trust_context(*([ca_file] if ca_file else []))


def verify_handshake(address: str, port: int, timeout: float, server_name: str | None,
                     ca_file: str | None) -> str | None:
    """None when the chain (and, for a name, the name) verify; the verification error otherwise."""
    context = verifying_context(ca_file)
    if server_name is None:
        context.check_hostname = False
    try:
        with socket.create_connection((address, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=server_name):
            return None
    except ssl.SSLCertVerificationError as exc:
        return exc.verify_message or str(exc)


def expiry_state(info: CertificateInfo, now: datetime | None = None) -> str | None:
    """"expired", "expires in N days" (under 30), or None."""
    now = now or datetime.now(UTC)
    days = (info.not_after - now).days
    if info.not_after <= now:
        return "expired"
    return f"expires in {days} days" if days < 30 else None
