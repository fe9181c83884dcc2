"""The lab DNS server's answers, built and parsed with dnspython messages (no sockets)."""

from __future__ import annotations

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from aadc_doctor.lab.dns import LabDns


def _ask(server: LabDns, name: str, rdtype: str = "A") -> dns.message.Message:
    wire = server.answer(dns.message.make_query(name, rdtype).to_wire(), "127.0.0.1")
    assert wire is not None
    return dns.message.from_wire(wire)


def test_unknown_names_get_nxdomain_and_are_recorded() -> None:
    server = LabDns()
    reply = _ask(server, "login.microsoftonline.com")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert not reply.answer
    assert [(q.name, q.rdtype, q.rcode) for q in server.queries] == [("login.microsoftonline.com", "A", "NXDOMAIN")]


def test_known_names_get_their_loopback_address_and_nodata_for_other_types() -> None:
    server = LabDns({"Fabrikamproxy.": "127.0.0.1"})
    reply = _ask(server, "fabrikamproxy")
    assert reply.rcode() == dns.rcode.NOERROR
    assert [r.address for r in reply.answer[0]] == ["127.0.0.1"]
    nodata = _ask(server, "fabrikamproxy", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR
    assert not nodata.answer


def test_records_outside_loopback_are_refused_so_nothing_can_lead_off_host() -> None:
    with pytest.raises(ValueError, match="only loopback"):
        LabDns({"login.microsoftonline.com": "20.190.151.68"})


def test_junk_datagrams_get_no_answer() -> None:
    assert LabDns().answer(b"\x00\x01garbage", "127.0.0.1") is None


def test_a_query_without_question_is_a_format_error() -> None:
    query = dns.message.make_query("x.example", dns.rdatatype.A)
    query.question = []
    wire = LabDns().answer(query.to_wire(), "127.0.0.1")
    assert wire is not None
    assert dns.message.from_wire(wire).rcode() == dns.rcode.FORMERR
