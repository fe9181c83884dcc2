"""PTA agent trace logs: the .NET TraceListener layout both agent generations write.

An entry is a header line ``<source> <Level>: <id> : <message>``, message continuation lines (exception
text), then indented trace-output fields (``ProcessId=``, ``LogicalOperationStack=``, ``ThreadId=``,
``DateTime=``, ``Timestamp=``, ``Callstack=``). The seed article shows it under the preview connector's
``ApplicationProxyConnectorService.exe``; today's agent writes ``AzureADConnectAuthenticationAgentService.exe``.
Folders and .zip files of a collected Trace folder are read too, files in time order.
"""

from __future__ import annotations

import itertools
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from aadc_doctor.errors import InputError
from aadc_doctor.json_data import json_meta
from aadc_doctor.logs.event_xml import format_iso_time as iso
from aadc_doctor.logs.event_xml import parse_iso_time
from aadc_doctor.logs.text_input import TextStats, iter_numbered_lines, open_binary

TRACE_SUFFIXES = (".log", ".txt", ".log.gz", ".txt.gz")
LEVELS = ("Critical", "Error", "Warning", "Information", "Verbose", "Start", "Stop", "Suspend", "Resume", "Transfer")
FIELDS = ("ProcessId", "LogicalOperationStack", "ThreadId", "DateTime", "Timestamp", "Callstack")
_HEADER = re.compile(r"^\s*(?P<source>\S(?:.*?\S)?) (?P<level>" + "|".join(LEVELS)
                     + r"): (?P<id>-?[0-9]{1,18}) : ?(?P<msg>.*)$")
_FIELD = re.compile(r"^\s+(?P<name>" + "|".join(FIELDS) + r")=(?P<value>.*)$")
_FAILED = re.compile(r"Passthrough Authentication request failed\.\s*RequestId:\s*'(?P<rid>[^']*)'\.\s*"
                     r"Reason:\s*'(?P<reason>-?[0-9]{1,18})'")
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


_AS_TEXT = json_meta(skip=True)  # written by json_extra: times as UTC ISO texts, agents sorted


@dataclass
class TraceFileStats:
    """Per input file: what was read and what could not be understood."""

    name: str
    encoding: str = ""
    lines: int = 0
    entries: int = 0
    bad_lines: int = 0
    truncated_lines: int = 0
    # a compressed file that ends early: read up to there
    cut_short: str = field(default="", metadata=json_meta(null_empty=True))
    # NUL bytes skipped (a crash leaves blocks of them)
    nul_bytes: int = field(default=0, metadata=json_meta(key="nul_bytes_skipped"))
    first_time: datetime | None = field(default=None, metadata=_AS_TEXT)
    last_time: datetime | None = field(default=None, metadata=_AS_TEXT)
    agents: set[str] = field(default_factory=set, metadata=_AS_TEXT)

    def json_extra(self) -> dict[str, object]:
        return {"first_seen": iso(self.first_time), "last_seen": iso(self.last_time), "agents": sorted(self.agents)}


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
    value = value.strip()
    digits = value.removeprefix("-")
    return int(value) if digits.isascii() and digits.isdigit() and len(digits) <= 18 else None


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
        return self.feed_numbered(enumerate(lines, start=1), stats)

    def feed_numbered(self, lines: Iterator[tuple[int, str]], stats: TraceFileStats) -> Iterator[TraceEntry]:
        """``feed`` for (line number, line) pairs: blank lines may be left out (they carry nothing)."""
        current = self._current
        at_top = current is not None  # still before this file's first line that is not blank
        for line_no, line in lines:
            stats.lines = line_no
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
            files, zips, unlistable = _walk(path)
            found = sorted(p for p in files if _is_trace_name(p.name))
            sources.extend(TraceSource(str(p), _file_opener(p), _identity(p), named=False) for p in found)
            for p in sorted(zips):
                sources.extend(_zip_sources(p))
            # a subfolder that cannot be listed is reported (as a file that could not be read), never skipped quietly
            sources.extend(TraceSource(str(folder), _failing_opener(f"{folder}: cannot list the folder: {reason}"),
                                       f"{_identity(folder)}/", named=False) for folder, reason in unlistable)
            if not found and not zips and not unlistable:
                raise InputError(f"{raw}: the folder holds no trace logs (*.log, *.txt)",
                                 hint="give the agent's Trace folder, e.g. "
                                 r"%ProgramData%\Microsoft\Azure AD Connect Authentication Agent\Trace")
        elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
            sources.extend(_zip_sources(path))
        else:
            sources.append(TraceSource(str(path), _file_opener(path), _identity(path)))
    return sources


def _walk(folder: Path) -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
    """(files, .zip files, [(subfolder, why it cannot be listed)]) under a folder, recursively."""
    files: list[Path] = []
    zips: list[Path] = []
    unlistable: list[tuple[Path, str]] = []

    def failed(exc: OSError) -> None:
        unlistable.append((Path(exc.filename or folder), exc.strerror or str(exc)))

    for root, _dirs, names in os.walk(folder, onerror=failed):
        for name in names:
            path = Path(root) / name
            if not path.is_file():
                continue
            if name.lower().endswith(".zip"):
                zips.append(path)
            else:
                files.append(path)
    return files, zips, sorted(unlistable)


def _failing_opener(message: str) -> Callable[[], BinaryIO]:
    def _open() -> BinaryIO:
        raise InputError(message)

    return _open


def _file_opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: open_binary(path)


# zip compression methods the standard library reads: stored, deflate, bzip2, lzma
_READABLE_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
                         zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
_ZIP_METHOD_NAMES = {9: "Deflate64 (Windows Explorer's method for large files)", 98: "PPMd", 95: "xz", 93: "zstd"}


class _Archive:
    """One open .zip shared by all its members' sources: opening it again per member re-reads the whole central
    directory (4,000 members: 16 million entries parsed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None

    def open(self, member: zipfile.ZipInfo) -> BinaryIO:
        if self._zip is None:
            self._zip = zipfile.ZipFile(self.path)
        return self._zip.open(member)  # type: ignore[return-value]


def _member_problem(info: zipfile.ZipInfo) -> str:
    """Why the standard library cannot read a member ("" when it can)."""
    if info.flag_bits & 0x1:
        return "the member is encrypted (password-protected .zip); extract it with the password first"
    if info.compress_type not in _READABLE_ZIP_METHODS:
        method = _ZIP_METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        return f"the member is compressed with {method}, which this reader cannot decompress; extract the .zip first"
    return ""


def _zip_sources(path: Path) -> list[TraceSource]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if not i.is_dir() and _is_trace_name(i.filename)]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .zip archive ({exc})") from None
    if not members:
        raise InputError(f"{path}: the archive holds no trace logs (*.log, *.txt)")
    shared = _Archive(path)

    def opener(member: zipfile.ZipInfo) -> Callable[[], BinaryIO]:
        problem = _member_problem(member)
        if problem:
            return _failing_opener(f"{path}!{member.filename}: {problem}")
        return lambda: shared.open(member)

    identity = _identity(path)
    members.sort(key=lambda i: i.filename)
    return [TraceSource(f"{path}!{m.filename}", opener(m), f"{identity}!{m.filename}", named=False) for m in members]


def read_source(source: TraceSource, stats: TraceFileStats,
                parser: TraceParser | None = None) -> Iterator[TraceEntry]:
    """Entries of one trace file, streamed; InputError when the file is not a readable text log.

    With a ``parser`` shared across rotated files (oldest first), the file's last entry is held back until the
    next file's first lines are seen or ``parser.finish()`` is read.
    """
    text_stats = TextStats()
    try:
        with source.open() as stream:
            lines = iter_numbered_lines(stream, source.name, text_stats)
            own = parser is None
            reader = parser if parser is not None else TraceParser()
            yield from reader.feed_numbered(lines, stats)
            if own:
                yield from reader.finish()
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise InputError(f"{source.name}: cannot read: {exc}") from None
    finally:
        stats.encoding = text_stats.encoding
        stats.truncated_lines = text_stats.truncated_lines
        stats.cut_short = text_stats.cut_short
        stats.lines = max(stats.lines, text_stats.lines)
        stats.nul_bytes = text_stats.nul_bytes


def first_time(source: TraceSource, max_lines: int = 2000) -> datetime | None:
    """The first DateTime in a file, to put rotated files in time order without reading them whole.

    None also for a file that cannot be read: reading it for real reports why.
    """
    stats = TraceFileStats(source.name)
    try:
        with source.open() as stream:
            parser = TraceParser()
            lines = iter_numbered_lines(stream, source.name, stop_after=max_lines)
            limited = itertools.takewhile(lambda numbered: numbered[0] <= max_lines, lines)
            for entry in itertools.chain(parser.feed_numbered(limited, stats), parser.finish()):
                if entry.time is not None:
                    return entry.time
    except (InputError, OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError):
        return None
    return None


def order_sources(sources: list[TraceSource]) -> list[TraceSource]:
    """Rotated files oldest first (by their first DateTime); files without one keep their name order at the end."""
    keyed = [(first_time(s), i, s) for i, s in enumerate(sources)]
    far = datetime.max.replace(tzinfo=UTC)
    keyed.sort(key=lambda k: (k[0] or far, k[1]))
    return [s for _, _, s in keyed]
