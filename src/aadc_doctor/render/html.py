"""The HTML report (`--output report.html`): one self-contained page an admin can mail to the proxy team.

Inline CSS and inline SVG, no script, nothing loaded: a Content-Security-Policy ``<meta>`` (``default-src
'none'``) makes a browser refuse any load even if a bug slipped one in. Readable offline and printable
(``@media print``: tables wrap instead of being clipped, each section starts a page).

Layout: a header (command, tool version, host, time, exit status), the findings first (errors, warnings,
info; each with its id as an element id, detail, remedy and references), then the command's section, drawn by
the renderer registered for its Results type in HTML_RENDERERS (a module with ``sections(results, links) ->
list[Element]``, ``links`` telling where each finding is on the page), or by the generic table renderer
(``html_tables.generic_sections``) when none is.

Every string goes through ``html_doc`` (escaped, secrets scrubbed, controls neutralised, bounded).
"""

from __future__ import annotations

import importlib
import platform
from typing import Any

from aadc_doctor import __version__
from aadc_doctor.errors import ExitCode
from aadc_doctor.model import Finding, Report, Severity, sorted_findings, utc_now
from aadc_doctor.render.html_doc import Css, Element, document, h, link
from aadc_doctor.render.html_tables import FindingIndex, generic_sections, kv_table

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

# Results class name -> the module drawing it (imported on use). A Results type missing here is drawn by the
# generic renderer, so a new command always has its section.
HTML_RENDERERS: dict[str, str] = {
    "CheckResults": "aadc_doctor.render.html_check",
    "ProxylogResults": "aadc_doctor.render.html_proxylog",
    "PtaResults": "aadc_doctor.render.html_pta",
    "AnalysisResult": "aadc_doctor.render.html_analyze",
    "ProxyResults": "aadc_doctor.render.html_proxy",
    "DemoResults": "aadc_doctor.render.html_demo",
    "CollectResults": "aadc_doctor.render.html_collect",
}

SEVERITY_LABEL = {Severity.ERROR: "Error", Severity.WARNING: "Warning", Severity.INFO: "Info"}
VERDICT = {
    ExitCode.OK: "nothing wrong",
    ExitCode.PROBLEMS_FOUND: "problems found",
    ExitCode.USAGE_OR_INPUT: "usage or input error",
    ExitCode.INCOMPLETE: "the run could not complete",
    ExitCode.INTERNAL: "internal error",
    ExitCode.INTERRUPTED: "interrupted",
}

STYLE = Css("""
:root { --ok: #1a7f37; --ok-bg: #dafbe1; --err: #b42318; --err-bg: #fee4e2; --warn: #9a6700; --warn-bg: #fff4cc;
  --info: #0b5cad; --info-bg: #ddf4ff; --muted: #59636e; --line: #d0d7de; --skip-bg: #f3f4f6; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #1f2328;
  margin: 0 auto; padding: 16px 24px 40px; max-width: 1400px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 18px; border-bottom: 2px solid var(--line);
  padding-bottom: 4px; margin-top: 28px; } h3 { font-size: 15px; margin: 20px 0 6px; } h4 { margin: 12px 0 4px; }
code, pre { font-family: ui-monospace, "Cascadia Mono", Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; }
a { color: var(--info); overflow-wrap: anywhere; }
header { border-bottom: 3px solid var(--line); padding-bottom: 8px; }
nav { margin: 8px 0; } nav a { margin-right: 14px; }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
table.kv th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
div.scroll { overflow-x: auto; max-width: 100%; }
div.record { border-left: 3px solid var(--line); padding-left: 8px; margin: 10px 0; }
div.record table.kv { width: 100%; } div.record table.kv th { width: 180px; }
p.more, p.note, .muted { color: var(--muted); font-size: 12.5px; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; font-weight: 600;
  white-space: nowrap; border: 1px solid transparent; }
.badge.error, .badge.fail { background: var(--err-bg); color: var(--err); border-color: var(--err); }
.badge.warning, .badge.warn { background: var(--warn-bg); color: var(--warn); border-color: var(--warn); }
.badge.info { background: var(--info-bg); color: var(--info); border-color: var(--info); }
.badge.ok { background: var(--ok-bg); color: var(--ok); border-color: var(--ok); }
.badge.skip { background: var(--skip-bg); color: var(--muted); border-color: var(--line); }
.verdict-ok { color: var(--ok); } .verdict-bad { color: var(--err); }
article.finding { border: 1px solid var(--line); border-left-width: 6px; border-radius: 4px; padding: 8px 12px;
  margin: 8px 0; break-inside: avoid; }
article.finding.error { border-left-color: var(--err); } article.finding.warning { border-left-color: var(--warn); }
article.finding.info { border-left-color: var(--info); }
article.finding h4 { margin: 0 0 4px; font-size: 15px; }
article.finding p { margin: 4px 0; }
code.fid { background: #f6f8fa; padding: 0 5px; border-radius: 3px; margin-left: 6px; font-size: 12px; }
.fix strong { color: var(--ok); }
ul.refs { margin: 4px 0; padding-left: 20px; font-size: 12.5px; }
.pass { background: var(--ok-bg); } .fail { background: var(--err-bg); color: var(--err); font-weight: 600; }
.warn { background: var(--warn-bg); } .unused { background: #fff; color: var(--muted); }
.unreached { background: var(--skip-bg); color: var(--muted); }
td.layer { white-space: nowrap; }
.legend span { margin-right: 12px; } .legend .swatch { display: inline-block; width: 12px; height: 12px;
  border: 1px solid var(--line); vertical-align: -2px; margin-right: 4px; }
svg { max-width: 100%; height: auto; display: block; margin: 6px 0; font-family: system-ui, Arial, sans-serif; }
details { margin: 6px 0; } summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 32px; border-top: 1px solid var(--line); padding-top: 6px; color: var(--muted); font-size: 12px; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  nav { display: none; }
  div.scroll { overflow: visible; }
  th, td { overflow-wrap: anywhere; }
  thead th { position: static; }
  table { width: 100%; table-layout: auto; }
  tr, article.finding { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  main > section + section { break-before: page; page-break-before: always; }
  h3, h4 { break-after: avoid; page-break-after: avoid; }
  details > * { display: block; }
  a { color: inherit; text-decoration: none; }
}
""")


def report_to_html(report: Report, *, exit_code: int | None = None) -> str:
    """The whole page for one report."""
    findings = sorted_findings(report.findings)
    page = h("html",
             h("head",
               h("meta", charset="utf-8"),
               h("meta", http_equiv="Content-Security-Policy", content=CSP),
               h("meta", name="viewport", content="width=device-width, initial-scale=1"),
               h("meta", name="referrer", content="no-referrer"),
               h("title", f"aadc-doctor {report.command} report"),
               h("style", STYLE)),
             h("body",
               _header(report, findings, exit_code),
               h("main", _findings_section(findings), _results_section(report, findings)),
               h("footer", f"aadc-doctor {__version__}. This page is self-contained: no script, nothing loaded "
                           "from the network (links open only when clicked). Secrets are removed as in every other "
                           "output.")),
             lang="en")
    return document(page)


def _header(report: Report, findings: list[Finding], exit_code: int | None) -> Element:
    counts = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    tally = ", ".join(f"{counts[s]} {SEVERITY_LABEL[s].lower()}" for s in (Severity.ERROR, Severity.WARNING,
                                                                            Severity.INFO))
    if exit_code is None:
        status: Element | str = tally
    else:
        try:
            meaning = VERDICT[ExitCode(exit_code)]
        except ValueError:
            meaning = "unknown"
        status = h("strong", f"{exit_code}: {meaning} ({tally})",
                   class_="verdict-ok" if exit_code == 0 else "verdict-bad")
    return h("header",
             h("h1", f"aadc-doctor {report.command}"),
             kv_table([("Command", h("code", f"aadc-doctor {report.command}")),
                       ("Tool version", __version__),
                       ("Host", platform.node() or "unknown"),
                       ("Started", report.started_at),
                       ("Finished", report.finished_at or utc_now()),
                       ("Exit status", status)]),
             h("nav", h("a", f"Findings ({len(findings)})", href="#findings"),
               h("a", f"{report.command} results", href="#results")))


FULL_PER_ID = 10  # findings of one id drawn whole; later ones of that id are table rows (title, subject)
ROWS_PER_ID = 200  # ... and past that only counted: a log with 5,000 denied hosts must not make a 10 MB page


def finding_anchors(findings: list[Finding]) -> list[str | None]:
    """The element id of each finding (in severity order): its id, with -2, -3... for later findings of the same id;
    None for a finding only counted (past FULL_PER_ID + ROWS_PER_ID of its id)."""
    seen: dict[str, int] = {}
    anchors: list[str | None] = []
    for finding in findings:
        seen[finding.id] = number = seen.get(finding.id, 0) + 1
        if number > FULL_PER_ID + ROWS_PER_ID:
            anchors.append(None)
        else:
            anchors.append(finding.id if number == 1 else f"{finding.id}-{number}")
    return anchors


def _findings_section(findings: list[Finding]) -> Element:
    anchors = finding_anchors(findings)
    parts: list[Element] = []
    for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        group = [(f, a) for f, a in zip(findings, anchors, strict=True) if f.severity is severity]
        if not group:
            continue
        parts.append(h("h3", f"{SEVERITY_LABEL[severity]}s ({len(group)})"))
        by_id: dict[str, list[tuple[Finding, str | None]]] = {}
        for finding, anchor in group:
            by_id.setdefault(finding.id, []).append((finding, anchor))
        for finding_id, same in by_id.items():
            parts.extend(_finding(f, anchor or finding_id) for f, anchor in same[:FULL_PER_ID])
            if len(same) > FULL_PER_ID:
                parts.append(_more_of(finding_id, same[FULL_PER_ID:]))
    if not findings:
        parts.append(h("p", "No problems found.", class_="verdict-ok"))
    return h("section", h("h2", f"Findings ({len(findings)})"), parts, id="findings")


def _more_of(finding_id: str, rest: list[tuple[Finding, str | None]]) -> Element:
    """Findings of one id past the first FULL_PER_ID: one row each (title, subject), then a count."""
    rows = [h("tr", h("td", f.title), h("td", f.subject or "–"), id=anchor) for f, anchor in rest if anchor]
    counted = len(rest) - len(rows)
    return h("details",
             h("summary", f"{len(rest):,} more {finding_id} findings: the title and subject of each"),
             h("div", h("table", h("thead", h("tr", h("th", "Title", scope="col"), h("th", "Subject", scope="col"))),
                        h("tbody", rows), class_="data"), class_="scroll"),
             h("p", f"{counted:,} more not listed; the JSON report (--output FILE.json) has them all.", class_="more")
             if counted else None,
             open=True, class_="more-findings")


def _finding(finding: Finding, anchor: str) -> Element:
    return h("article",
             h("h4", h("span", SEVERITY_LABEL[finding.severity], class_=f"badge {finding.severity.value}"), " ",
               finding.title, h("code", finding.id, class_="fid")),
             h("p", h("strong", "Subject: "), finding.subject) if finding.subject else None,
             h("p", finding.detail) if finding.detail else None,
             h("p", h("strong", "Fix: "), finding.remedy, class_="fix") if finding.remedy else None,
             h("ul", (h("li", link(ref)) for ref in finding.references), class_="refs") if finding.references else None,
             class_=f"finding {finding.severity.value}", id=anchor)


def results_sections(results: Any, links: FindingIndex | None = None) -> list[Element]:
    """The command's own section: its registered renderer, or the generic tables."""
    if results is None:
        return [h("p", "No results.")]
    links = links or FindingIndex()
    module_name = HTML_RENDERERS.get(type(results).__name__)
    if module_name is None:
        return generic_sections(results, links)
    module = importlib.import_module(module_name)
    sections: list[Element] = module.sections(results, links)
    return sections


def _results_section(report: Report, findings: list[Finding]) -> Element:
    links = FindingIndex.of(findings, finding_anchors(findings))
    return h("section", h("h2", f"{report.command} results"), results_sections(report.results, links),
             id="results")
