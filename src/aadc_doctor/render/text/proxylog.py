"""`proxylog` on a terminal: the files, what became of their lines, the endpoints table and the wizard phases."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.analysis.proxylog_summary import ProxyLogSummary
    from aadc_doctor.results import ProxylogResults


def _when(value: str | None) -> str:
    return value.replace("T", " ").removesuffix("Z") if value else "-"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _span(first: str | None, last: str | None) -> str:
    """``2016-01-11 08:31:00 .. 08:49:00`` (the date once when both are on the same day)."""
    if not first:
        return "-"
    start, end = _when(first), _when(last)
    if end == start:
        return start
    if end[:10] == start[:10]:
        end = end[11:]
    return f"{start} .. {end}"


def _line_summary(r: ProxyLogSummary) -> str:
    """What became of the lines: lines naming no Azure AD domain are only counted (unless --full-parse)."""
    counts = r.line_counts
    parts = []
    if counts.not_candidate:
        parts.append(f"{counts.not_candidate:,} naming no Azure AD domain (counted, not parsed)")
    parts.append(f"{counts.records + counts.filtered_out:,} parsed in full, {r.records:,} analysed")
    if counts.filtered_out:
        parts.append(f"{counts.filtered_out:,} outside the filters")
    if counts.bad + counts.overlong:
        parts.append(f"{counts.bad + counts.overlong:,} bad")
    if r.unrelated_count:
        parts.append(f"{r.unrelated_count:,} of them to unrelated hosts")
    return f"{r.lines:,} lines: " + ", ".join(parts) + " (times in UTC)"


def render(results: ProxylogResults, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    r = results.analysis
    names = ", ".join(f"{Path(f.path).name} ({f.format})" for f in results.files)
    console.print(Text(f"Proxy log: {names}", style="bold"))
    console.print(_line_summary(r))
    endpoints = [e for e in r.endpoints if e.classification in ("required", "optional")]
    if endpoints:
        table = Table(title="Azure AD endpoints", title_justify="left", box=None, padding=(0, 1), pad_edge=False,
                      header_style="bold")
        # On a narrow console the counts must survive: the host folds, the time span and profiles wrap.
        table.add_column("endpoint", no_wrap=True)
        for column in ("req", "ok", "denied", "other"):
            table.add_column(column, justify="right", no_wrap=True)
        table.add_column("seen (UTC)")
        table.add_column("needed by")
        notes: list[str] = []
        for e in endpoints:
            profiles = sorted({p for rule in e.required_by for p in rule.profiles})
            needed = ", ".join(profiles) + ("" if e.classification == "required" else " (optional)")
            denied = Text(str(e.denied), style="bold red" if e.denied else "")
            counts: list[str | Text] = [str(e.allowed), denied, str(e.other)]
            if e.no_status == e.requests:
                counts = ["-", Text("-"), "-"]  # a listing records no answers
            table.add_row(f"{e.host}:{e.port}", str(e.requests), *counts, _span(e.first_seen, e.last_seen), needed)
            if e.denied or e.other:
                statuses = ", ".join(f"{n}x {s}" for s, n in e.statuses.items())
                notes.append(f"  {e.host}:{e.port}: {statuses}"
                             + (f" ({_n(e.auth_challenges, '407 answer')} before a successful retry)"
                                if e.auth_challenges else ""))
        console.print(table)
        if notes:
            console.print(Text("Statuses of endpoints with denials or failures:", style="bold"))
            for note in notes:
                console.print(note)
    for item in r.ignorable:
        console.print(Text(f"Ignorable: {item.host} ({_n(item.requests, 'request')}, {item.denied} "
                           f"denied): {item.reason}", style="dim"))
    if r.phases:
        client = r.phase_summary.client
        console.print(Text("Wizard phases (the article's reference sequences)"
                           + (f", client {client}" if client else ""), style="bold"))
        for phase in r.phases:
            mark = {"complete": Text("reached  ", style="green"), "partial": Text("partial  ", style="yellow"),
                    "not_seen": Text("not seen ", style="dim")}[phase.status]
            line = Text("  ") + mark + Text(f"{phase.name}: {phase.matched_steps}/{phase.total_steps} steps")
            if phase.first_seen:
                line.append(f", {_span(phase.first_seen, phase.last_seen)}")
            if phase.status != "complete" and phase.matched_steps and phase.next_step is not None:
                line.append(f"; next would be {phase.next_step.expects}")
                if phase.blocked:
                    line.append(f" (denied: {phase.blocked.status})", style="red")
            console.print(line)
