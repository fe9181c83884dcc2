"""Reading PTA agent trace logs into the evidence `pta trace`, `pta events --trace` and `analyze` analyse."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aadc_doctor.errors import InputError

if TYPE_CHECKING:
    from aadc_doctor.analysis.pta import PtaEvidence
    from aadc_doctor.logs.pta_trace import TraceEntry, TraceFileStats
    from aadc_doctor.results.pta import TraceFileRead


def collect_trace(paths: list[str], evidence: PtaEvidence) -> None:
    """Stream every trace file (oldest first) into the evidence."""
    if not paths:
        return
    from aadc_doctor import progress
    from aadc_doctor.logs.pta_trace import TraceFileStats, TraceParser, collect_sources, order_sources, read_source
    from aadc_doctor.results.pta import SkippedFile

    sources = order_sources(collect_sources(paths))
    for source in sources:
        if source.named:
            _refuse_event_log(source.name)
    total_lines = 0
    parser = TraceParser()  # one for all files: an entry cut by a rotation goes on in the next file
    # in order: a file's figures are final only once its last entry is in (the next file may continue it)
    listed: list[TraceFileStats | SkippedFile] = []
    entries_before = evidence.trace_entries
    try:
        for source in sources:
            stats = TraceFileStats(source.name)
            try:
                for entry in read_source(source, stats, parser):
                    evidence.trace_entries += 1
                    _take_trace_entry(entry, evidence)
            except InputError as exc:
                # what comes after a bad file does not continue what came before
                for entry in parser.finish():
                    evidence.trace_entries += 1
                    _take_trace_entry(entry, evidence)
                if source.named:
                    raise
                # one bad file inside a copied Trace folder (say, NUL bytes left by a crash) must not hide the rest
                evidence.skipped.append({"name": source.name, "reason": exc.message, "kind": "trace"})
                listed.append(SkippedFile(source.name, exc.message))
                continue
            total_lines += stats.lines
            progress.advance_path(source.name)
            listed.append(stats)
        for entry in parser.finish():
            evidence.trace_entries += 1
            _take_trace_entry(entry, evidence)
    finally:
        # a named file that cannot be read ends the reading (`analyze` goes on): the files read before it are
        # listed too, their entries are in the evidence
        for item in listed:
            if isinstance(item, TraceFileStats):
                evidence.agents_seen.update(item.agents)
                evidence.files.append(trace_file_read(item))
            else:
                evidence.files.append(item)
    total_entries = evidence.trace_entries - entries_before
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


def trace_file_read(stats: TraceFileStats) -> TraceFileRead:
    """A trace file's final figures, as `pta`'s results list them."""
    from aadc_doctor.logs.event_xml import format_iso_time as iso
    from aadc_doctor.results.pta import TraceFileRead

    return TraceFileRead(stats.name, stats.encoding, stats.lines, stats.entries, stats.bad_lines,
                         stats.truncated_lines, stats.cut_short, stats.nul_bytes, iso(stats.first_time),
                         iso(stats.last_time), tuple(sorted(stats.agents)))


def _refuse_event_log(name: str) -> None:
    """An event log given to `pta trace` gets pointed to `pta events` (instead of 'binary file')."""
    from aadc_doctor.logs.event_xml import looks_like_event_xml
    from aadc_doctor.logs.evtx_reader import is_evtx
    from aadc_doctor.logs.pta_event_logs import read_head

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
