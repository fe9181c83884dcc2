"""Test PKI on trustme: server certificates for given names, CA PEM files for `--ca-file`, and real DER CRLs.

The CAs with a common name (a corporate inspection PKI's root and issuing CA) and the CRLs are the lab's own
(aadc_doctor/lab/ca.py, re-exported here); what only tests need (plain CAs, leaves for chosen names, PEM files) is
below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import trustme

from aadc_doctor.lab.ca import build_crl as build_crl
from aadc_doctor.lab.ca import ca_certificate as ca_certificate

# The CRL path the articles' CRL endpoint serves (crl.microsoft.com, port 80), percent-encoded as sent on the wire.
MICROSOFT_CRL_PATH = "/pki/mscorp/crl/Microsoft%20RSA%20TLS%20CA%2001.crl"


def make_ca(organization: str) -> trustme.CA:
    """A fresh CA whose certificate names `organization` (shows up as the issuer in TLS results)."""
    return trustme.CA(organization_name=organization)


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
