"""The CLDAP ping (LDAP search over UDP 389 for the Netlogon attribute) that Windows' DC locator sends.

The answer (NETLOGON_SAM_LOGON_RESPONSE_EX, MS-ADTS 6.3.1.9) says which forest, domain and site the DC is in,
which site it thinks the client is in, and what it offers (GC, KDC, time server, writable).
"""

from __future__ import annotations

import secrets
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from aadc_doctor.ad import ber
from aadc_doctor.json_data import json_meta

NTVER_5EX = b"\x06\x00\x00\x00"  # NETLOGON_NT_VERSION_5 | _5EX: ask for the extended response
LOGON_SAM_LOGON_RESPONSE_EX = 23
DS_FLAGS: tuple[tuple[int, str], ...] = (
    (0x1, "PDC"), (0x4, "GC"), (0x8, "LDAP"), (0x10, "DS"), (0x20, "KDC"), (0x40, "TIMESERV"), (0x80, "CLOSEST"),
    (0x100, "WRITABLE"), (0x200, "GOOD_TIMESERV"), (0x400, "NDNC"), (0x800, "SELECT_SECRET_DOMAIN_6"),
    (0x1000, "FULL_SECRET_DOMAIN_6"), (0x2000, "WS"), (0x4000, "DS_8"), (0x8000, "DS_9"), (0x10000, "DS_10"),
)


_ANSWERED = json_meta(skip=True)  # written by json_extra, when the DC answered


@dataclass(frozen=True)
class CldapAnswer:
    """The DC's answer to the ping; as JSON, what it said only when it answered."""

    outcome: str  # "ok" | "no_answer" | "refused" | "bad_answer" | "error"
    ms: float | None = None
    error: str = field(default="", metadata=json_meta(omit_empty=True))
    forest: str = field(default="", metadata=_ANSWERED)
    domain: str = field(default="", metadata=_ANSWERED)
    host: str = field(default="", metadata=_ANSWERED)
    netbios_domain: str = field(default="", metadata=_ANSWERED)
    netbios_host: str = field(default="", metadata=_ANSWERED)
    dc_site: str = field(default="", metadata=_ANSWERED)
    client_site: str = field(default="", metadata=_ANSWERED)
    flags: tuple[str, ...] = field(default_factory=tuple, metadata=_ANSWERED)

    def json_extra(self) -> dict[str, Any]:
        if self.outcome != "ok":
            return {}
        return {name: getattr(self, name) for name in ("forest", "domain", "host", "netbios_domain", "netbios_host",
                                                       "dc_site", "client_site", "flags")}


def ping_request(message_id: int, domain: str) -> bytes:
    """searchRequest base "" scope base, filter (&(DnsDomain=D)(NtVer=\\06\\00\\00\\00)), attributes [Netlogon]."""
    clauses = b""
    if domain:
        clauses += ber.tlv(0xA3, ber.octets("DnsDomain") + ber.octets(domain))
    clauses += ber.tlv(0xA3, ber.octets("NtVer") + ber.octets(NTVER_5EX))
    search = (ber.octets("") + ber.tlv(0x0A, b"\x00") + ber.tlv(0x0A, b"\x00") + ber.integer(0) + ber.integer(0)
              + ber.tlv(0x01, b"\x00") + ber.tlv(0xA0, clauses) + ber.tlv(0x30, ber.octets("Netlogon")))
    return ber.tlv(0x30, ber.integer(message_id) + ber.tlv(0x63, search))


def netlogon_blob(datagram: bytes) -> bytes | None:
    """The Netlogon value of a searchResEntry; None when the answer holds none (a searchResDone alone)."""
    _, message, _ = ber.read_tlv(datagram, 0)
    for tag, op in ber.children(message):
        if tag != 0x64:  # searchResEntry
            continue
        parts = ber.children(op)
        for _, attribute in ber.children(parts[1][1]) if len(parts) > 1 else ():
            pieces = ber.children(attribute)
            if len(pieces) == 2 and pieces[0][1].lower() == b"netlogon":
                values = ber.children(pieces[1][1])
                return values[0][1] if values else None
    return None


def _name(blob: bytes, pos: int) -> tuple[str, int]:
    """A DNS-compressed name (RFC 1035 4.1.4) starting at pos; the position after it."""
    labels: list[str] = []
    end: int | None = None
    hops = 0
    while True:
        if pos >= len(blob):
            raise ValueError("name runs past the end")
        length = blob[pos]
        if length == 0:
            pos += 1
            break
        if length & 0xC0 == 0xC0:
            if pos + 1 >= len(blob):
                raise ValueError("cut pointer")
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | blob[pos + 1]
            hops += 1
            if hops > 32:
                raise ValueError("pointer loop")
            continue
        labels.append(blob[pos + 1:pos + 1 + length].decode("utf-8", "replace"))
        pos += 1 + length
    return ".".join(labels), end if end is not None else pos


def parse_netlogon(blob: bytes) -> dict[str, Any]:
    opcode, _sbz, flags = struct.unpack_from("<HHI", blob, 0)
    if opcode != LOGON_SAM_LOGON_RESPONSE_EX:
        raise ValueError(f"unexpected Netlogon opcode {opcode}")
    pos = 8 + 16  # flags, DomainGuid
    names = []
    for _ in range(8):  # forest, domain, host, NetBIOS domain, NetBIOS host, user, DC site, client site
        name, pos = _name(blob, pos)
        names.append(name)
    return {"flags": tuple(n for bit, n in DS_FLAGS if flags & bit), "forest": names[0], "domain": names[1],
            "host": names[2], "netbios_domain": names[3], "netbios_host": names[4], "dc_site": names[6],
            "client_site": names[7]}


def cldap_ping(address: str, domain: str, timeout: float, port: int = 389) -> CldapAnswer:
    message_id = secrets.randbelow(2**15) + 1
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    start = time.monotonic()
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.connect((address, port))
            sock.send(ping_request(message_id, domain))
            datagram = sock.recv(65535)
    except TimeoutError:
        return CldapAnswer("no_answer", error=f"no answer within {timeout:g} s")
    except ConnectionRefusedError:
        return CldapAnswer("refused", error="port unreachable (ICMP): nothing listens on UDP 389")
    except OSError as exc:
        return CldapAnswer("error", error=exc.strerror or str(exc))
    ms = round((time.monotonic() - start) * 1000, 1)
    try:
        blob = netlogon_blob(datagram)
        if blob is None:
            why = f"no Netlogon answer for domain {domain}" if domain else "no Netlogon answer (not an AD DC?)"
            return CldapAnswer("bad_answer", ms, error=why)
        return CldapAnswer("ok", ms, **parse_netlogon(blob))
    except (ValueError, IndexError, struct.error) as exc:
        return CldapAnswer("bad_answer", ms, error=f"unreadable CLDAP answer: {exc}")
