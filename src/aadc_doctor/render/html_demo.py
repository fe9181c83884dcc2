"""`demo` in the HTML report: each scenario with its verdict, then, per scenario, the findings of the run it judged
and, for a `check` run, every endpoint's outcome (the judged reports are JSON: the verdict compares JSON reports)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aadc_doctor.render.html_doc import Element, h
from aadc_doctor.render.html_tables import FindingIndex, kv_table, table

if TYPE_CHECKING:
    from aadc_doctor.results import DemoResults, DemoScenarioRun

OUTCOME_BADGE = {"ok": "ok", "http_error": "warn"}


def _verdict(passed: bool) -> Element:
    return h("span", "as expected" if passed else "NOT as expected", class_=f"badge {'ok' if passed else 'fail'}")


def _findings(report: Mapping[str, Any] | None) -> Element | str:
    findings: Sequence[Mapping[str, Any]] = (report or {}).get("findings") or []
    if not findings:
        return h("p", "No findings.", class_="note")
    return table(["Severity", "Id", "Title"],
                 ([h("span", str(f.get("severity")), class_=f"badge {f.get('severity')}"), h("code", str(f.get("id"))),
                   f.get("title")] for f in findings))


def _endpoints(report: Mapping[str, Any] | None) -> Element | None:
    endpoints: Sequence[Mapping[str, Any]] = ((report or {}).get("results") or {}).get("endpoints") or []
    if not endpoints:
        return None
    return table(["Endpoint", "Outcome", "CONNECT", "HTTP", "Detail"],
                 ([h("code", f"{e.get('host')}:{e.get('port')}"),
                   h("span", str(e.get("outcome")), class_=f"badge {OUTCOME_BADGE.get(str(e.get('outcome')), 'fail')}"),
                   e.get("connect_status"), e.get("http_status"), e.get("error") or "–"] for e in endpoints),
                 numeric=(2, 3))


def _scenario(run: DemoScenarioRun) -> Element:
    parts: list[Element | str | None] = [
        h("summary", f"{run.name}: {run.title} ", _verdict(run.passed)),
        h("p", h("strong", "Command: "), h("code", "aadc-doctor " + " ".join(run.argv))),
        h("ul", (h("li", problem) for problem in run.problems), class_="refs") if run.problems else None,
    ]
    if run.runs:
        for account in run.runs:
            parts += [h("h4", f"{account.title} ({account.upn}) ", _verdict(account.passed)), _findings(account.report)]
    else:
        parts += [h("h4", "Findings of the judged run"), _findings(run.report), _endpoints(run.report)]
    return h("details", parts, open=True)


def sections(results: DemoResults, _links: FindingIndex) -> list[Element]:
    passed = sum(1 for run in results.scenarios if run.passed)
    out: list[Element] = [
        kv_table([("Scenarios", f"{passed} of {len(results.scenarios)} diagnosed as expected"),
                  ("Time", f"{results.wall_s:.1f} s")]),
        table(["Scenario", "Kind", "Verdict", "Findings", "Time"],
              ([h("span", h("strong", run.name), h("div", run.title, class_="muted")), run.kind, _verdict(run.passed),
                ", ".join(str(f.get("id")) for f in (run.report or {}).get("findings") or []) or "–",
                f"{run.elapsed_s:.1f} s"] for run in results.scenarios), numeric=(4,)),
    ]
    out += [_scenario(run) for run in results.scenarios]
    return out
