"""The root CAs Microsoft's endpoints chain to (``data/microsoft_roots.toml``), and the OCSP probe's subject.

A chain for a Microsoft endpoint that contains none of these roots was not issued by Microsoft's PKI: something
in the path re-signs the traffic, whether or not this machine trusts that something.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from aadc_doctor.knowledge import read_toml


@dataclass(frozen=True)
class OcspProbe:
    """The certificate an OCSP probe asks about (a Microsoft intermediate), as an RFC 6960 CertID."""

    certificate: str
    issuer: str
    serial: int
    issuer_name_sha1: bytes
    issuer_key_sha1: bytes


@dataclass(frozen=True)
class MicrosoftRoots:
    names_by_sha256: dict[bytes, str]
    ocsp_probe: OcspProbe

    def name_of(self, sha256: bytes) -> str | None:
        return self.names_by_sha256.get(sha256)


def parse_fingerprint(text: str) -> bytes:
    """'CB:3C:...' or 'cb3c...' -> 32 bytes; ValueError otherwise."""
    raw = bytes.fromhex(text.replace(":", "").replace(" ", ""))
    if len(raw) != 32:
        raise ValueError(f"not a SHA-256 fingerprint: {text!r}")
    return raw


@cache
def load_microsoft_roots() -> MicrosoftRoots:
    data = read_toml("microsoft_roots.toml")
    names = {parse_fingerprint(root["sha256"]): str(root["name"]) for root in data["root"]}
    probe = data["ocsp_probe"]
    ocsp = OcspProbe(str(probe["certificate"]), str(probe["issuer"]), int(probe["serial"], 16),
                     bytes.fromhex(probe["issuer_name_sha1"]), bytes.fromhex(probe["issuer_key_sha1"]))
    return MicrosoftRoots(names, ocsp)
