"""`analyze` in the HTML report: what was read (the collect manifest: files with source and SHA-256, what could not
be collected and why, what was left out), the analysers that ran with the findings each gave (linked to the
merged findings above), and each analyser's own results, folded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aadc_doctor.render.html_doc import Element, anchor_link, h
from aadc_doctor.render.html_tables import FindingIndex, data_sections, kv_table, table

if TYPE_CHECKING:
    from aadc_doctor.analyze.run import AnalyserRun, AnalysisResult
    from aadc_doctor.results.base import JsonObject

MAX_MANIFEST_ROWS = 500
STATUS_BADGE = {"ok": "ok", "skipped": "skip", "failed": "fail"}


def _size(value: Any) -> str:
    if not isinstance(value, int):
        return "–"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return str(value)


def manifest_sections(manifest: JsonObject) -> list[Element]:
    """manifest.json: its header, what could not be collected and why, what was left out, every file."""
    options = manifest.get("options") or {}
    files = list(manifest.get("files") or [])
    header: list[tuple[str, Any]] = [
        ("Host", manifest.get("host")), ("Collected at", manifest.get("collected_at")),
        ("By", f"aadc-doctor {manifest.get('tool_version')}"),
        ("Options", ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in options.items()) or "–"),
        ("Redacted", bool(manifest.get("redacted")))]
    if files:
        sizes = sum(f.get("size") or 0 for f in files if isinstance(f.get("size"), int))
        header += [("Files", len(files)), ("Size", _size(sizes))]
    out: list[Element] = [h("h3", "Collected on the server (manifest.json)"), kv_table(header)]
    gaps = list(manifest.get("not_collected") or [])
    out += [h("h4", f"Could not be collected ({len(gaps)})"),
            table(["Source", "Reason"], ([g.get("source"), g.get("reason")] for g in gaps),
                  row_class=["warn"] * len(gaps)) if gaps else h("p", "Nothing: every expected item was read.",
                                                                  class_="note")]
    trimmed = list(manifest.get("trimmed") or [])
    if trimmed:
        out += [h("h4", f"Left out ({len(trimmed)})"),
                table(["Path", "Source", "Size", "Reason"],
                      ([t.get("path"), t.get("source"), _size(t.get("size")), t.get("reason")] for t in trimmed),
                      numeric=(2,))]
    withheld = list(manifest.get("withheld") or [])
    if withheld:
        out += [h("h4", f"Withheld by --redact ({len(withheld)})"),
                table(["Path", "Source", "Reason"],
                      ([w.get("path"), w.get("source"), w.get("reason")] for w in withheld),
                      row_class=["warn"] * len(withheld))]
    absent = list(manifest.get("absent") or [])
    if absent:
        out += [h("h4", f"Not on this server ({len(absent)})"),
                table(["Source", "Reason"], ([a.get("source"), a.get("reason")] for a in absent))]
    if "files" not in manifest:  # collect's own report: the list is in the zip's manifest.json
        return out
    out += [h("h4", f"Files ({len(files)})"),
            table(["Path", "Kind", "Source", "Size", "SHA-256"],
                  ([h("code", f.get("path") or ""), f.get("kind"), f.get("source"), _size(f.get("size")),
                    h("code", f.get("sha256") or "–")] for f in files), limit=MAX_MANIFEST_ROWS, numeric=(3,))]
    return out


def _analysers(results: AnalysisResult, links: FindingIndex) -> Element:
    rows = []
    for run in results.runs:
        found: list[Element | str] = []
        for finding in run.findings:
            found.append(anchor_link(links.by_finding.get((finding.id, finding.subject)), finding.id))
            found.append(" ")
        status = h("span", run.status, class_=f"badge {STATUS_BADGE.get(run.status, 'fail')}")
        rows.append([h("strong", run.name), status,
                     _inputs(run.inputs), h("span", found) if found else "–", run.reason or "–"])
    return table(["Analyser", "Status", "Inputs", "Findings", "Note"], rows)


def _inputs(inputs: Sequence[str]) -> Element | str:
    if not inputs:
        return "–"
    shown = inputs[:20]
    return h("div", (h("div", h("code", path)) for path in shown),
             h("div", f"… {len(inputs) - len(shown)} more", class_="muted") if len(inputs) > len(shown) else None)


def sections(results: AnalysisResult, links: FindingIndex) -> list[Element]:
    out: list[Element] = [kv_table([
        ("Analysed", h("code", results.source)), ("Input", results.input_kind),
        ("Deadlines as of", results.run_date.isoformat()), ("Findings (merged)", len(results.findings)),
    ])]
    if results.manifest is not None:
        out += manifest_sections(results.manifest)
    else:
        out.append(h("p", "No manifest.json: a plain copy of the server's files, not a collect zip.", class_="note"))
    out += [h("h3", "Analysers"), _analysers(results, links)]
    kinds = [(kind.replace("_", " "), paths) for kind, paths in results.inputs.items() if paths]
    if kinds:
        out += [h("h3", "Inputs found, by kind"),
                table(["Kind", "Files"], ([kind, _inputs(paths)] for kind, paths in kinds))]
    for run in results.runs:
        if run.status != "ok" or not run.results:
            continue
        out.append(h("details", h("summary", f"{run.name}: the analyser's results"), _run_sections(run, links),
                     open=True))
    return out


def _run_sections(run: AnalyserRun, links: FindingIndex) -> list[Element]:
    """An analyser's results: drawn as its command draws them when typed (pta: the heat map...), else as tables."""
    from aadc_doctor.results.pta import PtaResults

    if isinstance(run.results, PtaResults):
        from aadc_doctor.render import html_pta

        return html_pta.sections(run.results, links)
    return data_sections(run.results)
