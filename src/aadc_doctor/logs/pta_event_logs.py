"""Event logs for `pta`: .evtx files and Event Viewer XML exports into ``PtaEvidence``, on every CPU.

The evtx package renders each record on the thread that asks for it, holding the GIL, so one process
reads at most one CPU's worth. A large log is therefore cut into slices of 64 KiB chunk slots (each
chunk carries its own templates and strings, so a slice reads on its own) and the slices are read by
helper processes and this one (``aadc_doctor.parallel``). The plan needs only the files' sizes, so the
helpers start before anything else is loaded or opened: telling the formats apart, walking the chunk
headers and importing the readers happen on every CPU too. Results are merged in file and slot order,
so the report is the same however many processes read it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from aadc_doctor.errors import InputError

if TYPE_CHECKING:
    from aadc_doctor.analysis.pta import PtaEvidence
    from aadc_doctor.analysis.security_events import AgentMatcher
    from aadc_doctor.logs.event_xml import EventRecord
    from aadc_doctor.logs.evtx_guard import EvtxGuard
    from aadc_doctor.logs.evtx_reader import EvtxFileStats, EvtxLayout
    from aadc_doctor.results.pta import EvtxFileRead, FileRead, XmlFileRead

LEVEL_NAMES = {0: "Information", 1: "Critical", 2: "Error", 3: "Warning", 4: "Information", 5: "Verbose"}
# a 4776 (or 4768) with this Status validated the password (issued a ticket); attempt_from_event drops it, the
# reader need not parse it
STATUS_SUCCESS = '<Data Name="Status">0x0</Data>'
AGENT_CHANNEL_PREFIXES = ("Microsoft-AzureADConnect-", "Microsoft-AadApplicationProxy-")
EVENT_SUFFIXES = (".evtx", ".xml")
CHUNK_SLOT = 65536  # an .evtx chunk; the planner's unit (evtx_reader is not loaded before the helpers start)
FILE_HEADER = 4096

# When helper processes pay off (bench/evtx.py, 2 CPUs, Linux): forking one costs about a millisecond and
# its results come back pickled, together about as long as reading 1 MB; a spawned one (Windows, macOS)
# starts a new interpreter and imports the package, a few hundred milliseconds. Below these sizes one
# process is faster; above them each process gets at least PROCESS_BYTES, and about TASKS_PER_PROCESS
# slices, so a process slowed by other load ends up with fewer of them.
MIN_PARALLEL_BYTES_FORK = 8_000_000
MIN_PARALLEL_BYTES_SPAWN = 64_000_000
PROCESS_BYTES = 8_000_000
MAX_PROCESSES = 8
TASKS_PER_PROCESS = 4
MIN_TASK_SLOTS = 16  # 1 MiB: smaller slices cost more in process traffic than they save

AgentKey = tuple[tuple[str, ...], tuple[str, ...]]  # (--process paths, --agent-host names): what crosses processes


@dataclass(frozen=True)
class LogFile:
    """A file to read, as found (before its format is known)."""

    name: str
    size: int
    in_folder: bool  # found in a folder the user gave: skipped, not an error, when it is no event log


@dataclass(frozen=True)
class Piece:
    """What one task reads of one file: the whole file, or chunk slots ``[first, first + count)`` of it."""

    file_index: int
    name: str
    span: tuple[int, int] | None = None  # (first slot, slot count); None: the whole file
    last: bool = True  # the file's last slice: it reads on to the end the file has when it is read


@dataclass
class PieceResult:
    """What one piece gave: an .evtx's partial figures, an XML export's, or why the file is no event log."""

    file_index: int
    evtx: EvtxFileStats | None = None  # the whole file read at once (intact), described by the reader
    # or read by slot ranges (first slot, figures), merged in slot order and described once from the layout
    slices: list[tuple[int, EvtxFileStats]] = field(default_factory=list)
    layout: EvtxLayout | None = None
    xml: XmlFileRead | None = None
    not_events: tuple[str, str | None] | None = None  # (message, hint): skipped in a folder, else an error
    error: tuple[str, str | None] | None = None  # a file that cannot be read: ends the run
    # slot ranges of a damaged .evtx left to the guarded reader (logs/evtx_guard.py), with the file's layout
    deferred: list[tuple[range, EvtxLayout]] = field(default_factory=list)


@dataclass
class TaskResult:
    evidence: PtaEvidence
    pieces: list[PieceResult] = field(default_factory=list)


def collect_events(files: list[str], agent: AgentKey, jobs: int | None = None,
                   evidence: PtaEvidence | None = None, guard: EvtxGuard | None = None) -> PtaEvidence:
    """Read every .evtx or XML export (folders stand for the logs in them) into the evidence.

    ``jobs``: how many processes read, this one included; None decides from the input size and the CPUs.
    A missing file fails at once (exit 2); a file that is no event log, once the helpers have looked.
    Damaged spans of .evtx files are read last, by ``guard`` (one is started if needed and none is given).
    """
    from aadc_doctor import parallel

    logs = find_files(files)
    processes = jobs if jobs is not None else default_processes(sum(log.size for log in logs))
    tasks = plan_tasks(logs, processes)
    results = parallel.run_tasks(_TaskRunner(agent), tasks, processes)
    if any(piece.deferred for result in results for piece in result.pieces):
        import contextlib

        from aadc_doctor.logs.evtx_guard import EvtxGuard

        with contextlib.nullcontext(guard) if guard is not None else EvtxGuard() as reader:
            results.append(read_deferred(logs, results, agent, reader))
    from aadc_doctor.analysis.pta import PtaEvidence

    if evidence is None:
        evidence = PtaEvidence()
    _merge(logs, results, evidence)
    return evidence


def default_processes(total_bytes: int) -> int:
    """How many processes read ``total_bytes`` of logs fastest here (1 for small inputs or one CPU)."""
    from aadc_doctor import parallel

    cpus = parallel.usable_cpus()
    if cpus < 2 or total_bytes < MIN_PARALLEL_BYTES_FORK:
        return 1
    if total_bytes < MIN_PARALLEL_BYTES_SPAWN and not parallel.cheap_start_available():
        return 1
    return max(min(cpus, total_bytes // PROCESS_BYTES, MAX_PROCESSES), 2)


def find_files(names: list[str]) -> list[LogFile]:
    """The files named, folders expanded to the .evtx and .xml files in them, each once, with its size."""
    seen: set[object] = set()
    logs: list[LogFile] = []
    for name in names:
        status = _stat(name)
        if stat.S_ISREG(status.st_mode):
            _add_once(logs, seen, name, status, in_folder=False)
            continue
        if not stat.S_ISDIR(status.st_mode):  # a pipe or a device would be read forever
            raise InputError(f"{name}: not a regular file",
                             hint="give exported .evtx or .xml files, or folders of them")
        found = sorted(str(p) for p in Path(name).rglob("*") if p.name.lower().endswith(EVENT_SUFFIXES) and p.is_file())
        if not found:
            raise InputError(f"{name}: the folder holds no .evtx or .xml event logs",
                             hint="export with wevtutil epl <log> <file>.evtx, or Event Viewer > Save All Events As; "
                                  "trace logs (*.log) are read by `aadc-doctor pta trace`")
        for inner in found:
            _add_once(logs, seen, inner, _stat(inner), in_folder=True)
    return logs


def _stat(name: str) -> os.stat_result:
    try:
        return os.stat(name)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def _add_once(logs: list[LogFile], seen: set[object], name: str, status: os.stat_result, *, in_folder: bool) -> None:
    """A file named twice, or also inside a named folder, is read once (or every count would double)."""
    key = (status.st_dev, status.st_ino) if status.st_ino else Path(name).resolve()
    if key not in seen:
        seen.add(key)
        logs.append(LogFile(name, status.st_size, in_folder))


def plan_tasks(logs: list[LogFile], processes: int) -> list[list[Piece]]:
    """Split the files, in order, into tasks of about equal size, from their sizes alone.

    A file that may be an .evtx is cut at chunk slots; the piece that reads a slot where the file's clean
    run of chunks ends also reads the rest of the file in one go, so the package meets damaged or unused
    slots exactly as in the whole file. An .xml export is one piece. A file that falls into one task whole
    is read as a file, not as slices.
    """
    if processes <= 1:
        return [[Piece(index, log.name) for index, log in enumerate(logs)]]  # one task: nothing to balance
    weights = [_slots(log) for log in logs]
    target = max(MIN_TASK_SLOTS, -(-sum(weights) // (processes * TASKS_PER_PROCESS)))
    tasks: list[list[Piece]] = []
    room = 0
    for index, log in enumerate(logs):
        if room <= 0:
            tasks.append([])
            room = target
        if weights[index] <= room or log.name.lower().endswith(".xml"):
            tasks[-1].append(Piece(index, log.name))
            room -= weights[index]
            continue
        start = 0
        while start < weights[index]:
            if room <= 0:
                tasks.append([])
                room = target
            count = min(room, weights[index] - start)
            tasks[-1].append(Piece(index, log.name, (start, count), last=start + count >= weights[index]))
            room -= count
            start += count
    return tasks


def _slots(log: LogFile) -> int:
    """A file's weight: its 64 KiB chunk slots (a cut-short last one included), at least 1."""
    return max(-(-(log.size - FILE_HEADER) // CHUNK_SLOT), 1)


class _TaskRunner:
    """The task function, with the agent options as plain data (what crosses to a helper process)."""

    def __init__(self, agent: AgentKey) -> None:
        self.agent = agent

    def __call__(self, task: list[Piece]) -> TaskResult:
        return read_pieces(task, matcher_for(self.agent))


@cache
def matcher_for(agent: AgentKey) -> AgentMatcher:
    """The agent matcher (both generations' executables plus --process; --agent-host), once per process."""
    from aadc_doctor.analysis.security_events import AgentMatcher
    from aadc_doctor.knowledge.pta_events import agent_generations

    return AgentMatcher([g.process for g in agent_generations()] + list(agent[0]), list(agent[1]))


class _EvidenceSink:
    """Records into one evidence: the agent's own events, and the Security log's sign-in attempts."""

    def __init__(self, matcher: AgentMatcher) -> None:
        from aadc_doctor.analysis.pta import PtaEvidence
        from aadc_doctor.analysis.security_events import SECURITY_EVENT_IDS, attempt_from_event, parse_system_time
        from aadc_doctor.knowledge.pta_events import agent_channels
        from aadc_doctor.logs.evtx_reader import RecordSelector

        self.matcher = matcher
        self.evidence = PtaEvidence()
        self.channels = agent_channels()
        self.selector = RecordSelector(
            ids=frozenset({4625, 4768, 4771, 4776}), checked_ids=frozenset({4624, 4648}),
            unless=((4776, STATUS_SUCCESS), (4768, STATUS_SUCCESS)),  # most are successes
            process_names=tuple(sorted(matcher.exe_names)), channel_prefixes=AGENT_CHANNEL_PREFIXES)
        # bound once: take() runs for every record selected, often tens of thousands a log
        self._security_ids = SECURITY_EVENT_IDS
        self._attempt_from_event = attempt_from_event
        self._parse_system_time = parse_system_time

    def take(self, record: EventRecord) -> None:
        if record.channel.lower() in self.channels:
            message = record.message or " | ".join(s for s in record.strings if s) or " | ".join(
                f"{k}={v}" for k, v in record.data.items())
            level = LEVEL_NAMES.get(record.level if record.level is not None else 4, "Information")
            self.evidence.add_agent_event(record.channel, record.event_id, level, message,
                                          self._parse_system_time(record.time))
            return
        if record.event_id in self._security_ids:
            attempt = self._attempt_from_event(record, self.matcher)
            if attempt is not None:
                self.evidence.add_attempt(attempt)

    def count(self, counts: dict[int, int]) -> None:
        self.evidence.events_by_id.update(counts)
        self.evidence.security_events += sum(n for eid, n in counts.items() if eid in self._security_ids)


def read_pieces(pieces: list[Piece], matcher: AgentMatcher) -> TaskResult:
    """One task: its pieces read in order into one evidence; damaged .evtx spans are left for the guard."""
    from aadc_doctor.logs.event_xml import XmlExportStats, iter_xml_export
    from aadc_doctor.logs.evtx_reader import EvtxFileStats, iter_evtx_records
    from aadc_doctor.results.pta import XmlFileRead

    sink = _EvidenceSink(matcher)
    result = TaskResult(sink.evidence)
    take, selector = sink.take, sink.selector
    for piece in pieces:
        path = Path(piece.name)
        outcome = PieceResult(piece.file_index)
        result.pieces.append(outcome)
        try:
            kind, layout = _sniff(path)
            if kind != "evtx" and piece.span is not None and piece.span[0] > 0:
                continue  # not an .evtx: the piece that starts the file reads or reports it
            if kind == "evtx":
                assert layout is not None
                counts: dict[int, int] = {}
                units = [unit for span in _spans_to_read(piece, layout) for unit in _units(path, layout, span)]
                if units == [(None, False)]:  # the whole file, intact: one read, as the package reads it
                    outcome.evtx = EvtxFileStats(piece.name)
                    for record in iter_evtx_records(path, outcome.evtx, selector, counts, layout=layout):
                        take(record)
                else:
                    outcome.layout = layout
                    for unit, damaged in units:
                        assert unit is not None
                        if damaged:
                            outcome.deferred.append((unit, layout))
                            continue
                        stats = EvtxFileStats(piece.name)
                        for record in iter_evtx_records(path, stats, selector, counts, layout=layout, span=unit):
                            take(record)
                        outcome.slices.append((unit.start, stats))
                sink.count(counts)
            else:
                xml_stats = XmlExportStats(piece.name)
                counts = {}
                for record in iter_xml_export(path, xml_stats):
                    counts[record.event_id] = counts.get(record.event_id, 0) + 1
                    take(record)
                sink.count(counts)
                outcome.xml = XmlFileRead(piece.name, xml_stats.records, xml_stats.bad, xml_stats.cut_short)
        except _NotEvents as problem:
            outcome.not_events = (problem.message, problem.hint)
        except InputError as exc:
            outcome.error = (exc.message, exc.hint)
    return result


def read_deferred(logs: list[LogFile], results: list[TaskResult], agent: AgentKey, guard: EvtxGuard) -> TaskResult:
    """The damaged spans the tasks left, read by the guard in file order; their figures go to their pieces.

    Read here, in the main process, whatever ``--jobs`` is: the report is the same however the file was cut.
    """
    sink = _EvidenceSink(matcher_for(agent))
    for result in results:
        for piece in result.pieces:
            for span, layout in piece.deferred:
                read = guard.read(Path(logs[piece.file_index].name), layout, span, sink.selector, sink.take)
                sink.count(read.counts)
                piece.slices.append((span.start, read.stats))
            piece.deferred.clear()
    return TaskResult(sink.evidence)


def _units(path: Path, layout: EvtxLayout, span: range | None) -> list[tuple[range | None, bool]]:
    """How a span is read: (slot range, damaged) in slot order; [(None, False)] for a whole intact file.

    Each slot the package may loop on is a unit of its own (every slot, when the file header is damaged),
    read by the guard; the runs of slots between them are read here. Cut the same way whatever ``--jobs`` is,
    so the report is too, even when the guard stops a read; and a stopped read loses one chunk, never the
    rest of the file.
    """
    from aadc_doctor.logs.evtx_reader import damaged_slots

    slots = range(layout.slots) if span is None else span
    damaged = list(slots) if not layout.header_intact else damaged_slots(path, slots)
    if span is None and not damaged:
        return [(None, False)]
    units: list[tuple[range | None, bool]] = []
    run_start = slots.start
    for slot in damaged:
        if run_start < slot:
            units.append((range(run_start, slot), False))
        units.append((range(slot, slot + 1), True))
        run_start = slot + 1
    if run_start < slots.stop:
        units.append((range(run_start, slots.stop), False))
    return units


def _spans_to_read(piece: Piece, layout: EvtxLayout | None) -> list[range | None]:
    """The slot ranges a piece reads: its share of the clean run, and the rest of the file if the run ends in it.

    The last slice reads on to the file's end as found now (a log copied while it grew is read whole).
    """
    if piece.span is None or layout is None:
        return [None]
    clean, slots = layout.clean_slots, layout.slots
    first, end = piece.span[0], piece.span[0] + piece.span[1]
    if piece.last:
        end = max(end, slots)
    ranges: list[range | None] = []
    if first < clean:
        ranges.append(range(first, min(end, clean)))
    if first <= clean < end and clean < slots:
        ranges.append(range(clean, slots))
    return ranges


class _NotEvents(InputError):
    """A readable file that is no event log (skipped inside a folder, an error when named)."""


def _sniff(path: Path) -> tuple[str, EvtxLayout | None]:
    """("evtx", its layout) or ("xml", None), from one open of the file; _NotEvents for anything else.

    Remembered per process while the file is unchanged: the pieces of one large file look once.
    """
    try:
        status = os.stat(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    key = (str(path), status.st_size, status.st_mtime_ns, status.st_ino)
    known = _SNIFFED.get(key)
    if known is None:
        if len(_SNIFFED) >= 1024:
            _SNIFFED.clear()
        known = _SNIFFED[key] = _sniff_file(path)
    return known


_SNIFFED: dict[tuple[str, int, int, int], tuple[str, EvtxLayout | None]] = {}


def _sniff_file(path: Path) -> tuple[str, EvtxLayout | None]:
    from aadc_doctor.logs.event_xml import looks_like_event_xml
    from aadc_doctor.logs.evtx_reader import is_evtx, layout_of

    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
            if is_evtx(head):
                return "evtx", layout_of(fh, path)
    except OSError as exc:
        raise open_error(path, exc) from None
    if not head:
        raise _NotEvents(f"{path}: empty (0 bytes)", hint="export the log again: wevtutil epl <log> <file>.evtx, or "
                                                           "Event Viewer > Save All Events As")
    if not looks_like_event_xml(head):
        raise _NotEvents(f"{path}: neither an .evtx file nor an Event Viewer XML export", hint=not_events_hint(head))
    return "xml", None


def _merge(logs: list[LogFile], results: list[TaskResult], evidence: PtaEvidence) -> None:
    """Tasks' evidence in order, then one entry per file (its pieces' records and errors added up).

    Problems are raised in file order: the first unreadable file, or the first named file that is no event
    log; such files found in a folder are listed as skipped.
    """
    from aadc_doctor.logs.evtx_reader import EvtxFileStats
    from aadc_doctor.results.pta import SkippedFile

    by_file: dict[int, list[PieceResult]] = {}
    for result in results:
        for piece in result.pieces:
            by_file.setdefault(piece.file_index, []).append(piece)
    entries: list[FileRead] = []
    damaged: list[EvtxFileRead] = []
    skipped: list[dict[str, str]] = []
    for index, log in enumerate(logs):
        pieces = by_file.get(index, [])
        for piece in pieces:
            if piece.error is not None:
                raise InputError(piece.error[0], hint=piece.error[1])
            if piece.not_events is not None and not log.in_folder:
                raise InputError(piece.not_events[0], hint=piece.not_events[1])
        problem = next((p.not_events for p in pieces if p.not_events is not None), None)
        if problem is not None:
            skipped.append({"name": log.name, "reason": problem[0], "kind": "events"})
            entries.append(SkippedFile(log.name, problem[0]))
            continue
        xml = next((p.xml for p in pieces if p.xml is not None), None)
        if xml is not None:
            entries.append(xml)
            continue
        read_whole = next((p.evtx for p in pieces if p.evtx is not None), None)
        slices = sorted((s for p in pieces for s in p.slices), key=lambda item: item[0])
        if read_whole is not None and not slices:
            whole = read_whole  # read as one file: described by the reader
        else:  # read by slot ranges (by helpers, by the guard): in slot order, however the file was cut
            whole = EvtxFileStats(log.name)
            layout = next((p.layout for p in pieces if p.layout is not None), None)
            if layout is not None:
                layout.describe(whole)
            for _, part in slices:
                whole.add_part(part)
        info = evtx_file_read(whole)
        if info.damaged:
            damaged.append(info)
        entries.append(info)
    if all(isinstance(entry, SkippedFile) for entry in entries):
        raise InputError(f"no event log among the files found: {skipped[-1]['reason']}",
                         hint="export with wevtutil epl <log> <file>.evtx, or Event Viewer > Save All Events As")
    for result in results:
        evidence.merge(result.evidence)
    evidence.files.extend(entries)
    evidence.damaged.extend(damaged)
    evidence.skipped.extend(skipped)


def evtx_file_read(stats: EvtxFileStats) -> EvtxFileRead:
    """An .evtx file's figures once all its slices are in, as `pta`'s results list them."""
    from aadc_doctor.results.pta import EvtxFileRead

    derived = stats.whole_file_errors()
    return EvtxFileRead(stats.name, stats.records, stats.expected_records, stats.chunks, stats.truncated_bytes,
                        tuple((stats.errors + derived)[:20]), stats.error_count + len(derived), stats.damaged,
                        stats.dirty)


def not_events_hint(head: bytes) -> str:
    """What to do with a file that is no event log: a PTA trace log goes to `pta trace`."""
    from aadc_doctor.logs.pta_trace import looks_like_trace

    if looks_like_trace(head):
        return "this looks like a PTA agent trace log: `aadc-doctor pta trace` reads those"
    return "export with wevtutil epl <log> <file>.evtx, or Event Viewer > Save All Events As"


def open_error(path: Path, exc: OSError) -> InputError:
    """The error for an event log that cannot be opened. On Windows, open() of a folder raises PermissionError
    (not IsADirectoryError): "Permission denied" would send the admin after the file's rights, not the path."""
    if isinstance(exc, IsADirectoryError | PermissionError) and path.is_dir():
        return InputError(f"{path}: is a folder; give .evtx or .xml files")
    return InputError(f"{path}: cannot read: {exc.strerror or exc}")


def read_head(path: Path) -> bytes:
    """The first 8 KiB, to tell the formats apart (a missing file or a folder is an InputError)."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give .evtx or .xml files")
    try:
        with open(path, "rb") as fh:
            return fh.read(8192)
    except OSError as exc:
        raise open_error(path, exc) from None
