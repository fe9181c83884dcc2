"""The CLDAP ping: our request decodes as the LDAP message ldap3's own ASN.1 model expects, and a Netlogon
answer with DNS name compression is read back."""

from __future__ import annotations

import struct

import pytest

from aadc_doctor.ad import ber
from aadc_doctor.ad.cldap import LOGON_SAM_LOGON_RESPONSE_EX, netlogon_blob, parse_netlogon, ping_request


def test_request_is_what_ldap3_would_send() -> None:
    """Byte for byte the search ldap3's own encoder builds for the same filter (an independent implementation)."""
    from ldap3 import BASE, DEREF_NEVER
    from ldap3.operation.search import search_operation
    from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
    from pyasn1.codec.ber import encoder

    request = search_operation("", r"(&(DnsDomain=contoso.test)(NtVer=\06\00\00\00))", BASE, DEREF_NEVER,
                               ["Netlogon"], 0, 0, False, True, True)
    message = LDAPMessage()
    message["messageID"] = MessageID(7)
    op = ProtocolOp()
    op["searchRequest"] = request
    message["protocolOp"] = op
    assert ping_request(7, "contoso.test") == encoder.encode(message)


def _labels(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def netlogon_response() -> bytes:
    head = struct.pack("<HHI", LOGON_SAM_LOGON_RESPONSE_EX, 0, 0x1 | 0x4 | 0x20 | 0x100) + bytes(16)
    forest_at = len(head)
    body = _labels("contoso.test")
    body += bytes([0xC0, forest_at])  # domain = forest, compressed
    body += b"\x03dc1" + bytes([0xC0, forest_at])  # host dc1.contoso.test
    body += _labels("CONTOSO") + _labels("DC1") + b"\x00"  # NetBIOS names, no user
    site_at = len(head) + len(body)
    body += _labels("Default-First-Site-Name") + bytes([0xC0, site_at])
    return head + body + struct.pack("<IHH", 5, 0xFFFF, 0xFFFF)


def test_netlogon_response_with_compression() -> None:
    parsed = parse_netlogon(netlogon_response())
    assert parsed == {"flags": ("PDC", "GC", "KDC", "WRITABLE"), "forest": "contoso.test", "domain": "contoso.test",
                      "host": "dc1.contoso.test", "netbios_domain": "CONTOSO", "netbios_host": "DC1",
                      "dc_site": "Default-First-Site-Name", "client_site": "Default-First-Site-Name"}


def test_search_result_entry_carries_the_blob() -> None:
    blob = netlogon_response()
    attribute = ber.tlv(0x30, ber.octets("Netlogon") + ber.tlv(0x31, ber.octets(blob)))
    entry = ber.tlv(0x64, ber.octets("") + ber.tlv(0x30, attribute))
    assert netlogon_blob(ber.tlv(0x30, ber.integer(3) + entry)) == blob
    done = ber.tlv(0x65, ber.tlv(0x0A, b"\x00") + ber.octets("") + ber.octets(""))
    assert netlogon_blob(ber.tlv(0x30, ber.integer(3) + done)) is None


@pytest.mark.parametrize("blob", [b"", struct.pack("<HHI", 19, 0, 0) + bytes(16),
                                  struct.pack("<HHI", 23, 0, 0) + bytes(16) + b"\xc0\x18"])
def test_bad_answers_raise_value_error(blob: bytes) -> None:
    with pytest.raises((ValueError, struct.error)):
        parse_netlogon(blob)
