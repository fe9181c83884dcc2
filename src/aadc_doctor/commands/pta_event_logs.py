"""Event logs for `pta`: .evtx files and Event Viewer XML exports into ``PtaEvidence``, on every CPU.

The evtx package renders each record on the thread that asks for it, holding the GIL, so one process
reads at most one CPU's worth. A large log is therefore cut into slices of 64 KiB chunk slots (each
chunk carries its own templates and strings, so a slice reads on its own) and the slices are read by
worker processes, this one included (``aadc_doctor.parallel``). Results are merged in file and slot
order, so the report is the same however many processes read it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aadc_doctor.errors import InputError

if TYPE_CHECKING:
    from aadc_doctor.analysis.pta import PtaEvidence
    from aadc_doctor.analysis.security_events import AgentMatcher
    from aadc_doctor.logs.evtx_reader import EvtxFileStats, EvtxLayout

LEVEL_NAMES = {0: "Information", 1: "Critical", 2: "Error", 3: "Warning", 4: "Information", 5: "Verbose"}
# a 4776 (or 4768) with this Status validated the password (issued a ticket); attempt_from_event drops it, the
# reader need not parse it
STATUS_SUCCESS = '<Data Name="Status">0x0</Data>'
AGENT_CHANNEL_PREFIXES = ("Microsoft-AzureADConnect-", "Microsoft-AadApplicationProxy-")
EVENT_SUFFIXES = (".evtx", ".xml")

# When worker processes pay off (bench/evtx.py, 2 CPUs, Linux): forking one costs a few milliseconds and
# its results come back pickled, about as long as reading 1 MB; a spawned one (Windows, macOS) starts a
# new interpreter and imports the package, a few hundred milliseconds. Below these sizes one process is
# faster; above them each process gets at least PROCESS_BYTES, and each one about TASKS_PER_PROCESS
# slices, so a process slowed by other load ends up with fewer of them.
MIN_PARALLEL_BYTES_FORK = 8_000_000
MIN_PARALLEL_BYTES_SPAWN = 64_000_000
PROCESS_BYTES = 8_000_000
MAX_PROCESSES = 8
TASKS_PER_PROCESS = 4
MIN_TASK_SLOTS = 16  # 1 MiB: smaller slices cost more in process traffic than they save


@dataclass(frozen=True)
class EventLogFile:
    """A file that sniffed as an event log, with its .evtx layout (None: an XML export)."""

    name: str
    layout: EvtxLayout | None
    size: int


@dataclass(frozen=True)
class Piece:
    """What one task reads of one file: the whole file, or chunk slots ``span`` of an .evtx."""

    file_index: int
    name: str
    layout: EvtxLayout | None
    span: tuple[int, int] | None = None  # (first slot, slot count)


@dataclass
class TaskResult:
    """A task's evidence, and per piece the file's partial figures (an error ends the run)."""

    evidence: PtaEvidence
    evtx_stats: list[tuple[int, EvtxFileStats]] = field(default_factory=list)
    xml_files: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    error: tuple[str, str | None] | None = None


def collect_events(files: list[str], evidence: PtaEvidence, matcher: AgentMatcher, jobs: int | None = None) -> None:
    """Read every .evtx or XML export (folders stand for the logs in them) into the evidence.

    ``jobs``: how many processes read, this one included; None decides from the input size and the CPUs.
    Files are checked first, so a bad file fails fast with exit 2.
    """
    if not files:
        return
    found_in_folders: set[str] = set()
    logs = _sniff(_once_each(expand_folders(files, found_in_folders)), found_in_folders, evidence)
    processes = jobs if jobs is not None else default_processes(sum(log.size for log in logs))
    tasks = plan_tasks(logs, processes)
    from aadc_doctor import parallel

    if processes > 1:
        _prepare_readers()
    key = (tuple(sorted(matcher.paths)), tuple(sorted(matcher.host_names)))
    results = parallel.run_tasks(_TaskRunner(key), tasks, processes)
    for result in results:
        if result.error is not None:
            raise InputError(result.error[0], hint=result.error[1])
    _merge(logs, results, evidence)


def default_processes(total_bytes: int) -> int:
    """How many processes read ``total_bytes`` of logs fastest here (1 for small inputs or one CPU)."""
    from aadc_doctor import parallel

    cpus = parallel.usable_cpus()
    if cpus < 2 or total_bytes < MIN_PARALLEL_BYTES_FORK:
        return 1  # decided without loading multiprocessing
    if total_bytes < MIN_PARALLEL_BYTES_SPAWN and not parallel.cheap_start_available():
        return 1
    return max(min(cpus, total_bytes // PROCESS_BYTES, MAX_PROCESSES), 2)


def plan_tasks(logs: list[EventLogFile], processes: int) -> list[list[Piece]]:
    """Split the logs, in order, into tasks of about equal size.

    An .evtx is cut only across its clean run of chunks (what its headers vouch for); whatever follows
    (unused or damaged slots) is read as one piece, where the package behaves as in the whole file. An XML
    export is one piece. A file that falls into one task whole is read as a file, not as a window.
    """
    if processes <= 1:
        return [[Piece(index, log.name, log.layout) for index, log in enumerate(logs)]]
    weights = [_weight(log) for log in logs]
    target = max(MIN_TASK_SLOTS, -(-sum(weights) // (processes * TASKS_PER_PROCESS)))
    tasks: list[list[Piece]] = []
    room = 0

    def add(piece: Piece, weight: int) -> None:
        nonlocal room
        tasks[-1].append(piece)
        room -= weight

    for index, log in enumerate(logs):
        if room <= 0:
            tasks.append([])
            room = target
        layout = log.layout
        if layout is None or layout.clean_slots == 0 or weights[index] <= room:
            add(Piece(index, log.name, layout), weights[index])
            continue
        start = 0
        while start < layout.clean_slots:
            if room <= 0:
                tasks.append([])
                room = target
            count = min(room, layout.clean_slots - start)
            add(Piece(index, log.name, layout, (start, count)), count)
            start += count
        if layout.slots > start:
            add(Piece(index, log.name, layout, (start, layout.slots - start)), 1)
    return tasks


def _weight(log: EventLogFile) -> int:
    """About how long a file takes to read, in chunk slots (unused slots after the chunks cost next to nothing)."""
    from aadc_doctor.logs.evtx_reader import CHUNK_SIZE

    if log.layout is not None:
        return log.layout.clean_slots + (1 if log.layout.slots > log.layout.clean_slots else 0)
    return max(-(-log.size // CHUNK_SIZE), 1)  # an XML export: weighed by its size


def _prepare_readers() -> None:
    """Load the reader's modules and tables here, before any helper is forked, so none loads them again."""
    import aadc_doctor.analysis.pta  # noqa: F401
    import evtx  # noqa: F401
    from aadc_doctor.knowledge.pta_events import agent_channels, kerberos_to_win32

    agent_channels()
    kerberos_to_win32()


class _TaskRunner:
    """The task function, with the agent matcher's plain-data key (what crosses to a helper process)."""

    def __init__(self, key: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
        self.key = key

    def __call__(self, task: list[Piece]) -> TaskResult:
        return read_pieces(task, _matcher_for(self.key))


@cache
def _matcher_for(key: tuple[tuple[str, ...], tuple[str, ...]]) -> AgentMatcher:
    """One matcher per process for all tasks."""
    from aadc_doctor.analysis.security_events import AgentMatcher

    return AgentMatcher(list(key[0]), list(key[1]))


def read_pieces(pieces: list[Piece], matcher: AgentMatcher) -> TaskResult:
    """One task: its pieces read in order into one evidence (an InputError comes back as data)."""
    from aadc_doctor.analysis.pta import PtaEvidence
    from aadc_doctor.analysis.security_events import SECURITY_EVENT_IDS, attempt_from_event, parse_system_time
    from aadc_doctor.knowledge.pta_events import agent_channels
    from aadc_doctor.logs.event_xml import EventRecord, XmlExportStats, iter_xml_export
    from aadc_doctor.logs.evtx_reader import EvtxFileStats, RecordSelector, iter_evtx_records

    evidence = PtaEvidence()
    result = TaskResult(evidence)
    channels = agent_channels()
    selector = RecordSelector(ids=frozenset({4625, 4768, 4771, 4776}), checked_ids=frozenset({4624, 4648}),
                              unless=((4776, STATUS_SUCCESS), (4768, STATUS_SUCCESS)),  # most are successes
                              process_names=tuple(sorted(matcher.exe_names)), channel_prefixes=AGENT_CHANNEL_PREFIXES)

    def take(record: EventRecord) -> None:
        if record.channel.lower() in channels:
            message = record.message or " | ".join(s for s in record.strings if s) or " | ".join(
                f"{k}={v}" for k, v in record.data.items())
            level = LEVEL_NAMES.get(record.level if record.level is not None else 4, "Information")
            evidence.add_agent_event(record.channel, record.event_id, level, message, parse_system_time(record.time))
            return
        if record.event_id in SECURITY_EVENT_IDS:
            attempt = attempt_from_event(record, matcher)
            if attempt is not None:
                evidence.add_attempt(attempt)

    try:
        for piece in pieces:
            path = Path(piece.name)
            if piece.layout is not None:
                stats = EvtxFileStats(piece.name)
                counts: dict[int, int] = {}
                span = None if piece.span is None else range(piece.span[0], piece.span[0] + piece.span[1])
                for record in iter_evtx_records(path, stats, selector, counts, layout=piece.layout, span=span):
                    take(record)
                evidence.events_by_id.update(counts)
                evidence.security_events += sum(n for eid, n in counts.items() if eid in SECURITY_EVENT_IDS)
                result.evtx_stats.append((piece.file_index, stats))
                continue
            xml_stats = XmlExportStats(piece.name)
            for record in iter_xml_export(path, xml_stats):
                evidence.events_by_id[record.event_id] += 1
                if record.event_id in SECURITY_EVENT_IDS:
                    evidence.security_events += 1
                take(record)
            result.xml_files.append((piece.file_index, {"name": piece.name, "format": "xml",
                                                        "records": xml_stats.records, "bad": xml_stats.bad}))
    except InputError as exc:
        result.error = (exc.message, exc.hint)
    return result


def _merge(logs: list[EventLogFile], results: list[TaskResult], evidence: PtaEvidence) -> None:
    """Tasks' evidence in order, then one entry per file: its pieces' records and errors added up."""
    from aadc_doctor.logs.evtx_reader import MAX_ERRORS, EvtxFileStats

    entries: dict[int, dict[str, Any]] = {}
    combined: dict[int, EvtxFileStats] = {}
    for result in results:
        evidence.merge(result.evidence)
        entries.update(result.xml_files)
        for index, part in result.evtx_stats:
            whole = combined.get(index)
            if whole is None:
                whole = combined[index] = EvtxFileStats(logs[index].name)
                layout = logs[index].layout
                if layout is not None:
                    layout.describe(whole)
                    whole.errors.extend(layout.notes())
            whole.records += part.records
            whole.errors.extend(part.errors[:max(MAX_ERRORS + 1 - len(whole.errors), 0)])
    for index in range(len(logs)):
        if index in combined:
            info = combined[index].to_dict()
            if combined[index].damaged:
                evidence.damaged.append(info)
            evidence.files.append(info)
        elif index in entries:
            evidence.files.append(entries[index])


def _sniff(files: list[str], found_in_folders: set[str], evidence: PtaEvidence) -> list[EventLogFile]:
    """The files that are event logs, with their layouts; a stray file found in a folder is noted and skipped."""
    logs: list[EventLogFile] = []
    for name in files:
        try:
            logs.append(_sniff_one(Path(name)))
        except _NotEvents as problem:
            if name not in found_in_folders:
                raise InputError(problem.message, hint=problem.hint) from None
            # a stray file in a collected folder (a config .xml) does not stop the run
            evidence.skipped.append({"name": name, "reason": problem.message, "kind": "events"})
            evidence.files.append({"format": "skipped", "name": name, "reason": problem.message})
    if not logs:
        first = evidence.skipped[-1]
        raise InputError(f"no event log among the files found: {first['reason']}",
                         hint="export with wevtutil epl <log> <file>.evtx, or Event Viewer > Save All Events As")
    return logs


class _NotEvents(InputError):
    """A readable file that is no event log (skipped inside a folder, an error when named)."""


def _sniff_one(path: Path) -> EventLogFile:
    """One open per file: its first bytes tell the format, and an .evtx's headers give its layout."""
    from aadc_doctor.logs.event_xml import looks_like_event_xml
    from aadc_doctor.logs.evtx_reader import is_evtx, layout_of

    _check_is_file(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
            if is_evtx(head):
                layout = layout_of(fh, path)
                return EventLogFile(str(path), layout, layout.size)
            size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not head:
        raise _NotEvents(f"{path}: empty (0 bytes)", hint="export the log again: wevtutil epl <log> <file>.evtx, or "
                                                           "Event Viewer > Save All Events As")
    if not looks_like_event_xml(head):
        raise _NotEvents(f"{path}: neither an .evtx file nor an Event Viewer XML export", hint=not_events_hint(head))
    return EventLogFile(str(path), None, size)


def expand_folders(files: list[str], found_in_folders: set[str]) -> list[str]:
    """A folder stands for the .evtx and .xml files in it (and below), in name order; those are noted."""
    expanded: list[str] = []
    for name in files:
        path = Path(name)
        if not path.is_dir():
            expanded.append(name)
            continue
        found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(EVENT_SUFFIXES))
        if not found:
            raise InputError(f"{name}: the folder holds no .evtx or .xml event logs",
                             hint="export with wevtutil epl <log> <file>.evtx, or Event Viewer > Save All Events As; "
                                  "trace logs (*.log) are read by `aadc-doctor pta trace`")
        expanded.extend(found)
        found_in_folders.update(found)
    return expanded


def not_events_hint(head: bytes) -> str:
    """What to do with a file that is no event log: a PTA trace log goes to `pta trace`."""
    from aadc_doctor.logs.pta_trace import looks_like_trace

    if looks_like_trace(head):
        return "this looks like a PTA agent trace log: `aadc-doctor pta trace` reads those"
    return "export with wevtutil epl <log> <file>.evtx, or Event Viewer > Save All Events As"


def _once_each(files: list[str]) -> list[str]:
    """The files in the order given, each once (a file named twice would double every count)."""
    seen: set[object] = set()
    unique: list[str] = []
    for name in files:
        key: object
        try:
            status = os.stat(name)
            key = (status.st_dev, status.st_ino) if status.st_ino else Path(name).resolve()
        except (OSError, ValueError):
            key = Path(name).absolute()  # not there: reported when it is read
        if key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


def read_head(path: Path) -> bytes:
    """The first 8 KiB, to tell the formats apart (a missing file or a folder is an InputError)."""
    _check_is_file(path)
    try:
        with open(path, "rb") as fh:
            return fh.read(8192)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _check_is_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give .evtx or .xml files")  # folders are expanded before
