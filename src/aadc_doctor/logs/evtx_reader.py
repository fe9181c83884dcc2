""".evtx files through the Rust-backed ``evtx`` package, with damage reported instead of hidden.

The package renders each record as XML fast, but it silently drops a chunk cut short at the end of a
file, and raises for a corrupt chunk and then carries on. This reader checks the file and chunk headers
itself, so a truncated or damaged log is reported with how many records were read and how many the
chunks claimed; a chunk cut short is handed to the package padded to its full size, so the records before
the cut are read too. A file that is not an .evtx at all is an InputError.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aadc_doctor.errors import InputError
from aadc_doctor.logs.event_xml import EventRecord, event_id_of, parse_event_text

FILE_SIGNATURE = b"ElfFile\x00"
CHUNK_SIGNATURE = b"ElfChnk\x00"
FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
MAX_ERRORS = 1000


@dataclass
class EvtxFileStats:
    """Per .evtx file: records read, records the chunk headers claim, damage found."""

    name: str
    records: int = 0
    expected_records: int | None = None
    chunks: int = 0
    truncated_bytes: int = 0
    errors: list[str] = field(default_factory=list)
    dirty: bool = False

    @property
    def damaged(self) -> bool:
        return bool(self.errors) or self.truncated_bytes > 0

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "format": "evtx", "records": self.records,
                "expected_records": self.expected_records, "chunks": self.chunks,
                "truncated_bytes": self.truncated_bytes, "errors": self.errors[:20],
                "error_count": len(self.errors), "damaged": self.damaged,
                "dirty": self.dirty}  # a live log copied while open; wevtutil epl exports are clean


@dataclass(frozen=True)
class EvtxLayout:
    """What the headers say: chunks present, records they claim, a partial chunk at the end."""

    chunks: int
    expected_records: int
    truncated_bytes: int
    dirty: bool
    header_chunks: int = 0  # what the file header says; more than the file can hold means it was cut short
    size: int = 0


class _PaddedChunkFile(io.RawIOBase):
    """The file as it is, then zero bytes up to the end of its last, cut-short chunk (the file is not changed)."""

    def __init__(self, path: Path, size: int, padded_size: int) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed with this object
        self._size = size
        self._padded = padded_size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._padded}[whence]
        self._pos = max(base + offset, 0)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(self._padded - self._pos, 0))
        got = 0
        if self._pos < self._size:
            self._file.seek(self._pos)
            got = self._file.readinto(view[:min(want, self._size - self._pos)]) or 0
        view[got:want] = bytes(want - got)
        self._pos += want
        return want

    def close(self) -> None:
        self._file.close()
        super().close()


def is_evtx(head: bytes) -> bool:
    return head.startswith(FILE_SIGNATURE)


def read_layout(path: Path) -> EvtxLayout:
    """Walk the file and chunk headers (no record parsing) to know what a complete read must yield."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            header = fh.read(FILE_HEADER_SIZE)
            if not is_evtx(header):
                raise InputError(f"{path}: not an .evtx file (no ElfFile signature)",
                                 hint="export the log with Event Viewer (Save All Events As... > .evtx) "
                                      "or wevtutil epl; XML exports are read too")
            if len(header) < 128:
                raise InputError(f"{path}: the .evtx file header is cut short ({len(header)} bytes)")
            flags = struct.unpack_from("<I", header, 120)[0]
            header_chunks = struct.unpack_from("<H", header, 42)[0]
            chunks = 0
            expected = 0
            offset = FILE_HEADER_SIZE
            truncated = 0
            while offset < size:
                fh.seek(offset)
                available = min(CHUNK_SIZE, size - offset)
                chunk_header = fh.read(min(CHUNK_HEADER_SIZE, available))
                if not chunk_header.startswith(CHUNK_SIGNATURE):
                    if chunk_header.strip(b"\x00") == b"":
                        break  # pre-allocated, never used space of a live log
                    if available < CHUNK_SIZE:
                        truncated = available
                    break
                claimed = _claimed_records(chunk_header)
                if available < CHUNK_SIZE:
                    truncated = available
                    expected += claimed
                    break
                chunks += 1
                expected += claimed
                offset += CHUNK_SIZE
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return EvtxLayout(chunks=chunks, expected_records=expected, truncated_bytes=truncated, dirty=bool(flags & 1),
                      header_chunks=header_chunks, size=size)


def _claimed_records(chunk_header: bytes) -> int:
    if len(chunk_header) < 24:
        return 0
    first, last = struct.unpack_from("<QQ", chunk_header, 8)
    if last < first or last - first > 100_000:
        return 0
    return int(last - first + 1)


@dataclass(frozen=True)
class RecordSelector:
    """Which records are parsed fully; every other record only has its EventID counted.

    ``ids`` always, unless the record's text holds the ``unless`` marker for its id (say, a success status
    the caller would drop anyway); ``checked_ids`` only when their ProcessName ends with one of
    ``process_names`` (lower-case executable names; a superset test, the caller decides exactly on the parsed
    record); any record whose Channel starts with one of ``channel_prefixes``. Plain data rather than a
    callback, so the per-record test runs inline: it is most of what a Security log's records cost us.
    """

    ids: frozenset[int] = frozenset()
    checked_ids: frozenset[int] = frozenset()
    process_names: tuple[str, ...] = ()
    channel_prefixes: tuple[str, ...] = ()
    unless: tuple[tuple[int, str], ...] = ()


# How the evtx package renders a record of the Security auditing provider, which writes to the Security
# channel only: such a record needs no Channel lookup. Any other rendering just takes the general path.
_SECURITY_AUDITING_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">\n'
    '  <System>\n    <Provider Name="Microsoft-Windows-Security-Auditing"')
_PROCESS_NAME = '<Data Name="ProcessName">'
_PROCESS_NAME_LENGTH = len(_PROCESS_NAME)


def iter_evtx_records(path: Path, stats: EvtxFileStats, selector: RecordSelector,
                      counts: dict[int, int] | None = None, threads: int = 0) -> Iterator[EventRecord]:
    """Parsed records the selector wants, streamed; every record's EventID is counted in ``counts``.

    The cheap look at each record (its EventID, as text) is all most records of a Security log need,
    which keeps the parse near the package's raw rate (bench/evtx.py).
    """
    import evtx

    layout = read_layout(path)
    stats.chunks = layout.chunks
    stats.expected_records = layout.expected_records
    stats.truncated_bytes = layout.truncated_bytes
    stats.dirty = layout.dirty
    source: str | _PaddedChunkFile = str(path)
    if layout.truncated_bytes:
        stats.errors.append(f"the file ends inside a chunk ({layout.truncated_bytes} of {CHUNK_SIZE} bytes "
                            "present): the records of that chunk up to the cut were read, the rest are lost")
        source = _PaddedChunkFile(path, layout.size, layout.size + CHUNK_SIZE - layout.truncated_bytes)
    elif layout.header_chunks > layout.chunks and layout.size < FILE_HEADER_SIZE + layout.header_chunks * CHUNK_SIZE:
        stats.errors.append(f"the file header lists {layout.header_chunks} chunks of records but the file holds "
                            f"{layout.chunks}: it was cut short, the records of the missing chunks could not be read")
    try:
        # threads: passed through; measured with evtx 0.14, its Python iterator renders on this thread whatever
        # the value, so the reader's own per-record cost adds directly to the package's
        parser = evtx.PyEvtxParser(source, number_of_threads=threads)
        iterator = parser.records()
    except (OSError, RuntimeError, ValueError) as exc:
        if not isinstance(source, str):
            source.close()
        raise InputError(f"{path}: the evtx package cannot open this file: {exc}") from None
    name = str(path)
    by_text: dict[str, int] = {}  # EventID as rendered -> records; turned into ints once per file
    wanted = frozenset(map(str, selector.ids))
    checked = frozenset(map(str, selector.checked_ids))
    try:
        yield from _select(iterator, stats, by_text, wanted, checked, selector, name)
    finally:  # also when the caller stops early: what was read is counted
        _count_ids(by_text, stats, counts if counts is not None else {})
        if not isinstance(source, str):
            source.close()


def _select(iterator: Iterator[Any], stats: EvtxFileStats, by_text: dict[str, int],
            wanted: frozenset[str], checked: frozenset[str], selector: RecordSelector,
            name: str) -> Iterator[EventRecord]:
    process_names = selector.process_names
    prefixes = selector.channel_prefixes
    unless = {str(event_id): marker for event_id, marker in selector.unless}
    security_wanted = bool(prefixes) and "Security".startswith(prefixes)
    security_head = _SECURITY_AUDITING_HEAD
    finished = False
    while not finished:
        try:
            # a plain loop over local names with str methods only: the per-record cost here decides how
            # close we stay to the package's raw rate
            for item in iterator:
                if item is None:
                    break
                text: str = item["data"]
                at = text.find("<EventID", 0, 700)
                if at < 0:
                    key = ""
                else:
                    at = text.find(">", at) + 1
                    key = text[at:text.find("<", at)]
                by_text[key] = by_text.get(key, 0) + 1
                if key in wanted:
                    if unless and key in unless and unless[key] in text:
                        continue
                elif key in checked:
                    at = text.rfind(_PROCESS_NAME)
                    if at < 0:
                        continue
                    at += _PROCESS_NAME_LENGTH
                    value = text[at:text.find("<", at)]
                    if not value.lower().endswith(process_names) and "&" not in value:
                        continue
                elif not prefixes:
                    continue
                elif text.startswith(security_head):
                    if not security_wanted:
                        continue
                else:
                    at = text.find("<Channel>", 0, 1500)
                    if at < 0 or not text.startswith(prefixes, at + 9):
                        continue
                event_id = int(key) if key.isdigit() else event_id_of(text)
                if event_id is not None:
                    record = parse_event_text(text, name, event_id)
                    if record is not None:
                        yield record
            finished = True
        except (RuntimeError, OSError) as exc:  # a damaged chunk: note it, the iterator goes on with the next
            stats.errors.append(str(exc).splitlines()[0][:300])
            if len(stats.errors) >= MAX_ERRORS:
                stats.errors.append("too many errors; reading stopped")
                finished = True


def _count_ids(by_text: dict[str, int], stats: EvtxFileStats, counts: dict[int, int]) -> None:
    """Records per EventID from the rendered EventID texts; a record without a readable one is an error."""
    for key, n in by_text.items():
        stats.records += n
        value = key.strip()
        if value.isdigit():
            event_id = int(value)
            counts[event_id] = counts.get(event_id, 0) + n
        else:
            stats.errors.append(f"{n} record(s) without a readable EventID" + (f" ({key[:40]!r})" if key else ""))
