"""W3C extended logs mapped by field name: Blue Coat ELFF and IIS samples from the corpus, a TMG fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from aadc_doctor.logs.proxy_record import BadLine, ProxyRecord, Verdict
from aadc_doctor.logs.w3c import W3CParser, sniff

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "proxylog"


def _parse_all(path: Path) -> tuple[list[ProxyRecord], int]:
    parser = W3CParser()
    records: list[ProxyRecord] = []
    headers = 0
    for n, line in enumerate(path.read_bytes().decode().splitlines(), 1):
        record = parser.parse(line, n)
        if record is None:
            headers += 1
        else:
            records.append(record)
    return records, headers


def test_blue_coat_elff_sample(corpus: Path) -> None:
    records, headers = _parse_all(corpus / "logs/proxy/stroom-docs_sampleBluecoat_w3c-elff.log")
    assert (len(records), headers) == (29, 4)
    first = records[0]
    assert (first.client, first.host, first.port, first.method) == ("45.110.2.82", "www.inmobus.com", 80, "GET")
    assert (first.status, first.action, first.user, first.elapsed_ms) == (200, "TCP_HIT", "george", 1)
    assert first.time == 1115226972.0  # 2005-05-04 17:16:12 UTC
    assert sum(r.action == "TCP_HIT" for r in records) == 22
    assert sum(r.action == "TCP_NC_MISS" for r in records) == 7
    assert records[-1].status == 401 and records[-1].user == ""
    assert all(r.verdict is not Verdict.DENIED for r in records)


@pytest.mark.parametrize(("name", "count", "host", "port"), [
    ("plaso_iis6_w3c.log", 11, "10.10.10.100", 80),
    ("plaso_iis10_w3c.log", 1, "111.111.111.111", 80),
])
def test_iis_samples_use_the_server_as_destination(corpus: Path, name: str, count: int, host: str, port: int) -> None:
    records, _ = _parse_all(corpus / "logs/proxy" / name)
    assert len(records) == count
    assert {(r.host, r.port) for r in records} == {(host, port)}
    assert records[0].elapsed_ms in (None, 65)


def test_tmg_result_codes_become_407_and_403() -> None:
    records, headers = _parse_all(FIXTURES / "tmg_w3c_webproxy.log")
    assert headers == 4 and len(records) == 6
    login, admin, anchor_auth, anchor, provisioning, intranet = records
    assert (login.host, login.port, login.method, login.client) == ("login.microsoftonline.com", 443, "CONNECT",
                                                                    "10.0.5.20")
    assert login.user == "CONTOSO\\aadadmin" and login.elapsed_ms == 182
    assert (anchor_auth.status, anchor_auth.verdict) == (407, Verdict.DENIED)
    assert (login.status, anchor.status, anchor.verdict) == (200, 200, Verdict.ALLOWED)  # TMG: 0 = tunnel succeeded
    assert (provisioning.status, provisioning.verdict) == (403, Verdict.DENIED)
    assert (intranet.host, intranet.port) == ("www.contoso-intranet.com", 80)
    assert admin.time is not None and admin.time - login.time == 38  # type: ignore[operator]


def test_fields_can_change_mid_file_and_quoted_values_keep_spaces() -> None:
    parser = W3CParser()
    assert parser.parse("#Fields: date time c-ip cs-method cs-host cs-uri-port sc-status s-action") is None
    a = parser.parse("2024-05-01 10:00:00 10.0.0.1 CONNECT login.microsoftonline.com 443 407 TCP_DENIED")
    assert a is not None and a.verdict is Verdict.DENIED
    assert parser.parse('#Fields: date time c-ip cs-uri sc-status cs(User-Agent) sc-filter-result') is None
    b = parser.parse('2024-05-01 10:00:01 10.0.0.2 https://graph.windows.net/x 200 "Mozilla 5.0 (X)" DENIED')
    assert b is not None and (b.host, b.port, b.verdict) == ("graph.windows.net", 443, Verdict.DENIED)


@pytest.mark.parametrize(("line", "reason"), [
    ("2024-05-01 10:00:00 10.0.0.1 CONNECT", "values for"),
    ("2024/05/01 10:00:00 10.0.0.1 CONNECT login.microsoftonline.com 443 200 TCP_TUNNEL", "YYYY-MM-DD"),
    ("2024-13-45 10:00:00 10.0.0.1 CONNECT login.microsoftonline.com 443 200 TCP_TUNNEL", "impossible"),
])
def test_bad_lines(line: str, reason: str) -> None:
    parser = W3CParser()
    parser.parse("#Fields: date time c-ip cs-method cs-host cs-uri-port sc-status s-action")
    with pytest.raises(BadLine, match=reason):
        parser.parse(line)


def test_data_before_fields_is_bad() -> None:
    with pytest.raises(BadLine, match="before any #Fields"):
        W3CParser().parse("2024-05-01 10:00:00 10.0.0.1")


def test_sniff(corpus: Path) -> None:
    assert sniff((corpus / "logs/proxy/plaso_iis10_w3c.log").read_text().splitlines())
    assert not sniff((corpus / "logs/proxy/plaso_squid_access.log").read_text().splitlines())


def test_tmg_tab_separated_values_keep_their_spaces() -> None:
    """TMG writes W3C logs with tabs between fields and spaces inside values (rule names, GMT-Time)."""
    fields = ["c-ip", "cs-username", "date", "time", "r-host", "r-port", "s-operation", "cs-uri", "sc-status", "rule",
              "GMT-Time"]
    parser = W3CParser()
    parser.parse("#Fields: " + "\t".join(fields))
    values = ["10.0.5.20", "CONTOSO\\svc", "2024-05-01", "08:31:04", "adminwebservice.microsoftonline.com", "443",
              "CONNECT", "adminwebservice.microsoftonline.com:443", "12202", "Deny Internet Access",
              "2024-05-01 08:31:04"]
    record = parser.parse("\t".join(values) + "\t", 5)
    assert record is not None
    assert (record.host, record.port, record.status, record.client) == (
        "adminwebservice.microsoftonline.com", 443, 403, "10.0.5.20")
    with pytest.raises(BadLine, match="14 values for 11"):  # a space-separated line still counts its values
        parser.parse(" ".join(values), 6)
