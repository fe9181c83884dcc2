"""PTA agent trace logs: the .NET TraceListener layout both agent generations write.

An entry is a header line ``<source> <Level>: <id> : <message>``, message continuation lines (exception
text), then indented trace-output fields (``ProcessId=``, ``LogicalOperationStack=``, ``ThreadId=``,
``DateTime=``, ``Timestamp=``, ``Callstack=``). The seed article shows it under the preview connector's
``ApplicationProxyConnectorService.exe``; today's agent writes ``AzureADConnectAuthenticationAgentService.exe``.
Folders and .zip files of a collected Trace folder are read too, files in time order.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from aadc_doctor.errors import InputError
from aadc_doctor.logs.event_xml import format_iso_time as iso
from aadc_doctor.logs.event_xml import parse_iso_time
from aadc_doctor.logs.text_input import TextStats, iter_text_lines, open_binary

TRACE_SUFFIXES = (".log", ".txt", ".log.gz", ".txt.gz")
LEVELS = ("Critical", "Error", "Warning", "Information", "Verbose", "Start", "Stop", "Suspend", "Resume", "Transfer")
FIELDS = ("ProcessId", "LogicalOperationStack", "ThreadId", "DateTime", "Timestamp", "Callstack")
_HEADER = re.compile(r"^\s*(?P<source>\S(?:.*?\S)?) (?P<level>" + "|".join(LEVELS)
                     + r"): (?P<id>-?\d+) : ?(?P<msg>.*)$")
_FIELD = re.compile(r"^\s+(?P<name>" + "|".join(FIELDS) + r")=(?P<value>.*)$")
_FAILED = re.compile(r"Passthrough Authentication request failed\.\s*RequestId:\s*'(?P<rid>[^']*)'\.\s*"
                     r"Reason:\s*'(?P<reason>-?\d+)'")
MAX_MESSAGE_CHARS = 8192


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One trace event with its output fields; ``time`` is None when DateTime is absent or a placeholder."""

    file: str
    line: int
    source: str
    level: str
    event_id: int
    message: str
    time: datetime | None = None
    thread_id: int | None = None
    process_id: int | None = None
    callstack: str = ""


@dataclass(frozen=True, slots=True)
class FailedSignIn:
    """``Passthrough Authentication request failed``: the request and its Win32 reason code."""

    request_id: str
    reason: int
    time: datetime | None
    agent: str
    file: str
    line: int
    thread_id: int | None = None


@dataclass
class TraceFileStats:
    """Per input file: what was read and what could not be understood."""

    name: str
    encoding: str = ""
    lines: int = 0
    entries: int = 0
    bad_lines: int = 0
    truncated_lines: int = 0
    cut_short: str = ""  # a compressed file that ends early: read up to there
    first_time: datetime | None = None
    last_time: datetime | None = None
    agents: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "encoding": self.encoding, "lines": self.lines, "entries": self.entries,
                "bad_lines": self.bad_lines, "truncated_lines": self.truncated_lines,
                "cut_short": self.cut_short or None,
                "first_seen": iso(self.first_time), "last_seen": iso(self.last_time),
                "agents": sorted(self.agents)}


def parse_trace_time(text: str) -> datetime | None:
    """``DateTime=`` value: ISO 8601 (7 fractional digits from .NET); None for placeholders like ``xxxx-xx-xx``."""
    return parse_iso_time(text)


def looks_like_trace(head: bytes) -> bool:
    """True when a file's first bytes hold a trace entry header (any encoding the agent writes)."""
    from aadc_doctor.logs.text_input import sniff_encoding

    try:
        encoding = sniff_encoding(head, "")
    except InputError:
        return False
    text = head.decode(encoding, errors="ignore")
    return any(_HEADER.match(line) for line in text.splitlines()[:50])


def failed_sign_in(entry: TraceEntry) -> FailedSignIn | None:
    """The failed PTA request an entry reports, if it is one."""
    match = _FAILED.search(entry.message)
    if match is None:
        return None
    return FailedSignIn(request_id=match.group("rid"), reason=int(match.group("reason")), time=entry.time,
                        agent=entry.source, file=entry.file, line=entry.line, thread_id=entry.thread_id)


class _EntryBuilder:
    __slots__ = ("callstack", "fields", "header", "line", "message", "source", "stats")

    def __init__(self, header: re.Match[str], line: int, stats: TraceFileStats) -> None:
        self.header = header
        self.line = line
        self.stats = stats  # the file the entry's header is in: the entry counts there
        self.message: list[str] = [header.group("msg")]
        self.fields: dict[str, str] = {}
        self.callstack: list[str] = []

    def build(self) -> TraceEntry:
        h = self.header
        message = "\n".join(self.message).strip()
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + " …"
        return TraceEntry(
            file=self.stats.name, line=self.line, source=h.group("source"), level=h.group("level"),
            event_id=int(h.group("id")), message=message,
            time=parse_trace_time(self.fields.get("DateTime", "")),
            thread_id=_int_or_none(self.fields.get("ThreadId")),
            process_id=_int_or_none(self.fields.get("ProcessId")),
            callstack="\n".join(self.callstack)[:MAX_MESSAGE_CHARS],
        )


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


class TraceParser:
    """Entries from decoded lines, file after file, with one entry of state carried between files.

    The agent's listener rotates between two writes, so the last entry of a file can lose its ``ThreadId=`` and
    ``DateTime=`` lines to the top of the next file. Read oldest first, those leading lines complete the entry
    (which keeps its time and counts in the file its header is in) instead of being unreadable lines there.
    """

    def __init__(self) -> None:
        self._current: _EntryBuilder | None = None

    def feed(self, lines: Iterator[str], stats: TraceFileStats) -> Iterator[TraceEntry]:
        """Entries whose header is in ``lines``; the file's last entry waits for the next file or ``finish``."""
        current = self._current
        at_top = current is not None  # still before this file's first line that is not blank
        for line_no, line in enumerate(lines, start=1):
            stats.lines += 1
            header = _HEADER.match(line)
            if header is not None:
                if current is not None:
                    yield _finish(current)
                current = _EntryBuilder(header, line_no, stats)
                at_top = False
                continue
            if at_top and current is not None and line.strip():
                at_top = False
                if not _continues(current, line):
                    yield _finish(current)
                    current = None
            if current is None:
                if line.strip():
                    stats.bad_lines += 1
                continue
            fld = _FIELD.match(line)
            if fld is not None:
                name = fld.group("name")
                current.fields[name] = fld.group("value")
                if name == "Callstack":
                    current.callstack.append(fld.group("value").strip())
                continue
            if not line.strip():
                continue
            if current.fields:
                if "Callstack" in current.fields and len(current.callstack) < 200:
                    current.callstack.append(line.strip())
                elif "Callstack" not in current.fields:
                    stats.bad_lines += 1
            elif len(current.message) < 400:
                current.message.append(line.rstrip())
        self._current = current

    def finish(self) -> Iterator[TraceEntry]:
        """The entry still open at the end of the last file (or before a file that could not be read)."""
        if self._current is not None:
            current, self._current = self._current, None
            yield _finish(current)


def _continues(entry: _EntryBuilder, line: str) -> bool:
    """Whether the first line of a file can be the rest of the previous file's last entry."""
    fld = _FIELD.match(line)
    if fld is not None:
        return fld.group("name") not in entry.fields
    return not entry.fields  # message text (an exception) goes on only before the output fields


def parse_trace_lines(lines: Iterator[str], stats: TraceFileStats) -> Iterator[TraceEntry]:
    """Entries of one file from decoded lines; lines that belong to no entry are counted in ``stats.bad_lines``."""
    parser = TraceParser()
    yield from parser.feed(lines, stats)
    yield from parser.finish()


def _finish(builder: _EntryBuilder) -> TraceEntry:
    entry = builder.build()
    stats = builder.stats
    stats.entries += 1
    stats.agents.add(entry.source)
    if entry.time is not None:
        if stats.first_time is None or entry.time < stats.first_time:
            stats.first_time = entry.time
        if stats.last_time is None or entry.time > stats.last_time:
            stats.last_time = entry.time
    return entry


@dataclass(frozen=True)
class TraceSource:
    """One trace file to read: a display name and how to open its bytes (a file, or a member of a .zip)."""

    name: str
    open: Callable[[], BinaryIO]
    key: str = ""  # the file's resolved path (plus !member inside a .zip): the same file has the same key
    named: bool = True  # given by the user itself, not found inside a folder or .zip


def _is_trace_name(name: str) -> bool:
    return name.lower().endswith(TRACE_SUFFIXES)


def collect_sources(paths: list[str]) -> list[TraceSource]:
    """Files as given, trace files inside folders (recursively) and inside .zip archives; each file once.

    A file named twice, or both on its own and inside a folder also given, is read once: counting its
    failures twice would double every figure of the report.
    """
    sources = _collect_all(paths)
    seen: set[str] = set()
    unique: list[TraceSource] = []
    for source in sources:
        if source.key not in seen:
            seen.add(source.key)
            unique.append(source)
    return unique


def _identity(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path.absolute())


def _collect_all(paths: list[str]) -> list[TraceSource]:
    sources: list[TraceSource] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{raw}: no such file or folder")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _is_trace_name(p.name))
            sources.extend(TraceSource(str(p), _file_opener(p), _identity(p), named=False) for p in found)
            for p in sorted(p for p in path.rglob("*.zip") if p.is_file()):
                sources.extend(_zip_sources(p))
            if not found and not any(path.rglob("*.zip")):
                raise InputError(f"{raw}: the folder holds no trace logs (*.log, *.txt)",
                                 hint="give the agent's Trace folder, e.g. "
                                 r"%ProgramData%\Microsoft\Azure AD Connect Authentication Agent\Trace")
        elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
            sources.extend(_zip_sources(path))
        else:
            sources.append(TraceSource(str(path), _file_opener(path), _identity(path)))
    return sources


def _file_opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: open_binary(path)


def _zip_sources(path: Path) -> list[TraceSource]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir() and _is_trace_name(i.filename)]
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable .zip archive ({exc})") from None
    if not names:
        raise InputError(f"{path}: the archive holds no trace logs (*.log, *.txt)")

    def opener(member: str) -> Callable[[], BinaryIO]:
        def _open() -> BinaryIO:
            # the member stream keeps the archive's file open until the stream itself is closed
            with zipfile.ZipFile(path) as archive:
                return archive.open(member)  # type: ignore[return-value]

        return _open

    identity = _identity(path)
    return [TraceSource(f"{path}!{name}", opener(name), f"{identity}!{name}", named=False) for name in sorted(names)]


def read_source(source: TraceSource, stats: TraceFileStats,
                parser: TraceParser | None = None) -> Iterator[TraceEntry]:
    """Entries of one trace file, streamed; InputError when the file is not a readable text log.

    With a ``parser`` shared across rotated files (oldest first), the file's last entry is held back until the
    next file's first lines are seen or ``parser.finish()`` is read.
    """
    text_stats = TextStats()
    try:
        with source.open() as stream:
            lines = iter_text_lines(stream, source.name, text_stats)
            if parser is None:
                yield from parse_trace_lines(lines, stats)
            else:
                yield from parser.feed(lines, stats)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{source.name}: cannot read: {exc}") from None
    finally:
        stats.encoding = text_stats.encoding
        stats.truncated_lines = text_stats.truncated_lines
        stats.cut_short = text_stats.cut_short


def first_time(source: TraceSource, max_lines: int = 2000) -> datetime | None:
    """The first DateTime in a file, to put rotated files in time order without reading them whole.

    None also for a file that cannot be read: reading it for real reports why.
    """
    stats = TraceFileStats(source.name)
    try:
        with source.open() as stream:
            lines = iter_text_lines(stream, source.name)
            limited = (line for i, line in enumerate(lines) if i < max_lines)
            for entry in parse_trace_lines(limited, stats):
                if entry.time is not None:
                    return entry.time
    except (InputError, OSError, zipfile.BadZipFile):
        return None
    return None


def order_sources(sources: list[TraceSource]) -> list[TraceSource]:
    """Rotated files oldest first (by their first DateTime); files without one keep their name order at the end."""
    keyed = [(first_time(s), i, s) for i, s in enumerate(sources)]
    far = datetime.max.replace(tzinfo=UTC)
    keyed.sort(key=lambda k: (k[0] or far, k[1]))
    return [s for _, _, s in keyed]
