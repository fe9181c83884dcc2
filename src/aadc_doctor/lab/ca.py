"""Lab PKI: a root and issuing CA that stand in for the public roots behind the Microsoft endpoints, and a
second CA that plays a TLS-inspecting proxy.

Every host the endpoint catalog probes gets its own server certificate (issued on first use, from SNI), so a
client sees the subject it would see on the internet and `check --lab-microsoft-root LAB_ROOT.pem` can verify the
chain and count it as Microsoft's (the lab's stand-in for DigiCert Global Root G2).
The inspecting CA is deliberately not in that file: that is how a re-signing proxy looks to a client whose
trust store does not know the proxy's CA.
"""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from aadc_doctor.knowledge.endpoints import EndpointCatalog, host_matches, load_catalog

LAB_ORGANIZATION = "aadc-doctor lab"
LAB_ROOT_NAME = "aadc-doctor Lab Root CA"
LAB_ISSUING_NAME = "aadc-doctor Lab TLS Issuing CA"
INSPECTION_ORGANIZATION = "Fabrikam"
INSPECTION_CA_NAME = "Fabrikam TLS Inspection CA"
# The tenant id the lab fills into tenant-specific probe URLs ({tenant_id}.registration.msappproxy.net ...).
LAB_TENANT_ID = "4f0b7a64-2f5c-4c1e-9b1d-0a1a2b3c4d5e"
# An OCSP "malformedRequest" response: what a real responder answers to a GET without a request in the path.
OCSP_MALFORMED_REQUEST = bytes.fromhex("30030a0101")
# An OCSP "unauthorized" response: what a real responder answers a request about a certificate it does not serve.
OCSP_UNAUTHORIZED = bytes.fromhex("30030a0106")


def catalog_hosts(catalog: EndpointCatalog | None = None, tenant_id: str = LAB_TENANT_ID) -> tuple[str, ...]:
    """Every host name a catalog row probes (all profiles, seed rows too, tenant URLs filled in), sorted."""
    cat = catalog or load_catalog()
    hosts: set[str] = set()
    for rule in cat.rules:
        for url in rule.urls_to_probe(tenant_id):
            host = urlsplit(url).hostname
            if host:
                hosts.add(host.lower())
    return tuple(sorted(hosts))


def catalog_patterns(catalog: EndpointCatalog | None = None) -> tuple[str, ...]:
    """Every host pattern of the catalog (``*.microsoftonline.com``, ``login.windows.net`` ...), sorted."""
    cat = catalog or load_catalog()
    return tuple(sorted({rule.pattern.lower() for rule in cat.rules}))


@cache
def _default_names() -> tuple[frozenset[str], tuple[str, ...]]:
    return frozenset(catalog_hosts()), catalog_patterns()


def impersonated(host: str) -> bool:
    """True for a host the lab answers for: a catalog probe host or any name a catalog pattern covers."""
    name = host.lower().rstrip(".")
    hosts, patterns = _default_names()
    return name in hosts or any(host_matches(p, name) for p in patterns)


def _private_key(ca: trustme.CA) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError(f"unsupported CA key type {type(key).__name__}")
    return key


def ca_certificate(ca: trustme.CA) -> x509.Certificate:
    return x509.load_pem_x509_certificate(ca.cert_pem.bytes())


def build_crl(ca: trustme.CA, revoked_serials: Iterable[int] = (), *, crl_number: int = 1,
              now: dt.datetime | None = None, last_update: dt.datetime | None = None,
              next_update: dt.datetime | None = None) -> bytes:
    """A DER X.509 CRL signed by `ca` (issued an hour ago, valid seven days), revoking `revoked_serials`.

    A `next_update` in the past gives a stale CRL, as a proxy's cache serves one.
    """
    moment = now or dt.datetime.now(dt.UTC)
    last = last_update or moment - dt.timedelta(hours=1)
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca_certificate(ca).subject)
               .last_update(last)
               .next_update(next_update or moment + dt.timedelta(days=7))
               .add_extension(x509.CRLNumber(crl_number), critical=False))
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(last).build())
    return builder.sign(private_key=_private_key(ca), algorithm=hashes.SHA256()).public_bytes(
        serialization.Encoding.DER)


class CertificateStore:
    """Issues one server certificate per host name from one CA on first use, and keeps its TLS context.

    Thread-safe: the lab issues from its event-loop thread (SNI callback) while tests may ask from theirs.
    """

    def __init__(self, issuer: trustme.CA, *, organization: str, unit: str) -> None:
        self._issuer = issuer
        self._organization = organization
        self._unit = unit
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context_for(self, host: str) -> ssl.SSLContext:
        """A server-side TLS context presenting a certificate for `host` (CN and SAN = host)."""
        name = host.lower().rstrip(".")
        with self._lock:
            ctx = self._contexts.get(name)
            if ctx is None:
                now = dt.datetime.now(dt.UTC)
                leaf = self._issuer.issue_cert(name, common_name=name, organization_name=self._organization,
                                               organization_unit_name=self._unit,
                                               not_before=now - dt.timedelta(days=1),
                                               not_after=now + dt.timedelta(days=180))
                ctx = server_context()
                leaf.configure_cert(ctx)
                self._contexts[name] = ctx
            return ctx

    def name_of(self, ctx: ssl.SSLContext) -> str | None:
        """The host a context returned by `context_for` was issued for (None for any other context)."""
        with self._lock:
            for name, known in self._contexts.items():
                if known is ctx:
                    return name
        return None

    @property
    def issued(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._contexts))


def server_context() -> ssl.SSLContext:
    """A TLS server context as the real endpoints offer it today: TLS 1.2 or later."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


@dataclass(frozen=True)
class LabFiles:
    """The PEM files a client of the lab needs: the lab CAs (``check --lab-microsoft-root``) and the inspecting CA."""

    ca_file: Path
    inspecting_ca_file: Path


def make_ca(common_name: str, organization: str, parent: trustme.CA | None = None, *,
            path_length: int = 1) -> trustme.CA:
    """A CA whose subject carries a common name (what clients show as "issuer"), as a trustme CA.

    trustme's own CAs have no CN; a report naming "Fabrikam TLS Inspection CA" must find one.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    issuer_cert = ca_certificate(parent) if parent is not None else None
    signing_key = _private_key(parent) if parent is not None else key
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=30))
               .not_valid_after(now + dt.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer_cert is not None:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                                        critical=False)
    cert = builder.sign(signing_key, hashes.SHA256())
    ca = trustme.CA.from_pem(cert.public_bytes(serialization.Encoding.PEM),
                             key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    ca.parent_cert = parent  # so leaf chains include this CA's issuer chain (minus the root)
    return ca


class LabPki:
    """The lab's certificate authorities: root -> issuing CA for the origin, and a separate inspecting CA."""

    def __init__(self) -> None:
        self.root = make_ca(LAB_ROOT_NAME, LAB_ORGANIZATION)
        self.issuing = make_ca(LAB_ISSUING_NAME, LAB_ORGANIZATION, self.root, path_length=0)
        self.inspecting = make_ca(INSPECTION_CA_NAME, INSPECTION_ORGANIZATION, path_length=0)
        self.origin_certs = CertificateStore(self.issuing, organization="Microsoft Corporation", unit=LAB_ORGANIZATION)
        self.inspection_certs = CertificateStore(self.inspecting, organization=INSPECTION_ORGANIZATION,
                                                 unit="Fabrikam proxy")

    def write(self, directory: Path) -> LabFiles:
        """Write the two CA certificates as PEM into `directory` (created if missing)."""
        directory.mkdir(parents=True, exist_ok=True)
        ca_file = directory / "lab-root-ca.pem"
        inspecting = directory / "fabrikam-inspection-ca.pem"
        # root and issuing CA together, as a private PKI's bundle usually is: a client that only looks one level
        # up from the leaf finds its issuer in the file
        ca_file.write_bytes(self.root.cert_pem.bytes() + self.issuing.cert_pem.bytes())
        self.inspecting.cert_pem.write_to_path(str(inspecting))
        return LabFiles(ca_file, inspecting)

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only the lab root: what the inspecting proxy uses towards the origin."""
        ctx = ssl.create_default_context(cadata=self.root.cert_pem.bytes().decode("ascii"))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def crl(self) -> bytes:
        """The issuing CA's current CRL (DER), what the lab serves on every CRL path."""
        return build_crl(self.issuing)
