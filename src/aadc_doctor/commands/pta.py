"""`aadc-doctor pta trace|events|dc-query`: the PTA agent's trace logs, event logs and sign-in query.

Collect on Windows, analyse anywhere: a copied Trace folder (or its .zip), exported .evtx files or Event
Viewer XML exports. Failures are reported by Win32 reason with the Windows message (as `net helpmsg`
prints it), the AADSTS code the user most likely saw, and the remedy.

Results (``--json``), beyond DESIGN.md's ``requests`` and ``by_reason``: a busy agent server logs millions of
sign-ins, so ``requests`` lists only the agent's FAILED requests, the latest 1000 (oldest first), and the
agent's successes are only counted. Every count (``by_reason``, ``by_hour``, ``by_status``, ``bursts``,
``summary``) covers all failures, listed or not. Memory does not grow with successes; each failure costs one
compact row (about 50 bytes), which keeps those counts, bursts and the trace/event correlation exact.

- ``requests_total``: how many failed PTA requests there were; ``requests_truncated``: true when ``requests``
  lists fewer than that.
- ``correlated``: the trace/event pairs among the listed requests; ``correlated_total``: all pairs.
- ``successes``: the agent's successful sign-ins, ``{"count", "first_seen", "last_seen", "by_hour":
  [{"hour", "count"}]}``.
- ``other_failures``: failures by other processes, ``{"count", "latest"}`` (the latest 20).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aadc_doctor.commands import CommandResult, RunContext
from aadc_doctor.errors import InputError, UsageError
from aadc_doctor.model import Report

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.analysis.pta import PtaEvidence
    from aadc_doctor.logs.pta_trace import TraceEntry

HELP = "PTA agent: analyse trace logs (trace) and event logs (events), print the sign-in event query (dc-query)"
RENDER_SUMMARY = False  # dc-query output must stay pure XML; trace/events print their own summary line

DC_QUERY_WHERE = (
    "Run this query on every server where a PTA Authentication Agent runs: Event Viewer > Create Custom View > "
    "XML > Edit query manually, or Get-WinEvent -FilterXml. The 2017 article files it under 'Domain Controller "
    "logs', but the agent validates passwords with LogonUser on its own server, so the Security events naming "
    "its process are logged there, not on the domain controllers (which log 4776/4771 for the same sign-ins, "
    "without a process name). Logon auditing (success and failure) must be enabled."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from aadc_doctor.cli import add_global_options

    sub = parser.add_subparsers(dest="pta_command", metavar="SUBCOMMAND", parser_class=type(parser))
    sub.required = True
    trace = sub.add_parser(
        "trace", help="analyse agent trace logs (files, folders, a .zip of the Trace folder)",
        description="Failed PTA sign-ins from the agent's trace logs (both agent generations, UTF-8 or UTF-16, "
                    "rotated files in time order): RequestId, Reason with its Windows message, the AADSTS code the "
                    "user most likely saw, the remedy; counts by reason and hour; the agent's other errors.")
    trace.add_argument("paths", nargs="+", metavar="PATH",
                       help=r"trace files, the Trace folder (%%ProgramData%%\Microsoft\Azure AD Connect "
                            r"Authentication Agent\Trace) or a .zip of it")
    trace.add_argument("--events", action="append", default=[], metavar="FILE",
                       help="also read this .evtx/XML event log and correlate its failures with the trace (repeatable)")
    _matcher_options(trace)
    add_global_options(trace, suppress_defaults=True)
    events = sub.add_parser(
        "events", help="analyse exported event logs (.evtx or Event Viewer XML)",
        description="The agent's Admin log (current and legacy channels) with known event IDs explained, and "
                    "Security logs: events whose ProcessName is the PTA agent, and 4624/4625/4648/4768/4771/4776 with "
                    "Status and SubStatus decoded to the Win32 reasons the trace log uses.")
    events.add_argument("files", nargs="+", metavar="FILE",
                        help=".evtx files or Event Viewer XML exports, or folders of them")
    events.add_argument("--trace", action="append", default=[], metavar="PATH",
                        help="also read these trace logs and correlate failures by time and reason (repeatable)")
    _matcher_options(events)
    add_global_options(events, suppress_defaults=True)
    query = sub.add_parser("dc-query", help="print the Event Viewer query for the agent's sign-in events",
                           description="Print the article's Event Viewer QueryList XML that selects the Security "
                                       "events of the PTA agent process (both agent generations, or --process). "
                                       + DC_QUERY_WHERE)
    query.add_argument("--process", action="append", default=[], metavar="PATH",
                       help="the agent executable's full path, for a non-default install (repeatable)")
    add_global_options(query, suppress_defaults=True)


def _matcher_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--process", action="append", default=[], metavar="PATH",
                        help="treat this executable as the PTA agent too (non-default install path; repeatable)")
    parser.add_argument("--agent-host", action="append", default=[], metavar="NAME_OR_IP",
                        help="an agent server's name or address, to attribute domain-controller events "
                             "(4776 Workstation, 4768/4771 client address) to the agent (repeatable)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="read event logs in N processes, this one included (default: as many as there are "
                             "CPUs, for logs of 8 MB and more; 1 reads everything in this process). Large .evtx "
                             "files are split by chunk, so one big Security log uses every CPU too")


def run(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    command = args.pta_command
    if command == "dc-query":
        return _run_dc_query(args, ctx)
    from aadc_doctor import progress

    inputs = args.paths + args.events if command == "trace" else args.files + args.trace
    with progress.reading(ctx, progress.size_of(inputs), f"pta {command}"):
        return _run_reading(args, command)


def _run_reading(args: argparse.Namespace, command: str) -> CommandResult:
    from aadc_doctor import progress
    from aadc_doctor.commands.pta_event_logs import collect_events

    agent = _agent_options(args)
    if command == "trace":
        from aadc_doctor.analysis.pta import PtaEvidence

        evidence = PtaEvidence()
        collect_trace(args.paths, evidence)
        if args.events:
            collect_events(args.events, agent, args.jobs, evidence)
            progress.advance(progress.size_of(args.events))
        expect_agent = bool(args.events)
    else:
        # the event logs first: their helper processes start before the analysis modules are loaded here
        evidence = collect_events(args.files, agent, args.jobs)
        progress.advance(progress.size_of(args.files))
        collect_trace(args.trace, evidence)
        expect_agent = True
    from aadc_doctor.analysis.pta import analyse

    findings, results = analyse(evidence, expect_agent=expect_agent)
    return CommandResult(Report(command=f"pta {command}", findings=findings, results=results))


def _agent_options(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """--process and --agent-host, checked, as plain data (the matcher is built where the logs are read)."""
    for option, values in (("--process", args.process), ("--agent-host", args.agent_host)):
        if any(not value.strip() for value in values):
            raise UsageError(f"{option}: empty value")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: give 1 or more processes")
    return tuple(p.strip() for p in args.process), tuple(h.strip() for h in args.agent_host)


# ---- trace logs -------------------------------------------------------------------------------


def collect_trace(paths: list[str], evidence: PtaEvidence) -> None:
    """Stream every trace file (oldest first) into the evidence."""
    if not paths:
        return
    from aadc_doctor import progress
    from aadc_doctor.logs.pta_trace import TraceFileStats, TraceParser, collect_sources, order_sources, read_source

    sources = order_sources(collect_sources(paths))
    for source in sources:
        if source.named:
            _refuse_event_log(source.name)
    total_entries = 0
    total_lines = 0
    parser = TraceParser()  # one for all files: an entry cut by a rotation goes on in the next file
    read: list[tuple[int, TraceFileStats]] = []  # a file's figures are final only once its last entry is
    for source in sources:
        stats = TraceFileStats(source.name)
        try:
            for entry in read_source(source, stats, parser):
                total_entries += 1
                _take_trace_entry(entry, evidence)
        except InputError as exc:
            if source.named:
                raise
            # one bad file inside a copied Trace folder (say, NUL bytes left by a crash) must not hide the rest
            for entry in parser.finish():  # and what comes after it does not continue what came before
                total_entries += 1
                _take_trace_entry(entry, evidence)
            evidence.skipped.append({"name": source.name, "reason": exc.message, "kind": "trace"})
            evidence.files.append({"format": "skipped", "name": source.name, "reason": exc.message})
            continue
        total_lines += stats.lines
        progress.advance_path(source.name)
        read.append((len(evidence.files), stats))
        evidence.files.append({})
    for entry in parser.finish():
        total_entries += 1
        _take_trace_entry(entry, evidence)
    for index, stats in read:
        evidence.agents_seen.update(stats.agents)
        evidence.files[index] = {"format": "trace", **stats.to_dict()}
    evidence.trace_entries += total_entries
    if total_entries == 0:
        names = ", ".join(s.name for s in sources[:3]) + (" ..." if len(sources) > 3 else "")
        trace_skipped = [s for s in evidence.skipped if s.get("kind") == "trace"]
        if trace_skipped and len(trace_skipped) == len(sources):
            others = len(trace_skipped) - 1
            more = f" (and {others} more file(s) that could not be read)" if others else ""
            raise InputError(f"{trace_skipped[0]['reason']}{more}")
        if total_lines == 0 and not evidence.skipped:
            raise InputError(f"{names}: empty; no trace entries to read",
                             hint="the agent starts a new, empty trace file when it rotates; give the Trace folder "
                                  "to read all of them")
        raise InputError(f"{names}: no trace entries found; this is not a .NET trace log of the PTA agent",
                         hint="entries look like 'AzureADConnectAuthenticationAgentService.exe Error: 0 : ...' "
                              "followed by ThreadId= and DateTime= lines")


def _refuse_event_log(name: str) -> None:
    """An event log given to `pta trace` gets pointed to `pta events` (instead of 'binary file')."""
    from aadc_doctor.commands.pta_event_logs import read_head
    from aadc_doctor.logs.event_xml import looks_like_event_xml
    from aadc_doctor.logs.evtx_reader import is_evtx

    path = Path(name)
    if not path.is_file():
        return
    head = read_head(path)
    if is_evtx(head) or looks_like_event_xml(head):
        kind = "an .evtx event log" if is_evtx(head) else "an event log XML export"
        raise InputError(f"{name}: {kind}, not a trace log",
                         hint=f"read it with `aadc-doctor pta events {name}`, or add it to this run with --events")


def _take_trace_entry(entry: TraceEntry, evidence: PtaEvidence) -> None:
    from aadc_doctor.analysis.security_events import SignInAttempt
    from aadc_doctor.knowledge.pta_events import categorize_trace_message
    from aadc_doctor.logs.pta_trace import failed_sign_in

    failure = failed_sign_in(entry)
    if failure is not None:
        evidence.add_attempt(SignInAttempt(
            time=failure.time, failed=True, reason=failure.reason, origin="trace", from_agent=True,
            request_id=failure.request_id, agent=failure.agent, file=failure.file, position=failure.line))
    elif entry.level in ("Error", "Critical", "Warning"):
        category = categorize_trace_message(entry.message)
        first_line = entry.message.splitlines()[0] if entry.message else ""
        evidence.add_trace_problem(category.id if category else "other", entry.level, first_line, entry.time)


# ---- dc-query ---------------------------------------------------------------------------------


def query_xml(processes: list[str]) -> str:
    """The article's QueryList, with one Data alternative per agent executable, correctly escaped."""
    literals = []
    for process in processes:
        if "'" in process and '"' in process:
            raise UsageError(f"--process {process}: a path with both ' and \" cannot be written in an XPath query")
        quote = '"' if "'" in process else "'"
        literals.append(f"Data={quote}{process}{quote}")
    select = ("*[EventData[Data[@Name='ProcessName'] and (" + " or ".join(literals) + ")]]")
    return "\n".join([
        "<QueryList>",
        '  <Query Id="0" Path="Security">',
        f'    <Select Path="Security">{_xml_text(select)}</Select>',
        "  </Query>",
        "</QueryList>",
    ])


def _xml_text(text: str) -> str:
    """Element text escaped for XML (xml.sax.saxutils.escape would pull in urllib: 20 ms of start-up)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _check_process_path(process: str) -> None:
    """The query compares the whole ProcessName, so anything but a full Windows path would never match."""
    if not process.strip():
        raise UsageError("--process: empty path")
    if any(ord(c) < 32 for c in process):
        raise UsageError(f"--process {process!r}: the path holds a control character (a pasted line break?)")
    if "/" in process and "\\" not in process:
        raise UsageError(f"--process {process}: write the path with backslashes, as the Security log records it")
    if not (process[1:3] == ":\\" and process[0].isalpha()) and not process.startswith("\\"):
        raise UsageError(f"--process {process}: give the executable's full path as the Security log records it "
                         r"(for example C:\Program Files\...\AzureADConnectAuthenticationAgentService.exe); the "
                         "query compares the whole ProcessName, so a bare file name would match nothing")


def _run_dc_query(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    from aadc_doctor.knowledge.pta_events import agent_generations

    generations = agent_generations()
    processes = list(args.process) or [g.process for g in generations]
    for process in processes:
        _check_process_path(process)
    xml = query_xml(processes)
    if not ctx.json_mode:
        ctx.err_console.print(DC_QUERY_WHERE, markup=False, highlight=False, soft_wrap=True)
    results: dict[str, Any] = {
        "query_xml": xml,
        "processes": processes,
        "generations": [{"generation": g.generation, "name": g.name, "process": g.process} for g in generations],
        "run_on": "each PTA agent server (Security log), not the domain controllers",
        "note": DC_QUERY_WHERE,
    }
    return CommandResult(Report(command="pta dc-query", results=results))


# ---- human output -----------------------------------------------------------------------------


def render(report: Report, console: Console) -> None:
    if report.command == "pta dc-query":
        console.print(report.results["query_xml"], markup=False, highlight=False, soft_wrap=True)
        return
    _render_analysis(report.results, console)


def _short(time: str | None) -> str:
    """2021-10-23T21:50:11.666519Z -> 2021-10-23 21:50:11Z, for tables."""
    if not time:
        return "-"
    return time[:19].replace("T", " ") + "Z"


def _render_analysis(results: Any, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    summary = results["summary"]
    files = results["files"]
    parts = []
    for f in files:
        if f["format"] == "trace":
            entries = "1 entry" if f["entries"] == 1 else f"{f['entries']} entries"
            cut = f", {f['truncated_lines']} over-long line(s) cut at 1 MiB" if f.get("truncated_lines") else ""
            parts.append(f"{f['name']}: {entries}, {f['bad_lines']} unreadable line(s){cut}, {f['encoding']}")
        elif f["format"] == "skipped":
            parts.append(f"{f['name']}: skipped ({f['reason'].removeprefix(f['name'] + ': ')})")
        elif f["format"] == "evtx":
            expected = f" of {f['expected_records']}" if f.get("expected_records") is not None else ""
            parts.append(f"{f['name']}: {f['records']}{expected} records" + (" (DAMAGED)" if f["damaged"] else ""))
        else:
            parts.append(f"{f['name']}: {f['records']} events (XML)")
    console.print(Text("Read", style="bold"))
    for part in parts:
        console.print(f"  {part}", markup=False, highlight=False)
    if summary["agents"]:
        console.print(f"  agent process: {', '.join(summary['agents'])}", markup=False)
    successes = results["successes"]
    if successes["count"]:
        console.print(f"  successful sign-ins by the agent: {successes['count']} (counted, not listed), "
                      f"{_short(successes['first_seen'])} to {_short(successes['last_seen'])}", markup=False)

    console.print()
    if not results["by_reason"]:
        console.print(Text(f"No failed sign-ins found ({summary['trace_entries']} trace entries, "
                           f"{summary['security_events']} logon events).", style="green"))
    else:
        table = Table(title=f"Failed sign-ins by reason ({summary['failed']}, {summary['failed_by_agent']} "
                            "by the PTA agent)", title_justify="left", show_lines=False)
        for column in ("Reason", "Count", "Agent", "Windows message (net helpmsg)", "User saw", "First", "Last"):
            table.add_column(column, overflow="fold")
        for row in results["by_reason"]:
            table.add_row(str(row["reason"]), str(row["count"]), str(row["pta_agent_count"]), row["message"],
                          f"AADSTS{row['aadsts']}" if row["aadsts"] else "-", _short(row["first_seen"]),
                          _short(row["last_seen"]))
        console.print(table)
        if results["by_status"]:
            status_table = Table(title="Security events by Status/SubStatus", title_justify="left")
            for column in ("Event", "Status", "SubStatus", "Reason", "Count"):
                status_table.add_column(column, overflow="fold")
            for row in results["by_status"]:
                status = f"{row['status']} {row['status_name']}".strip()
                sub = f"{row['substatus']} {row['substatus_name']}".strip()
                status_table.add_row(str(row["event_id"]), status, sub, str(row["reason"] or "-"), str(row["count"]))
            console.print(status_table)
        if len(results["by_hour"]) > 1:
            # the year only when the hours span more than one (a month-day alone would read out of order)
            start = 0 if len({h["hour"][:4] for h in results["by_hour"]}) > 1 else 5
            hours = ", ".join(f"{h['hour'][start:13].replace('T', ' ')}h: {h['count']}"
                              for h in results["by_hour"][:24])
            more = " ..." if len(results["by_hour"]) > 24 else ""
            console.print(f"By hour (UTC): {hours}{more}", markup=False)
        failed = results["requests"]
        other = results["other_failures"]
        if failed:
            shown = failed[-10:]
            total = results["requests_total"]
            listed = (f"--json lists the latest {len(failed)}" if results["requests_truncated"]
                      else "--json lists all")
            title = f"Failed PTA requests: latest {len(shown)} of {total} ({listed})"
        else:
            shown = other["latest"][-10:]
            title = f"Latest failed logons by other processes ({len(shown)} of {other['count']})"
        requests = Table(title=title, title_justify="left")
        for column in ("Time", "RequestId / event", "Reason", "Account", "Source"):
            requests.add_column(column, overflow="fold")
        for r in shown:
            ident = r.get("request_id") or f"event {r.get('event_id')} #{r.get('position')}"
            source = r.get("agent") or r.get("process") or r.get("client") or r.get("computer") or ""
            requests.add_row(_short(r["time"]), ident, str(r["reason"]), r.get("account", "") or "-", source)
        console.print(requests)
    if results["correlated_total"]:
        console.print(f"Correlated {results['correlated_total']} trace failure(s) with the agent's Security events "
                      "(same reason within 5 s).", markup=False)
    if results["agent_events"]:
        events = Table(title="Agent event log", title_justify="left")
        for column in ("Channel", "Event", "Level", "Count", "Explained"):
            events.add_column(column, overflow="fold")
        for row in results["agent_events"]:
            events.add_row(row["channel"], str(row["event_id"]), row["level"], str(row["count"]),
                           row["explained"] or "-")
        console.print(events)
    if results["events_by_id"]:
        top = sorted(results["events_by_id"], key=lambda e: -e["count"])[:12]
        console.print("Events by ID: " + ", ".join(f"{e['event_id']}×{e['count']}" for e in top), markup=False)
