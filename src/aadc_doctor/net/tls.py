"""TLS for probes: the verifying context (system store plus --ca-file), certificate facts, and the rule that
tells TLS inspection from other TLS failures.

The interception rule, in the order applied:

1. The chain does not verify because its issuer is not trusted (self-signed in chain, unknown local issuer):
   the certificate was minted by someone the machine does not trust, typically an inspecting proxy re-signing
   with its own CA -> ``tls_intercepted``, naming the issuer. Except: a leaf valid for a catalog host and issued
   by one of the public CAs Microsoft uses means this machine's root store is out of date -> ``tls_failure``.
2. The chain verifies but the certificate is not valid for the host name: another party answered in the
   endpoint's place -> ``tls_intercepted``.
3. The chain verifies through the *system* store, the host is a Microsoft endpoint of the catalog, and the
   issuing CA's organization is none of the public CAs Microsoft uses (list in connectivity_findings.toml):
   an inspection CA deployed to the machine by policy -> ``tls_intercepted``. A chain anchored in a
   ``--ca-file`` root is trusted as given: the user named that CA on purpose (a lab, a private endpoint).
4. Any other verification error (expired, not yet valid, revoked) or a failed handshake -> ``tls_failure``.

Why it matters: the PTA agent authenticates with a client certificate; an inspecting proxy cannot forward it,
so PTA breaks behind inspection even where browsers look fine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

UNTRUSTED_ISSUER_CODES = frozenset({18, 19, 20, 21, 2, 27})  # X509_V_ERR_* about the issuer/anchor
HOSTNAME_MISMATCH_CODE = 62
VERIFY_CATEGORY = {9: "not-yet-valid", 10: "expired", 23: "revoked", 62: "hostname-mismatch"}


@dataclass(frozen=True)
class CertFacts:
    """What a report needs from a certificate, parsed with cryptography."""

    subject: str
    issuer: str
    issuer_organization: str | None
    issuer_common_name: str | None
    names: tuple[str, ...]
    not_after: str
    expired: bool

    def covers(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for name in self.names:
            name = name.lower()
            if name == host:
                return True
            if name.startswith("*.") and host.endswith(name[1:]) and "." not in host[: -len(name) + 1]:
                return True
        return False


def cert_facts(der: bytes) -> CertFacts:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(n) for n in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names += [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]

    def first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
        attrs = name.get_attributes_for_oid(oid)
        return str(attrs[0].value) if attrs else None

    not_after = cert.not_valid_after_utc
    return CertFacts(
        subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
        issuer_organization=first(cert.issuer, NameOID.ORGANIZATION_NAME),
        issuer_common_name=first(cert.issuer, NameOID.COMMON_NAME),
        names=tuple(names), not_after=not_after.isoformat(timespec="seconds").replace("+00:00", "Z"),
        expired=not_after < datetime.now(UTC),
    )


def issuer_label(facts: CertFacts) -> str:
    """A short human name for the issuing CA: 'CN (O)' or the full DN."""
    if facts.issuer_common_name and facts.issuer_organization:
        return f"{facts.issuer_common_name} ({facts.issuer_organization})"
    return facts.issuer_common_name or facts.issuer_organization or facts.issuer


class TrustConfig:
    """The contexts every probe shares: verifying (system store + --ca-file) and the unverified one used only
    to read the certificate a failed verification refused.

    Loading the system store takes a noticeable fraction of a second, so it happens in a background thread
    while the first probes resolve names and wait for the proxy; `verifying` waits for it only if needed.
    """

    def __init__(self, verifying: ssl.SSLContext | Callable[[], ssl.SSLContext], unverified: ssl.SSLContext,
                 ca_file_subjects: frozenset[bytes], ca_file: str | None = None) -> None:
        self._future: concurrent.futures.Future[ssl.SSLContext] = concurrent.futures.Future()
        if isinstance(verifying, ssl.SSLContext):
            self._future.set_result(verifying)
        else:
            build = verifying

            def load() -> None:
                try:
                    self._future.set_result(build())
                except BaseException as exc:  # handed to whoever asks for the context
                    self._future.set_exception(exc)

            # not a daemon: the interpreter waits for it (under a second) before it exits. A process that ends
            # while this thread is inside Windows' certificate store (a fast failure, a usage error) crashed
            # under Wine with an access violation; Windows gives no guarantee either.
            threading.Thread(target=load, name="aadc-trust-store", daemon=False).start()
        self.unverified = unverified
        self.ca_file_subjects = ca_file_subjects
        self.ca_file = ca_file

    @property
    def verifying(self) -> ssl.SSLContext:
        """The context, waiting for the load if needed (blocking: for code outside the event loop)."""
        return self._future.result()

    async def verifying_context(self) -> ssl.SSLContext:
        """The context for a probe: waits without blocking the loop, so every probe's deadline still fires.

        Shielded: a probe that gives up waiting must not cancel the load the other probes share.
        """
        return await asyncio.shield(asyncio.wrap_future(self._future))


def load_ca_file(path: str) -> frozenset[bytes]:
    """DER subjects of the certificates in a PEM bundle; ValueError with a one-line reason if unusable."""
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"--ca-file {path}: cannot read: {exc.strerror or exc}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"--ca-file {path}: no PEM certificate in it (expected '-----BEGIN CERTIFICATE-----')") \
            from None
    return frozenset(c.subject.public_bytes() for c in certs)


def build_trust(ca_file: str | None) -> TrustConfig:
    """Validate --ca-file now (a bad file is a usage problem), load the system store in the background."""
    subjects = load_ca_file(ca_file) if ca_file else frozenset()
    if ca_file:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=ca_file)
        except ssl.SSLError as exc:
            raise ValueError(f"--ca-file {ca_file}: not usable as trusted roots: {exc.reason or exc}") from None

    def verifying() -> ssl.SSLContext:
        context = ssl.create_default_context()
        if ca_file:
            context.load_verify_locations(cafile=ca_file)
        return context

    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    return TrustConfig(verifying, unverified, subjects, ca_file)


def issued_by_ca_file(der: bytes, trust: TrustConfig) -> bool:
    """True when the leaf's issuer is one of the --ca-file certificates (the user vouched for that CA)."""
    if not trust.ca_file_subjects:
        return False
    from cryptography import x509

    return x509.load_der_x509_certificate(der).issuer.public_bytes() in trust.ca_file_subjects


def verify_category(exc: ssl.SSLCertVerificationError) -> str:
    code = getattr(exc, "verify_code", 0) or 0
    if code in UNTRUSTED_ISSUER_CODES:
        return "untrusted-issuer"
    return VERIFY_CATEGORY.get(code, "verify-failed")


def verify_message(exc: ssl.SSLCertVerificationError) -> str:
    return str(getattr(exc, "verify_message", "") or exc.reason or exc)
