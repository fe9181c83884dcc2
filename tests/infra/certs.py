"""Lab PKI on trustme: server certificates for given names, CA PEM files for `--ca-file`, and real DER CRLs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

# The CRL path the articles' CRL endpoint serves (crl.microsoft.com, port 80), percent-encoded as sent on the wire.
MICROSOFT_CRL_PATH = "/pki/mscorp/crl/Microsoft%20RSA%20TLS%20CA%2001.crl"


def make_ca(organization: str) -> trustme.CA:
    """A fresh CA whose certificate names `organization` (shows up as the issuer in TLS results)."""
    return trustme.CA(organization_name=organization)


def make_named_ca(common_name: str, organization: str, parent: trustme.CA | None = None, *,
                  path_length: int = 1) -> trustme.CA:
    """A CA whose subject has a common name (what clients show as the issuer), optionally issued by `parent`:
    the two tiers of a corporate inspection PKI (root -> issuing CA)."""
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    issuer_cert = ca_certificate(parent) if parent is not None else None
    signing_key = _ca_key(parent) if parent is not None else key
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=30)).not_valid_after(now + dt.timedelta(days=3650))
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
    ca.parent_cert = parent
    return ca


def _ca_key(ca: trustme.CA) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError(f"unsupported CA key type {type(key).__name__}")
    return key


def issue_server_cert(ca: trustme.CA, hostnames: Iterable[str], *, common_name: str | None = None,
                      not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> trustme.LeafCert:
    """A leaf certificate valid for every name in `hostnames` (DNS names, wildcards or IP addresses).

    `not_after` in the past gives an expired certificate; `not_before` in the future a not-yet-valid one.
    """
    names = list(hostnames)
    if not names:
        raise ValueError("a server certificate needs at least one host name")
    return ca.issue_cert(*names, common_name=common_name, not_before=not_before, not_after=not_after)


def write_ca_pem(ca: trustme.CA, path: Path) -> Path:
    """Write the CA certificate as PEM (what `--ca-file` and `requests(verify=...)` take); returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(path))
    return path


def write_ca_bundle(cas: Iterable[trustme.CA], path: Path) -> Path:
    """Write several CA certificates into one PEM bundle."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(ca.cert_pem.bytes() for ca in cas))
    return path


def write_server_pem(cert: trustme.LeafCert, path: Path) -> Path:
    """Write key + certificate chain as one PEM (what ssl.SSLContext.load_cert_chain takes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cert.private_key_and_cert_chain_pem.write_to_path(str(path))
    return path


def ca_certificate(ca: trustme.CA) -> x509.Certificate:
    return x509.load_pem_x509_certificate(ca.cert_pem.bytes())


def build_crl(ca: trustme.CA, revoked_serials: Iterable[int] = (), *,
              last_update: dt.datetime | None = None, next_update: dt.datetime | None = None,
              crl_number: int = 1) -> bytes:
    """A DER-encoded X.509 CRL signed by `ca`, revoking `revoked_serials`.

    Defaults: issued one hour ago, valid for seven days. Pass a `next_update` in the past for a stale CRL.
    """
    now = dt.datetime.now(dt.UTC)
    last = last_update or now - dt.timedelta(hours=1)
    nxt = next_update or now + dt.timedelta(days=7)
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError(f"unsupported CA key type {type(key).__name__}")
    issuer = ca_certificate(ca).subject
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer)
               .last_update(last)
               .next_update(nxt)
               .add_extension(x509.CRLNumber(crl_number), critical=False))
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(last).build())
    crl = builder.sign(private_key=key, algorithm=hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)
