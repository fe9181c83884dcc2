"""The HTML report's renderer, without a browser: the element tree escapes and refuses what a page must never hold,
the page puts findings first with their ids, the command sections are drawn from typed Results and stay bounded,
and `--output` picks the format by extension. (tests/integration/test_html_report.py opens real reports in
Chromium.)"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliRun

from aadc_doctor.model import Finding, Report, Severity
from aadc_doctor.net.outcome import EndpointResult, EndpointTarget, Outcome, Phase, PhaseTimings
from aadc_doctor.render.html import CSP, report_to_html, results_sections
from aadc_doctor.render.html_check import layer_states
from aadc_doctor.render.html_doc import Element, HtmlError, document, h, link
from aadc_doctor.render.html_proxylog import MAX_TIMELINE_HOSTS, denial_timeline
from aadc_doctor.render.html_pta import MAX_COLUMNS, heat_map
from aadc_doctor.render.html_tables import MAX_ROWS
from aadc_doctor.results.pta import HourReasonCount, ReasonRow
from aadc_doctor.secrets import forgotten_afterwards, register_secret

REPO = Path(__file__).resolve().parents[3]
HOSTILE = "</style><script>alert(1)</script><img src=x onerror=alert(2)>\"'&\x1b[2J"


def _page(node: Element) -> str:
    return document(node)


def _tags(html_text: str) -> set[str]:
    return {m.lower() for m in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html_text)}


# -- the element tree ---------------------------------------------------------------------------------------------

def test_text_and_attributes_are_escaped_and_controls_neutralised() -> None:
    page = _page(h("p", HOSTILE, title=HOSTILE))
    assert "<script" not in page and "<img" not in page and "</style>" not in page
    assert "&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&#x27;&amp;" in page  # both quotes and & escaped, in text and in the attribute
    assert "\x1b" not in page and "␛[2J" in page
    assert _tags(page) == {"p"}
    bidi_and_surrogate = _page(h("p", "file\udcff\u202ename.log"))  # a non-UTF-8 file name, a right-to-left override
    assert bidi_and_surrogate.encode("utf-8") and "file\ufffd\ufffdname.log" in bidi_and_surrogate


@pytest.mark.parametrize(("tag", "attributes"), [
    ("script", {}), ("img", {}), ("iframe", {}), ("link", {}), ("object", {}),
    ("p", {"onclick": "x"}), ("p", {"onmouseover": "x"}), ("svg", {"src": "x"}), ("a", {"href": "javascript:x"}),
    ("a", {"href": "data:text/html,x"}), ("a", {"href": "//evil.example/x"}), ("a", {"ping": "http://e.example"}),
])
def test_the_tree_refuses_what_could_run_or_load(tag: str, attributes: dict[str, str]) -> None:
    with pytest.raises(HtmlError):
        h(tag, "x", **attributes)


def test_a_reference_is_a_link_only_when_it_is_http() -> None:
    assert isinstance(link("https://learn.microsoft.com/x#y"), Element)
    assert link("javascript:alert(1)") == "javascript:alert(1)"
    assert link("S1: Verify proxy connectivity") == "S1: Verify proxy connectivity"


def test_a_registered_secret_never_reaches_the_page() -> None:
    with forgotten_afterwards():
        register_secret("Unit-Html-Canary-77", user="bob")
        page = _page(h("p", "proxy http://bob:Unit-Html-Canary-77@proxy:8080 said no",
                       title="Unit-Html-Canary-77"))
    assert "Unit-Html-Canary-77" not in page and "http://bob:***@proxy:8080" in page


def test_a_huge_value_is_shortened_in_the_middle() -> None:
    page = _page(h("p", "a" * 50_000 + "END"))
    assert len(page) < 12_000 and "characters not shown" in page and page.rstrip().endswith("END</p>")


# -- the page ---------------------------------------------------------------------------------------------------

def _report(findings: list[Finding], results: Any = None, command: str = "check") -> Report:
    report = Report(command=command, findings=findings, results=results)
    report.finished_at = report.started_at
    return report


FINDINGS = [
    Finding("info-one", Severity.INFO, "An info", "detail i"),
    Finding("proxy-forbidden", Severity.ERROR, "Denied a", "detail a", "Allow a", "a:443",
            ("https://learn.microsoft.com/a", "S1: table")),
    Finding("warn-one", Severity.WARNING, "A warning <b>", "detail w", "fix w"),
    Finding("proxy-forbidden", Severity.ERROR, "Denied b", "detail b", "Allow b", "b:443"),
]


def test_findings_come_first_by_severity_with_their_ids_as_element_ids() -> None:
    page = report_to_html(_report(FINDINGS), exit_code=1)
    order = [page.index(f'id="{anchor}"') for anchor in ("proxy-forbidden", "proxy-forbidden-2", "warn-one",
                                                           "info-one")]
    assert order == sorted(order) and order[-1] < page.index('id="results"')
    for finding_id in ("proxy-forbidden", "warn-one", "info-one"):
        assert f'<code class="fid">{finding_id}</code>' in page
    assert '<a href="https://learn.microsoft.com/a" rel="noreferrer noopener">' in page
    assert "<li>S1: table</li>" in page and "A warning &lt;b&gt;" in page
    assert "1: problems found (2 error, 1 warning, 1 info)" in page


def test_the_page_is_self_contained_and_declares_its_policy() -> None:
    page = report_to_html(_report(FINDINGS), exit_code=0)
    assert f'content="{CSP}"'.replace("'", "&#x27;") in page
    assert _tags(page) <= {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4", "table",
                           "tbody", "tr", "th", "td", "code", "nav", "a", "main", "section", "article", "span", "p",
                           "strong", "ul", "li", "footer", "div"}
    assert "@media print" in page and "url(" not in page and "@import" not in page


def test_thousands_of_findings_of_one_id_keep_the_page_bounded() -> None:
    from aadc_doctor.render.html import FULL_PER_ID, ROWS_PER_ID

    many = [Finding("proxylog-required-denied", Severity.ERROR, f"Denied t{i}.example", "x" * 400, "Allow it",
                    f"t{i}.example:443") for i in range(5000)]
    page = report_to_html(_report(many, command="proxylog"), exit_code=1)
    assert page.count('<article class="finding error"') == FULL_PER_ID
    assert 'id="proxylog-required-denied"' in page and f'id="proxylog-required-denied-{FULL_PER_ID + 1}"' in page
    assert f'id="proxylog-required-denied-{FULL_PER_ID + ROWS_PER_ID}"' in page
    assert f'id="proxylog-required-denied-{FULL_PER_ID + ROWS_PER_ID + 1}"' not in page
    assert f"{5000 - FULL_PER_ID - ROWS_PER_ID:,} more not listed" in page and len(page) < 150_000


@dataclass(frozen=True)
class _NewResults:
    """A Results type no renderer is registered for."""

    name: str
    rows: tuple[dict[str, Any], ...]
    note: str | None = None


def test_a_results_type_without_a_renderer_gets_bounded_generic_tables() -> None:
    results = _NewResults("fresh <command>", tuple({"host": f"h{i}.example", "count": i} for i in range(1000)))
    page = document(h("div", results_sections(results)))
    assert "fresh &lt;command&gt;" in page and "h0.example" in page and f"h{MAX_ROWS - 1}.example" in page
    assert f"h{MAX_ROWS}.example" not in page and "900 more rows not shown" in page


def test_the_generic_renderer_handles_any_json_shape() -> None:
    deep = {"a": {"b": {"c": {"d": {"e": "<deep>"}}}}}
    mixed = [1, "two", {"three": 3}, [4]]
    wide = [{f"k{i}": "v" * 100 for i in range(3)}] * 60
    page = document(h("div", results_sections(_NewResults("n", (), None)), results_sections(
        _NewResults("deep", ({"deep": deep, "mixed": mixed, "wide": wide},)))))
    assert "{&quot;e&quot;: &quot;&lt;deep&gt;&quot;}" in page  # past MAX_DEPTH: JSON text, escaped
    assert "<ol><li>1</li><li>two</li>" in page
    assert page.count('<div class="record">') == 50 and "10 more items not shown" in page


# -- check: the layer matrix ---------------------------------------------------------------------------------------

def _endpoint(outcome: Outcome, phase: Phase | None, **timings: float | None) -> EndpointResult:
    target = EndpointTarget(url="https://a.example/", host="a.example", port=443, scheme="https", path="/",
                            kind="https")
    return EndpointResult(target=target, outcome=outcome, phase=phase, phases=PhaseTimings(**timings),
                          connect_status=403 if phase is Phase.CONNECT else 200)


def test_a_layer_matrix_row_shows_where_the_probe_stopped() -> None:
    denied = _endpoint(Outcome.PROXY_FORBIDDEN, Phase.CONNECT, dns_ms=1.0, tcp_ms=2.0, connect_ms=3.0)
    assert [s for s, _ in layer_states(denied)] == ["pass", "pass", "fail", "unreached", "unreached"]
    assert layer_states(denied)[2][1] == "403 3 ms"
    ok = _endpoint(Outcome.OK, None, dns_ms=1.0, tcp_ms=2.0, connect_ms=3.0, tls_ms=4.0, http_ms=5.0)
    assert [s for s, _ in layer_states(ok)] == ["pass"] * 5


# -- proxylog and pta: bounded drawings -----------------------------------------------------------------------------

def test_the_denial_timeline_draws_at_most_its_hosts_and_counts_the_rest() -> None:
    from aadc_doctor.analysis.proxylog_summary import HostTimeline, TimelinePoint

    timeline = [HostTimeline(f"h{i}.microsoftonline.com", 443, 60,
                             (TimelinePoint(f"2026-01-01T00:{i % 60:02d}:00Z", i + 1, {"403": i + 1}),))
                for i in range(100)]
    page = document(h("div", denial_timeline(timeline)))
    assert page.count("<rect") == MAX_TIMELINE_HOSTS
    assert "75 more hosts with denials not shown" in page


def test_the_heat_map_widens_its_buckets_for_a_long_span() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cells = [HourReasonCount((start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:00Z"), 1326 if i % 2 else 1328, 1)
             for i in range(1000)]
    reason = ReasonRow(1326, "ERROR_LOGON_FAILURE", "", "Wrong <password>", 50126, 500, 500, None, None)
    page = document(h("div", heat_map(cells, [reason])))
    rects = page.count("<rect")
    assert rects <= 2 * MAX_COLUMNS and rects >= 2 * (1000 // 12)  # 12-hour buckets: 84 columns per reason
    assert "1326 Wrong &lt;password&gt; (500)" in page and "per 12 hours" in page


def test_pta_results_carry_failures_by_hour_and_reason_matching_the_counts(run_cli: Any, tmp_path: Path) -> None:
    from tests.fixtures.pta import tracegen

    text = "".join(tracegen.failure_entry(tracegen.CURRENT_EXE, tracegen.request_id(i), reason,
                                          tracegen.T0 + timedelta(minutes=40 * i))
                   for i, reason in enumerate((1326, 1326, 1328, 1317, 1326, 1909)))
    (tmp_path / "trace.log").write_text(text)
    out = tmp_path / "pta.html"
    run: CliRun = run_cli("pta", "trace", str(tmp_path / "trace.log"), "--output", str(out))
    assert run.code in (0, 1), run.stderr
    page = out.read_text("utf-8")
    assert "1326 Wrong user name or password (3)" in page and "1909 Account locked out (1)" in page
    assert page.count('id="pta-reason-') == 4


def test_proxy_shows_each_component_and_never_a_machine_config_password(run_cli: Any, tmp_path: Path) -> None:
    from tests.infra.secret_scan import Planted, assert_no_secret

    config = tmp_path / "machine.config"
    config.write_text((REPO / "tests/fixtures/machine_config/valid.config").read_text("utf-8").replace(
        "http://fabrikamproxy:8080", "http://svcproxy:Mc-Html-Canary-55@fabrikamproxy:8080"), "utf-8")
    out = tmp_path / "proxy.html"
    run = run_cli("proxy", "--machine-config", str(config), "--output", str(out))
    assert run.code in (0, 1), run.stderr
    page = out.read_text("utf-8")
    table = page.split("The proxy each component uses", 1)[1].split("</table>", 1)[0]
    assert "Sync engine (ADSync)" in table and "PTA agent" in table
    assert "<code>http://svcproxy:***@fabrikamproxy:8080</code>" in table
    assert_no_secret([Planted("Mc-Html-Canary-55", ("svcproxy",))], [out])


def test_analyze_of_a_hostile_saved_check_report_renders_it_as_text(run_cli: Any, tmp_path: Path) -> None:
    """A saved `check --json` is input: its finding ids, titles and hosts are text, never markup or a link."""
    import json

    saved = {"schema_version": 1, "command": "check", "started_at": "2026-12-01T00:00:00Z",
             "findings": [{"id": "x\" onmouseover=\"alert(1)", "severity": "error", "title": HOSTILE,
                           "detail": "d", "remedy": "r", "subject": "s", "references": ["javascript:alert(1)"]}],
             "results": {"proxy": {"source": "--proxy"},
                         "endpoints": [{"host": "<b>h</b>", "port": 443, "outcome": "ok"}]}}
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "check-sync.json").write_text(json.dumps(saved), "utf-8")
    out = tmp_path / "analyze.html"
    run = run_cli("analyze", str(folder), "--today", "2026-12-05", "--output", str(out))
    assert run.code == 1, run.stderr
    page = out.read_text("utf-8")
    assert _tags(page).isdisjoint({"script", "img", "b"}) and 'href="javascript' not in page
    assert 'id="x&quot; onmouseover=&quot;alert(1)"' in page and "<li>javascript:alert(1)</li>" in page
    assert "onmouseover=\"" not in page


def test_analyze_draws_the_pta_analyser_as_pta_does_with_its_heat_map(tmp_path: Path) -> None:
    """`analyze` carries the typed PTA results: its report shows failures by hour × reason, with paths relative to the
    input root, and the JSON of the run is `pta`'s own."""
    from datetime import date

    from aadc_doctor.analysis.pta import PtaEvidence, analyse
    from aadc_doctor.analysis.security_events import SignInAttempt
    from aadc_doctor.analyze.run import AnalyserRun, AnalysisResult, _relative
    from aadc_doctor.json_data import to_json_data
    from aadc_doctor.results.pta import PtaResults

    evidence = PtaEvidence()
    start = datetime(2026, 12, 5, 8, tzinfo=UTC)
    trace = f"{tmp_path}/Trace/agent.log"
    for i, reason in enumerate((1326, 1326, 1326, 1909, 1328)):
        evidence.add_attempt(SignInAttempt(time=start + timedelta(minutes=50 * i), failed=True, reason=reason,
                                           origin="trace", from_agent=True, request_id=f"req-{i}", file=trace))
    findings, pta = analyse(evidence, expect_agent=False)
    run = _relative(AnalyserRun("pta", "ok", ("Trace/agent.log",), findings=tuple(findings), results=pta), tmp_path)
    assert isinstance(run.results, PtaResults)
    assert {r.attempt.file for r in run.results.requests} == {"Trace/agent.log"}
    assert to_json_data(run.results) == {**to_json_data(pta), "requests": [
        {**r, "file": "Trace/agent.log"} for r in to_json_data(pta)["requests"]]}
    result = AnalysisResult(str(tmp_path), "folder", date(2026, 12, 5), {}, None, (run,), tuple(findings))
    page = report_to_html(_report(findings, result, command="analyze"), exit_code=1)
    section = page.split("pta: the analyser", 1)[1]
    heat = section.split("Failures by hour and reason", 1)[1].split("</svg>", 1)[0]
    assert "1326 Wrong user name or password (3)" in heat and "1909 Account locked out (1)" in heat
    assert heat.count("<rect") == 3 * 4  # three reasons, four hours (08:00 to 11:20)
    assert "Failed PTA requests, latest first (5)" in section and "req-4" in section


def test_collect_shows_its_zip_and_what_could_not_be_collected() -> None:
    from aadc_doctor.results import CollectResults

    manifest = {"schema": 1, "host": "AADC01", "collected_at": "2026-12-05T08:00:00Z", "tool_version": "0.1.0",
                "options": {"since_days": 7, "max_mb": 200, "redact": True}, "redacted": True,
                "not_collected": [{"source": "wevtutil epl Security", "reason": "Access is denied <5>"}],
                "absent": [], "trimmed": [{"path": "ProgramData/x.log", "source": "trace", "size": 2048,
                                           "reason": "older than --since"}]}
    results = CollectResults("C:\\cases\\case.zip", 12, 345_678, "C:\\cases\\case.redaction-map.json",
                             ("trimmed 1 file",), manifest)
    page = report_to_html(_report([], results, command="collect"), exit_code=0)
    assert "C:\\cases\\case.zip" in page and "345,678 bytes" in page and "trimmed 1 file" in page
    gaps = page.split("Could not be collected (1)", 1)[1].split("</table>", 1)[0]
    assert "wevtutil epl Security" in gaps and "Access is denied &lt;5&gt;" in gaps
    assert "Left out (1)" in page and "2.0 KB" in page and "Files (" not in page


# -- the CLI ----------------------------------------------------------------------------------------------------

def test_output_chooses_the_format_by_extension(run_cli: Any, tmp_path: Path) -> None:
    html_path, json_path = tmp_path / "r.HTML", tmp_path / "r.json"
    assert run_cli("helpmsg", "1328", "--output", str(html_path)).code == 0
    assert html_path.read_text("utf-8").startswith("<!DOCTYPE html>")
    assert run_cli("helpmsg", "1328", "--output", str(json_path)).code == 0
    assert json_path.read_text("utf-8").startswith("{")


def test_an_unknown_output_extension_is_refused_before_the_command_runs(run_cli: Any, tmp_path: Path) -> None:
    run = run_cli("pta", "trace", str(tmp_path / "missing.log"), "--output", str(tmp_path / "r.txt"))
    assert run.code == 2 and "must end in .json or .html" in run.stderr and "missing.log" not in run.stderr
    assert not (tmp_path / "r.txt").exists()
    assert run_cli("helpmsg", "1328", "--output", "").code == 2


def test_a_hostile_log_line_is_text_in_the_report(run_cli: Any, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        "1454502729.123 45 10.0.5.20 TCP_DENIED/403 3900 CONNECT login.microsoftonline.com:443 - HIER_NONE/- -\n"
        f"1454502731.123 {HOSTILE} line about microsoftonline.com\n"
        "1454502732.123 45 10.0.5.20 TCP_DENIED/403 3900 CONNECT login.microsoftonline.com:443 - HIER_NONE/- -\n")
    out = tmp_path / "r.html"
    run = run_cli("proxylog", str(log), "--output", str(out))
    assert run.code in (0, 1), run.stderr
    page = out.read_text("utf-8")
    assert "&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page and "<img" not in page and page.count("</style>") == 1
