"""`analyze` on a terminal: what was read, and what each analyser made of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.analyze.run import AnalysisResult


def render(results: AnalysisResult, console: Console) -> None:
    console.print(f"Analysed {results.source} ({results.input_kind}), deadlines as of {results.run_date.isoformat()}")
    manifest = results.manifest_summary()
    if manifest:
        console.print(f"  collected on {manifest['host']} at {manifest['collected_at']} by aadc-doctor "
                      f"{manifest['tool_version']}: {manifest['files']} files"
                      + (", redacted" if manifest["redacted"] else "")
                      + f"; {len(manifest['not_collected'] or [])} could not be collected, "
                        f"{len(manifest['trimmed'] or [])} left out"
                      + (f", {len(manifest['withheld'])} withheld by --redact" if manifest["withheld"] else ""))
    for run in results.runs:
        count = len(run.findings)
        if run.status == "skipped":
            console.print(f"  {run.name:<19} skipped: {run.reason or None}")
        else:
            what = f"{len(run.inputs)} input(s), {count} finding(s)"
            note = f"; {run.reason}" if run.reason else ""
            console.print(f"  {run.name:<19} {run.status}: {what}{note}")
    rules = next((r.results for r in results.runs if r.name == "server-rules"), None)
    for item in rules.get("installed", []) if isinstance(rules, Mapping) else []:
        console.print(f"  installed: {item['display_name']} {item['version']}")
