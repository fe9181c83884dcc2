"""Phase reconstruction against the article's reference sequences."""

from __future__ import annotations

from pathlib import Path

from aadc_doctor.analysis.phases import ClientPhases, PhaseSummary, summarise
from aadc_doctor.knowledge.communication_pattern import load_pattern
from aadc_doctor.logs.listing import ListingParser
from aadc_doctor.logs.proxy_record import Verdict

PATTERN = load_pattern()


def _feed(phases: ClientPhases, hosts: list[str], *, start: float = 1000.0, step: float = 10.0,
          verdicts: dict[int, Verdict] | None = None, status: int | None = 200) -> None:
    for i, host in enumerate(hosts):
        token = PATTERN.token_for(host, 443)
        assert token is not None, host
        verdict = (verdicts or {}).get(i, Verdict.ALLOWED)
        phases.feed(token, start + i * step, verdict, host, 443, 403 if verdict is Verdict.DENIED else status, "")


def _hosts(phase_id: str) -> list[str]:
    phase = next(p for p in PATTERN.phases if p.id == phase_id)
    return [s.url.split("//", 1)[1].rsplit(":", 1)[0].replace("*", "") for s in phase.steps]


def test_the_pattern_data_is_the_articles_three_tables() -> None:
    assert [p.name for p in PATTERN.phases] == ["Connect to Azure AD", "Configure", "Initial Sync"]
    assert [len(p.steps) for p in PATTERN.phases] == [6, 11, 4]
    assert PATTERN.token_for("bn1bba800-anchor.microsoftonline.com", 443) == "anchor"
    assert PATTERN.token_for("xyz-relay.microsoftonline.com", 443) == "relay"
    assert PATTERN.token_for("login.microsoftonline.com", 80) is None
    assert PATTERN.token_for("graph.windows.net", 443) is None


def test_the_corpus_reference_listing_is_three_complete_phases(corpus: Path) -> None:
    phases = ClientPhases(PATTERN)
    parser = ListingParser()
    for line in (corpus / "logs/aadconnect/msdocs_reference_proxy_log.tsv").read_text().splitlines():
        record = parser.parse(line)
        if record is not None:
            token = PATTERN.token_for(record.host, record.port)
            assert token is not None
            phases.feed(token, record.time, record.verdict, record.host, record.port, record.status, "")
    results = phases.results()
    assert [(p.id, p.status, p.in_order) for p in results] == [
        ("connect", "complete", True), ("configure", "complete", True), ("initial-sync", "complete", True)]
    assert results[0].first_seen == "2016-01-11T08:31:00Z" and results[2].last_seen == "2016-01-11T08:49:00Z"
    assert summarise(results) == PhaseSummary(None, ("connect", "configure", "initial-sync"), None)


def test_a_denied_step_is_where_the_sequence_stops() -> None:
    phases = ClientPhases(PATTERN)
    hosts = _hosts("connect")
    _feed(phases, hosts[:4])
    _feed(phases, [hosts[4]] * 3, start=1100, verdicts={0: Verdict.DENIED, 1: Verdict.DENIED, 2: Verdict.DENIED})
    results = phases.results()
    connect = results[0]
    assert (connect.status, connect.matched_steps) == ("partial", 4)
    assert connect.next_step.expects == "provisioningapi.microsoftonline.com:443"
    assert connect.blocked.status == 403 and connect.blocked.count == 3
    assert summarise(results) == PhaseSummary(None, (), "connect")


def test_a_long_gap_restarts_the_phase() -> None:
    phases = ClientPhases(PATTERN)
    hosts = _hosts("connect")
    _feed(phases, hosts[:3], start=0)
    _feed(phases, hosts[3:], start=PATTERN.max_step_gap_seconds + 100)  # the rest comes much later
    assert phases.results()[0].status == "partial"
    _feed(phases, hosts, start=10 * PATTERN.max_step_gap_seconds)
    assert phases.results()[0].status == "complete"


def test_sync_only_traffic_still_shows_initial_sync() -> None:
    phases = ClientPhases(PATTERN)
    _feed(phases, _hosts("initial-sync") * 3)
    results = phases.results()
    assert [p.status for p in results] == ["not_seen", "not_seen", "complete"]
    assert results[2].in_order is False
    assert summarise(results) == PhaseSummary(None, ("initial-sync",), None)


def test_nothing_seen() -> None:
    results = ClientPhases(PATTERN).results()
    assert summarise(results) == PhaseSummary()
    assert results[0].next_step.step == 1
