"""The articles' connect:// listing: the corpus TSV, the seed article's own markdown tables, bare lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import SEEDS

from aadc_doctor.logs.listing import ListingParser, sniff
from aadc_doctor.logs.proxy_record import BadLine, ProxyRecord, Verdict

SEED = SEEDS / "000_7b02501e1c753b8b.txt"


def _records(text: str) -> list[ProxyRecord]:
    parser = ListingParser()
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        record = parser.parse(line, n)
        if record is not None:
            out.append(record)
    return out


def test_corpus_tsv_with_its_one_slash_url(corpus: Path) -> None:
    records = _records((corpus / "logs/aadconnect/msdocs_reference_proxy_log.tsv").read_text())
    assert len(records) == 21
    first = records[0]
    assert (first.host, first.port, first.method) == ("login.microsoftonline.com", 443, "CONNECT")
    assert first.stage == "Connect to Microsoft Entra ID"
    assert first.time == 1452501060.0  # 1/11/2016 8:31 read as January 11 (US order), UTC
    assert (first.status, first.verdict, first.client) == (None, Verdict.UNKNOWN, "")
    assert [r.stage for r in records].count("Configure") == 11
    assert records[-1].stage == "Initial sync" and records[-1].host == "bba800-anchor.microsoftonline.com"


def test_the_seed_articles_markdown_tables() -> None:
    records = _records(SEED.read_text())
    assert len(records) == 21
    stages = [r.stage for r in records]
    assert stages[:6] == ["Connect to Azure AD"] * 6
    assert stages[6:17] == ["Configure"] * 11 and stages[17:] == ["Initial Sync"] * 4
    assert records[2].host == "bba800-anchor.microsoftonline.com"  # the article's italics *bba800-anchor*
    assert records[17].host == "login.windows.net"


def test_bare_lines_times_and_stage_headings() -> None:
    text = "\n".join([
        "__Configure__",
        "connect://login.microsoftonline.com:443",
        "2016-01-11 08:43:10 connect://bba800-anchor.microsoftonline.com",
        "1/13/2016 2:05 PM connect://provisioningapi.microsoftonline.com:443",
        "13/1/2016 14:05 connect://x-relay.microsoftonline.com:443",
        "some prose without a URL",
    ])
    a, b, c, d = _records(text)
    assert a.time is None and a.stage == "Configure"
    assert (b.port, b.time) == (443, 1452501790.0)
    assert c.time == d.time == 1452693900.0  # 13 January 2016 14:05, PM and day-first both understood


def test_impossible_time_is_a_bad_line() -> None:
    with pytest.raises(BadLine):
        ListingParser().parse("| 1/11/2016 28:31 |connect://login.microsoftonline.com:443 |")


def test_sniff(corpus: Path) -> None:
    assert sniff(["| Time | URL |", "| 1/11/2016 8:31 |connect://login.microsoftonline.com:443 |"])
    assert not sniff((corpus / "logs/proxy/plaso_squid_access.log").read_text().splitlines())
