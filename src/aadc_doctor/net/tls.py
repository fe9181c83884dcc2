"""TLS for probes: the verifying context (system store plus --ca-file), certificate facts, and the rule that
tells TLS inspection from other TLS failures.

Interception means "not Microsoft's chain", not "not trusted". The rule, in the order applied:

1. The chain verifies, the host is a Microsoft endpoint of the catalog, and no certificate of the verified chain
   is one of the roots Microsoft's endpoints chain to (``knowledge/data/microsoft_roots.toml``, by SHA-256
   fingerprint): an inspection CA this machine trusts (deployed by policy, or given with ``--ca-file``) re-signs
   the traffic -> ``tls_intercepted``, naming that CA and where the trust comes from. ``--ca-file`` only adds
   trust; it never makes a CA count as Microsoft's. Only ``--lab-microsoft-root`` (labs and tests) does.
2. The chain does not verify because its issuer is not trusted: typically an inspecting proxy re-signing with a
   CA the machine does not know -> ``tls_intercepted`` (untrusted). Except: a leaf valid for a catalog host and
   issued by one of the public CAs Microsoft uses means this machine's root store is out of date ->
   ``tls_failure``.
3. The chain verifies but the certificate is not valid for the host name: another party answered in the
   endpoint's place -> ``tls_intercepted``.
4. Any other verification error (expired, not yet valid, revoked) or a failed handshake -> ``tls_failure``.

Why it matters: the PTA agent authenticates with a client certificate; an inspecting proxy cannot forward it,
so PTA breaks behind inspection, trusted or not, even where browsers look fine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aadc_doctor.net.trust_context import system_trust_context

if TYPE_CHECKING:
    from cryptography import x509

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
    subject_common_name: str | None = None
    subject_organization: str | None = None

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
        subject_common_name=first(cert.subject, NameOID.COMMON_NAME),
        subject_organization=first(cert.subject, NameOID.ORGANIZATION_NAME),
    )


def issuer_label(facts: CertFacts) -> str:
    """A short human name for the issuing CA: 'CN (O)' or the full DN."""
    if facts.issuer_common_name and facts.issuer_organization:
        return f"{facts.issuer_common_name} ({facts.issuer_organization})"
    return facts.issuer_common_name or facts.issuer_organization or facts.issuer


class TrustConfig:
    """The contexts every probe shares: verifying (system store + --ca-file + lab roots) and the unverified one used
    only to read the certificate a failed verification refused; plus which fingerprints came from which file.

    Loading the system store takes a noticeable fraction of a second, so it happens in a thread while the first
    probes resolve names and wait for the proxy. The thread is not a daemon and `close()` joins it: no thread may
    still run while the interpreter shuts down (that crashed the process at exit).
    """

    def __init__(self, verifying: ssl.SSLContext | Callable[[], ssl.SSLContext], unverified: ssl.SSLContext,
                 ca_file_subjects: frozenset[bytes], ca_file: str | None = None, *,
                 ca_file_fingerprints: frozenset[bytes] = frozenset(),
                 lab_root_fingerprints: frozenset[bytes] = frozenset(), lab_root_file: str | None = None) -> None:
        self._future: concurrent.futures.Future[ssl.SSLContext] = concurrent.futures.Future()
        self._thread: threading.Thread | None = None
        if isinstance(verifying, ssl.SSLContext):
            self._future.set_result(verifying)
        else:
            build = verifying

            def load() -> None:
                try:
                    self._future.set_result(build())
                except BaseException as exc:  # handed to whoever asks for the context
                    self._future.set_exception(exc)

            self._thread = threading.Thread(target=load, name="aadc-trust-store", daemon=False)
            self._thread.start()
        self.unverified = unverified
        self.ca_file_subjects = ca_file_subjects
        self.ca_file = ca_file
        self.ca_file_fingerprints = ca_file_fingerprints
        self.lab_root_fingerprints = lab_root_fingerprints
        self.lab_root_file = lab_root_file

    @property
    def verifying(self) -> ssl.SSLContext:
        """The context, waiting for the load if needed (blocking: for code outside the event loop)."""
        return self._future.result()

    async def verifying_context(self) -> ssl.SSLContext:
        """The context for a probe: waits without blocking the loop, so every probe's deadline still fires.

        Shielded: a probe that gives up waiting must not cancel the load the other probes share.
        """
        return await asyncio.shield(asyncio.wrap_future(self._future))

    def close(self) -> None:
        """Wait for the loading thread: the command must not return while it runs."""
        if self._thread is not None:
            self._thread.join()

    def trusted_by(self, fingerprint: bytes) -> str:
        """Where trust in a chain's anchor comes from: "lab-root", "ca-file" or "system"."""
        if fingerprint in self.lab_root_fingerprints:
            return "lab-root"
        if fingerprint in self.ca_file_fingerprints:
            return "ca-file"
        return "system"


@dataclass(frozen=True)
class ChainVerdict:
    """Whose chain a verified handshake showed: Microsoft's (a known root in it) or someone else's.

    `anchor` is the top of the verified chain (the trust anchor), `issuing` the leaf's issuer; `trusted_by`
    says which store held the anchor ("system", "ca-file", "lab-root").
    """

    microsoft: bool
    anchor: CertFacts
    anchor_sha256: str
    issuing: CertFacts | None
    trusted_by: str
    microsoft_root: str | None = None


def fingerprint(der: bytes) -> bytes:
    return hashlib.sha256(der).digest()


def fingerprint_text(der: bytes) -> str:
    return ":".join(f"{b:02X}" for b in fingerprint(der))


def _chain_der(ssl_object: Any, method: str) -> list[bytes]:
    """The peer's chain as DER, leaf first ([] when this Python cannot say).

    Python 3.13 has SSLObject.get_verified_chain/get_unverified_chain; 3.10-3.12 have them on the private _sslobj.
    """
    public = getattr(ssl_object, method, None)
    raw: Any = None
    if callable(public):
        raw = public()
    else:
        private = getattr(getattr(ssl_object, "_sslobj", None), method, None)
        if callable(private):
            raw = private()
    if not raw:
        return []
    der: list[bytes] = []
    for cert in raw:
        der.append(cert if isinstance(cert, bytes) else cert.public_bytes(2))  # 2 = _ssl.ENCODING_DER
    return der


def verified_chain(ssl_object: Any) -> list[bytes]:
    return _chain_der(ssl_object, "get_verified_chain")


def unverified_chain(ssl_object: Any) -> list[bytes]:
    return _chain_der(ssl_object, "get_unverified_chain")


def judge_chain(chain: Sequence[bytes], trust: TrustConfig) -> ChainVerdict | None:
    """Microsoft's chain or not (None for an empty chain): any certificate of it a known root or a lab root."""
    if not chain:
        return None
    from aadc_doctor.knowledge.microsoft_roots import load_microsoft_roots

    roots = load_microsoft_roots()
    microsoft_root: str | None = None
    for der in chain:
        digest = fingerprint(der)
        name = roots.name_of(digest)
        if name is None and digest in trust.lab_root_fingerprints:
            name = "lab root (--lab-microsoft-root)"
        if name is not None:
            microsoft_root = name
            break
    anchor = chain[-1]
    return ChainVerdict(microsoft=microsoft_root is not None, anchor=cert_facts(anchor),
                        anchor_sha256=fingerprint_text(anchor),
                        issuing=cert_facts(chain[1]) if len(chain) > 2 else None,
                        trusted_by=trust.trusted_by(fingerprint(anchor)), microsoft_root=microsoft_root)


def ca_label(facts: CertFacts) -> str:
    """A CA certificate's own name, 'CN (O)': what an admin finds in the certificate store."""
    cn = facts.subject_common_name
    org = facts.subject_organization
    if cn and org and org not in cn:
        return f"{cn} ({org})"
    return cn or org or facts.subject


def load_pem_certificates(path: str, option: str) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle; ValueError with a one-line reason if unusable."""
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot read: {exc.strerror or exc}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"{option} {path}: no PEM certificate in it (expected '-----BEGIN CERTIFICATE-----')") \
            from None
    return certs


def build_trust(ca_file: str | None, lab_root_file: str | None = None) -> TrustConfig:
    """Validate --ca-file and --lab-microsoft-root now (a bad file is a usage problem), load the system store in
    the background. Both files add trust; only the lab file's certificates also count as Microsoft's roots."""
    from cryptography.hazmat.primitives.serialization import Encoding

    ca_certs = load_pem_certificates(ca_file, "--ca-file") if ca_file else []
    lab_certs = load_pem_certificates(lab_root_file, "--lab-microsoft-root") if lab_root_file else []
    subjects = frozenset(c.subject.public_bytes() for c in ca_certs)
    ca_fps = frozenset(fingerprint(c.public_bytes(Encoding.DER)) for c in ca_certs)
    lab_fps = frozenset(fingerprint(c.public_bytes(Encoding.DER)) for c in lab_certs)
    extra = [(option, path) for option, path in (("--ca-file", ca_file), ("--lab-microsoft-root", lab_root_file))
             if path]
    for option, path in extra:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
        except ssl.SSLError as exc:
            raise ValueError(f"{option} {path}: not usable as trusted roots: {exc.reason or exc}") from None

    def verifying() -> ssl.SSLContext:
        return system_trust_context(*(path for _, path in extra))

    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    return TrustConfig(verifying, unverified, subjects, ca_file, ca_file_fingerprints=ca_fps,
                       lab_root_fingerprints=lab_fps, lab_root_file=lab_root_file)


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
