"""Squid native access.log: the real plaso sample line by line, and lines that must be counted as bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from aadc_doctor.logs.proxy_record import BadLine, Verdict
from aadc_doctor.logs.squid import SquidParser, sniff


@pytest.fixture
def sample(corpus: Path) -> list[str]:
    return (corpus / "logs/proxy/plaso_squid_access.log").read_text().splitlines()


def test_every_line_of_the_plaso_sample(sample: list[str]) -> None:
    parser = SquidParser()
    records = [parser.parse(line, n) for n, line in enumerate(sample, 1)]
    assert all(r is not None for r in records)
    first, second, get, hit, ipv6, denied, refresh, tunnel = records  # type: ignore[misc]
    assert (first.time, first.elapsed_ms, first.client) == (1677971734.079, 1234, "1.2.3.4")
    assert (first.host, first.port, first.method, first.status, first.action) == (
        "domain.xyz", 443, "CONNECT", 200, "TCP_TUNNEL")
    assert second.host == "domain.xyz"  # the double space before the last field
    assert (get.host, get.port, get.user, get.verdict) == ("example.com", 80, "user1", Verdict.ALLOWED)
    assert (hit.status, hit.action) == (304, "TCP_HIT")
    assert ipv6.client == "2001:db8::1" and ipv6.status == 404 and ipv6.verdict is Verdict.OTHER
    assert (denied.status, denied.action, denied.method, denied.verdict) == (403, "TCP_DENIED", "POST", Verdict.DENIED)
    assert refresh.host == "cdn.example.com"
    assert (tunnel.user, tunnel.host, tunnel.line_no) == ("user@domain.com", "secure.example.com", 8)
    assert tunnel.start_time == pytest.approx(1677971740.678 - 0.234)


def test_squid_lines_from_a_real_proxy_with_denials_and_connect_failures() -> None:
    parser = SquidParser()
    auth = parser.parse("1795294138.798      0 127.0.0.1 TCP_DENIED/407 3527 CONNECT login.microsoftonline.com:443 "
                        "- HIER_NONE/- text/html")
    failed = parser.parse("1795293920.679      2 127.0.0.1 NONE_NONE/503 0 CONNECT allowed.example.com:8444 - "
                          "HIER_DIRECT/127.0.0.1 -")
    assert auth is not None and auth.status == 407 and auth.verdict is Verdict.DENIED
    assert failed is not None and failed.port == 8444 and failed.verdict is Verdict.OTHER
    no_answer = parser.parse("1795293955.698  35010 127.0.0.1 NONE_NONE/000 0 CONNECT nx.example.com:443 - "
                             "HIER_NONE/- -")
    assert no_answer is not None and no_answer.status == 0 and no_answer.verdict is Verdict.OTHER


def test_a_connection_without_request_is_no_record() -> None:
    line = "1795294138.751      0 127.0.0.1 NONE_NONE/000 0 - error:transaction-end-before-headers - HIER_NONE/- -"
    assert SquidParser().parse(line) is None


def test_timeout_tag_marks_a_tunnel_cut_short() -> None:
    line = "1700000000.000 120000 10.0.5.20 TCP_TUNNEL_TIMEOUT/200 900 CONNECT x-relay.microsoftonline.com:443 - -"
    record = SquidParser().parse(line)
    assert record is not None and record.cut_short and record.verdict is Verdict.ALLOWED


@pytest.mark.parametrize("line", [
    "1677971734.079 1234 1.2.3.4 TCP_TUNNEL/200",  # too few fields
    "yesterday 1234 1.2.3.4 TCP_TUNNEL/200 39 CONNECT domain.xyz:443 -",  # not a time
    "1677971734.079 1234 1.2.3.4 TCP_TUNNEL 39 CONNECT domain.xyz:443 -",  # no code/status
    "1677971734.079 1234 1.2.3.4 TCP_TUNNEL/200 39 CONNECT domain.xyz:99999 -",  # port out of range
    "1677971734.079 1234 1.2.3.4 TCP_TUNNEL/200 39 CONNECT [::1:443 -",  # broken IPv6 literal
])
def test_bad_lines_raise_badline(line: str) -> None:
    with pytest.raises(BadLine):
        SquidParser().parse(line)


def test_sniff(sample: list[str], corpus: Path) -> None:
    assert sniff(sample)
    iis = (corpus / "logs/proxy/plaso_iis6_w3c.log").read_text().splitlines()
    assert not sniff(iis)
    assert not sniff([])


def test_a_tunnel_squid_logs_500_after_carrying_data_went_through() -> None:
    """Squid bug 5274: squid-openssl 5.7 logs about a third of the tunnels it splices after peeking TCP_TUNNEL/500
    (lines as it wrote them for curl, which got its 200 every time, in tests/integration/test_proxylog_proxies.py)."""
    parser = SquidParser()
    spliced = parser.parse("1796527468.215     14 127.0.0.5 TCP_TUNNEL/500 2525 CONNECT login.windows.net:443 - "
                           "HIER_DIRECT/127.243.83.2 -")
    assert spliced is not None and spliced.spurious_500 and spliced.status == 500
    assert spliced.verdict is Verdict.ALLOWED
    through_parent = parser.parse("1796527468.215 14 10.0.0.5 TCP_TUNNEL/500 9000 CONNECT login.windows.net:443 - "
                                  "FIRSTUP_PARENT/10.1.1.1 -")
    assert through_parent is not None and through_parent.verdict is Verdict.ALLOWED


@pytest.mark.parametrize("line", [
    # nothing sent to the client: the tunnel never carried data
    "1796527468.215     14 127.0.0.5 TCP_TUNNEL/500 0 CONNECT login.windows.net:443 - HIER_DIRECT/127.243.83.2 -",
    # no server reached: Squid's own refusal (a down parent, as tests/integration's orphan Squid logs it)
    "1796525815.142      0 127.0.0.1 NONE_NONE/500 0 CONNECT login.microsoftonline.com:40789 - HIER_NONE/- -",
    "1796525815.142      0 127.0.0.1 TCP_TUNNEL/500 3608 CONNECT login.microsoftonline.com:443 - HIER_NONE/- -",
    # another status, or not a tunnel
    "1796527468.215     14 127.0.0.5 TCP_TUNNEL/503 2525 CONNECT login.windows.net:443 - HIER_DIRECT/127.0.0.2 -",
    "1796527468.215     14 127.0.0.5 TCP_MISS/500 2525 GET http://login.windows.net/ - HIER_DIRECT/127.0.0.2 -",
])
def test_a_500_that_is_no_spliced_tunnel_stays_a_failure(line: str) -> None:
    record = SquidParser().parse(line)
    assert record is not None and not record.spurious_500 and record.verdict is Verdict.OTHER
