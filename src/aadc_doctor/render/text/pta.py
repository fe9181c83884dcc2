"""`pta trace|events|dc-query` on a terminal: the query XML alone, or the analysis summary and tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.results import PtaDcQueryResults, PtaResults

SUMMARY = False  # dc-query output must stay pure XML; trace/events print their own summary line


def render(results: PtaResults | PtaDcQueryResults, console: Console) -> None:
    from aadc_doctor.results import PtaDcQueryResults

    if isinstance(results, PtaDcQueryResults):
        console.print(results.query_xml, markup=False, highlight=False, soft_wrap=True)
        return
    _render_analysis(results, console)


def _short(time: str | None) -> str:
    """2021-10-23T21:50:11.666519Z -> 2021-10-23 21:50:11Z, for tables."""
    if not time:
        return "-"
    return time[:19].replace("T", " ") + "Z"


def _render_analysis(results: PtaResults, console: Console) -> None:
    from rich.text import Text

    summary = results.summary
    _render_read(results, console)
    console.print()
    if not results.by_reason:
        console.print(Text(f"No failed sign-ins found ({summary.trace_entries} trace entries, "
                           f"{summary.security_events} logon events).", style="green"))
    else:
        _render_failures(results, console)
        _render_requests(results, console)
    _render_events(results, console)


def _render_read(results: PtaResults, console: Console) -> None:
    """What was read: per file, the agent process, the successes counted."""
    from rich.text import Text

    from aadc_doctor.results.pta import EvtxFileRead, SkippedFile, TraceFileRead, XmlFileRead

    parts = []
    for f in results.files:
        match f:
            case TraceFileRead():
                entries = "1 entry" if f.entries == 1 else f"{f.entries} entries"
                cut = f", {f.truncated_lines} over-long line(s) cut at 1 MiB" if f.truncated_lines else ""
                parts.append(f"{f.name}: {entries}, {f.bad_lines} unreadable line(s){cut}, {f.encoding}")
            case SkippedFile():
                parts.append(f"{f.name}: skipped ({f.reason.removeprefix(f.name + ': ')})")
            case EvtxFileRead():
                expected = f" of {f.expected_records}" if f.expected_records is not None else ""
                parts.append(f"{f.name}: {f.records}{expected} records" + (" (DAMAGED)" if f.damaged else ""))
            case XmlFileRead():
                parts.append(f"{f.name}: {f.records} events (XML)")
    console.print(Text("Read", style="bold"))
    for part in parts:
        console.print(f"  {part}", markup=False, highlight=False)
    if results.summary.agents:
        console.print(f"  agent process: {', '.join(results.summary.agents)}", markup=False)
    successes = results.successes
    if successes.count:
        console.print(f"  successful sign-ins by the agent: {successes.count} (counted, not listed), "
                      f"{_short(successes.first_seen)} to {_short(successes.last_seen)}", markup=False)


def _render_failures(results: PtaResults, console: Console) -> None:
    """Failed sign-ins by reason, by Security-event status and by hour."""
    from rich.table import Table

    summary = results.summary
    table = Table(title=f"Failed sign-ins by reason ({summary.failed}, {summary.failed_by_agent} "
                        "by the PTA agent)", title_justify="left", show_lines=False)
    for column in ("Reason", "Count", "Agent", "Windows message (net helpmsg)", "User saw", "First", "Last"):
        table.add_column(column, overflow="fold")
    for row in results.by_reason:
        table.add_row(str(row.reason), str(row.count), str(row.pta_agent_count), row.message,
                      f"AADSTS{row.aadsts}" if row.aadsts else "-", _short(row.first_seen), _short(row.last_seen))
    console.print(table)
    if results.by_status:
        status_table = Table(title="Security events by Status/SubStatus", title_justify="left")
        for column in ("Event", "Status", "SubStatus", "Reason", "Count"):
            status_table.add_column(column, overflow="fold")
        for status_row in results.by_status:
            status = f"{status_row.status} {status_row.status_name}".strip()
            sub = f"{status_row.substatus} {status_row.substatus_name}".strip()
            status_table.add_row(str(status_row.event_id), status, sub, str(status_row.reason or "-"),
                                 str(status_row.count))
        console.print(status_table)
    if len(results.by_hour) > 1:
        # the year only when the hours span more than one (a month-day alone would read out of order)
        start = 0 if len({h.hour[:4] for h in results.by_hour}) > 1 else 5
        hours = ", ".join(f"{h.hour[start:13].replace('T', ' ')}h: {h.count}" for h in results.by_hour[:24])
        more = " ..." if len(results.by_hour) > 24 else ""
        console.print(f"By hour (UTC): {hours}{more}", markup=False)


def _render_requests(results: PtaResults, console: Console) -> None:
    """The latest failed requests of the agent (else of other processes)."""
    from rich.table import Table

    from aadc_doctor.logs.event_xml import format_iso_time

    failed = results.requests
    other = results.other_failures
    if failed:
        shown = [request.attempt for request in failed[-10:]]
        listed = f"--json lists the latest {len(failed)}" if results.requests_truncated else "--json lists all"
        title = f"Failed PTA requests: latest {len(shown)} of {results.requests_total} ({listed})"
    else:
        shown = list(other.latest[-10:])
        title = f"Latest failed logons by other processes ({len(shown)} of {other.count})"
    requests = Table(title=title, title_justify="left")
    for column in ("Time", "RequestId / event", "Reason", "Account", "Source"):
        requests.add_column(column, overflow="fold")
    for r in shown:
        ident = r.request_id or f"event {r.event_id} #{r.position}"
        source = r.agent or r.process or r.client or r.computer
        requests.add_row(_short(format_iso_time(r.time)), ident, str(r.reason), r.account or "-", source)
    console.print(requests)


def _render_events(results: PtaResults, console: Console) -> None:
    """The trace/event correlation, the agent's own event log, the events by id."""
    from rich.table import Table

    if results.correlated_total:
        console.print(f"Correlated {results.correlated_total} trace failure(s) with the agent's Security events "
                      "(same reason within 5 s).", markup=False)
    if results.agent_events:
        events = Table(title="Agent event log", title_justify="left")
        for column in ("Channel", "Event", "Level", "Count", "Explained"):
            events.add_column(column, overflow="fold")
        for row in results.agent_events:
            events.add_row(row.channel, str(row.event_id), row.level, str(row.count), row.explained or "-")
        console.print(events)
    if results.events_by_id:
        top = sorted(results.events_by_id, key=lambda e: -e.count)[:12]
        console.print("Events by ID: " + ", ".join(f"{e.event_id}×{e.count}" for e in top), markup=False)
