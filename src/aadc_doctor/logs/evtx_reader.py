""".evtx files through the Rust-backed ``evtx`` package, with damage reported instead of hidden.

The package renders each record as XML fast, but it silently drops a chunk cut short at the end of a
file, and raises for a corrupt chunk and then carries on. This reader checks the file and chunk headers
itself, so a truncated or damaged log is reported with how many records were read and how many the
chunks claimed; a chunk cut short is handed to the package padded to its full size, so the records before
the cut are read too. A file that is not an .evtx at all is an InputError.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from aadc_doctor.errors import InputError
from aadc_doctor.json_data import json_meta
from aadc_doctor.logs.event_xml import EventRecord, event_id_of, parse_event_text

FILE_SIGNATURE = b"ElfFile\x00"
CHUNK_SIGNATURE = b"ElfChnk\x00"
FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
MAX_ERRORS = 1000


_WHOLE_FILE = json_meta(skip=True)  # written by json_leading / json_extra


@dataclass
class EvtxFileStats:
    """Per .evtx file: records read, records the chunk headers claim, damage found."""

    name: str = field(metadata=_WHOLE_FILE)
    records: int = 0
    expected_records: int | None = None
    chunks: int = 0
    truncated_bytes: int = 0
    # the first MAX_ERRORS messages of the chunks read
    errors: list[str] = field(default_factory=list, metadata=_WHOLE_FILE)
    dirty: bool = field(default=False, metadata=_WHOLE_FILE)
    # all of them: a badly damaged log is still read to its end
    error_count: int = field(default=0, metadata=_WHOLE_FILE)
    # EventID text -> records, in order first seen
    unreadable_ids: dict[str, int] = field(default_factory=dict, metadata=_WHOLE_FILE)

    def json_leading(self) -> dict[str, object]:
        return {"name": self.name, "format": "evtx"}

    def json_extra(self) -> dict[str, object]:
        """The errors with those only the whole file shows, at most 20 listed; damaged; dirty (a live log copied
        while open; wevtutil epl exports are clean)."""
        derived = self.whole_file_errors()
        return {"errors": (self.errors + derived)[:20], "error_count": self.error_count + len(derived),
                "damaged": self.damaged, "dirty": self.dirty}

    @property
    def damaged(self) -> bool:
        return self.error_count > 0 or self.truncated_bytes > 0 or bool(self.whole_file_errors())

    def add_error(self, message: str, count: int = 1) -> None:
        self.error_count += count
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    def add_part(self, part: EvtxFileStats) -> None:
        """Another slice's records and errors, after this one's (slices are merged in file order)."""
        self.records += part.records
        self.error_count += part.error_count
        self.errors.extend(part.errors[:max(MAX_ERRORS - len(self.errors), 0)])
        for key, n in part.unreadable_ids.items():
            self.unreadable_ids[key] = self.unreadable_ids.get(key, 0) + n

    def whole_file_errors(self) -> list[str]:
        """What only the whole file's figures show: records without an EventID, and records lost silently.

        Derived once all slices are in, so the messages do not depend on how the file was cut.
        """
        found = [f"{n} record(s) without a readable EventID" + (f" ({key[:40]!r})" if key else "")
                 for key, n in self.unreadable_ids.items()]
        if (self.expected_records is not None and self.records < self.expected_records and not self.error_count
                and not self.truncated_bytes):
            found.append(f"{self.expected_records - self.records} of the {self.expected_records} records the chunk "
                         "headers claim could not be read: the evtx package skipped damaged records without an error")
        return found


@dataclass(frozen=True)
class EvtxLayout:
    """What the headers say: chunks present, records they claim, a partial chunk at the end."""

    chunks: int
    expected_records: int
    truncated_bytes: int
    dirty: bool
    header_chunks: int = 0  # what the file header says; more than the file can hold means it was cut short
    size: int = 0
    # the leading slots that hold a chunk (a cut-short last one included) or are unused: read in any slices,
    # the package meets them as in the whole file; the walk stopped at the slot after them, if any
    clean_slots: int = 0
    header_intact: bool = True  # the file header's CRC32 holds (the package reads the header of a whole file)


    @property
    def slots(self) -> int:
        return slot_count(self.size)

    def notes(self) -> list[str]:
        """What the headers say is missing, for the file's error list (once per file, however it is read)."""
        if self.truncated_bytes:
            return [f"the file ends inside a chunk ({self.truncated_bytes} of {CHUNK_SIZE} bytes present): the "
                    "records of that chunk up to the cut were read, the rest are lost"]
        if self.header_chunks > self.chunks and self.size < FILE_HEADER_SIZE + self.header_chunks * CHUNK_SIZE:
            return [f"the file header lists {self.header_chunks} chunks of records but the file holds {self.chunks}: "
                    "it was cut short, the records of the missing chunks could not be read"]
        return []

    def describe(self, stats: EvtxFileStats) -> None:
        """Put what the headers say into a file's stats, what they say is missing among its errors (once per
        file, however it is read; the records read are counted while reading)."""
        stats.chunks = self.chunks
        stats.expected_records = self.expected_records
        stats.truncated_bytes = self.truncated_bytes
        stats.dirty = self.dirty
        for note in self.notes():
            stats.add_error(note)


class ChunkWindow(io.RawIOBase):
    """A read-only view of an .evtx file: its header, then chunk slots ``[first, first + count)``, then nothing.

    The package reads every chunk a file holds; a window lets one worker read a slice of a large log. With
    ``pad``, a chunk cut short at the end of the file is read padded with zero bytes to its full size (the
    package silently drops it otherwise); without, the window ends where the file does, as the package sees
    the whole file. The header's chunk count is rebased to the window, so the package stops at the same
    slots as it would in the whole file. The user's file is only read.
    """

    def __init__(self, path: Path, size: int, first: int, count: int, *, pad: bool) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed with this object
        self._header = _rebased_header(self._file.read(FILE_HEADER_SIZE), first)
        self._size = size
        self._start = FILE_HEADER_SIZE + first * CHUNK_SIZE  # where slot ``first`` starts in the file
        self._end = FILE_HEADER_SIZE + count * CHUNK_SIZE  # the window's own size
        if not pad:
            self._end = min(self._end, FILE_HEADER_SIZE + max(size - self._start, 0))
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}[whence]
        self._pos = max(base + offset, 0)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(self._end - self._pos, 0))
        done = 0
        if self._pos < FILE_HEADER_SIZE and want:
            done = min(want, FILE_HEADER_SIZE - self._pos)
            view[:done] = self._header[self._pos:self._pos + done]
        if done < want:
            real = self._start + self._pos + done - FILE_HEADER_SIZE
            got = 0
            if real < self._size:
                self._file.seek(real)
                got = self._file.readinto(view[done:done + min(want - done, self._size - real)]) or 0
            view[done + got:want] = bytes(want - done - got)  # past the end of a cut-short file: zeros
        self._pos += want
        return want

    def close(self) -> None:
        self._file.close()
        super().close()


def _rebased_header(header: bytes, first: int) -> bytes:
    """The file header with its chunk count (and checksum, if it was right) as seen from slot ``first``."""
    padded = header.ljust(FILE_HEADER_SIZE, b"\x00")
    if first == 0 or len(header) < 128:
        return padded
    count = struct.unpack_from("<H", padded, 42)[0]
    checksum_was_right = struct.unpack_from("<I", padded, 124)[0] == zlib.crc32(padded[:120])
    rebased = bytearray(padded)
    struct.pack_into("<H", rebased, 42, max(count - first, 0))
    if checksum_was_right:
        struct.pack_into("<I", rebased, 124, zlib.crc32(rebased[:120]))
    return bytes(rebased)


def slot_count(size: int) -> int:
    """How many 64 KiB chunk slots a file of ``size`` bytes has, a cut-short last one included."""
    return max(size - FILE_HEADER_SIZE + CHUNK_SIZE - 1, 0) // CHUNK_SIZE


def is_evtx(head: bytes) -> bool:
    return head.startswith(FILE_SIGNATURE)


def read_layout(path: Path) -> EvtxLayout:
    """Walk the file and chunk headers (no record parsing) to know what a complete read must yield."""
    try:
        with open(path, "rb") as fh:
            return layout_of(fh, path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def layout_of(fh: BinaryIO, path: Path) -> EvtxLayout:
    """``read_layout`` on a file already open (its position does not matter)."""
    try:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(0)
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
        clean_end: int | None = None
        while offset < size:
            fh.seek(offset)
            available = min(CHUNK_SIZE, size - offset)
            chunk_header = fh.read(min(CHUNK_HEADER_SIZE, available))
            if not chunk_header.startswith(CHUNK_SIGNATURE):
                if _all_zero(chunk_header):
                    if _all_zero(fh.read(max(available - len(chunk_header), 0))):
                        offset += CHUNK_SIZE  # never used (a live log's pre-allocated space): the package skips it
                        continue
                    break  # zeros, then data: no chunk, and not one cut short
                if available < CHUNK_SIZE:
                    truncated = available
                break
            if clean_end is None and not _header_intact(chunk_header):
                clean_end = (offset - FILE_HEADER_SIZE) // CHUNK_SIZE  # the package may stop at a damaged header
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
    clean = min(slot_count(size), max(offset - FILE_HEADER_SIZE, 0) // CHUNK_SIZE + (1 if truncated else 0))
    if clean_end is not None:
        clean = min(clean, clean_end)
    header_intact = zlib.crc32(header[:120]) == struct.unpack_from("<I", header, 124)[0]
    return EvtxLayout(chunks=chunks, expected_records=expected, truncated_bytes=truncated, dirty=bool(flags & 1),
                      header_chunks=header_chunks, size=size, clean_slots=clean, header_intact=header_intact)


def damage_in(path: Path, layout: EvtxLayout, span: range | None) -> bool:
    """Whether the slots of ``span`` (None: the whole file) hold anything the package might not read safely.

    That is a chunk whose header fails its CRC32 or whose string or template chains loop or leave the chunk
    (the loops the package is known to fall into: upstream omerbenamram/evtx #263), a chunk cut short, bytes
    that are no chunk, or (for a whole file, whose header the package reads) a file header that fails its own.
    Such data goes to the guarded reader (``logs/evtx_guard.py``); the rest is read at full speed here.
    """
    if span is None and not layout.header_intact:
        return True
    return bool(damaged_slots(path, range(layout.slots) if span is None else span))


def damaged_slots(path: Path, slots: range) -> list[int]:
    """The slots among ``slots`` whose chunk is not intact (see ``damage_in``); unused (all-zero) slots are fine.

    Reads each slot once (64 KiB), from the cache the package then reads it from again: about 15
    microseconds a chunk.
    """
    found = []
    try:
        with open(path, "rb") as fh:
            for slot in slots:
                fh.seek(FILE_HEADER_SIZE + slot * CHUNK_SIZE)
                if not _chunk_intact(fh.read(CHUNK_SIZE)):
                    found.append(slot)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return found


def _chunk_intact(chunk: bytes) -> bool:
    """A whole chunk whose header checksum holds and whose chains end, or a slot never used (all zeros).

    The records' own checksum is not checked: the package reads damaged records safely (the fuzz suite's
    20,000 damaged logs), and checking it would cost a CRC32 of every byte (a tenth of a fast read).
    """
    if not chunk.startswith(CHUNK_SIGNATURE):
        return _all_zero(chunk)
    return len(chunk) == CHUNK_SIZE and _header_intact(chunk[:CHUNK_HEADER_SIZE]) and _chains_sound(chunk)


_CHAIN_HEADS = struct.Struct("<96I")  # the chunk's string table (64 offsets at 128) and template table (32 at 384)
_NEXT = struct.Struct("<I")
_MAX_CHAIN = (CHUNK_SIZE - CHUNK_HEADER_SIZE) // 8  # more nodes than the chunk can hold: a chain loops


def _chains_sound(chunk: bytes) -> bool:
    """Every chain of the chunk's string and template tables stays inside the chunk's data and ends.

    Each table entry starts a linked list (a node's first 4 bytes give the next node's offset). The evtx
    package follows those lists without a bound: a cycle makes it loop forever, even in a chunk whose
    checksums hold (a crafted log). Real chunks' chains are short; checking them costs microseconds.
    """
    next_of = _NEXT.unpack_from
    steps = 0  # over all chains: a crafted chunk whose chains share one long tail costs no more than this
    for offset in _CHAIN_HEADS.unpack_from(chunk, 128):
        while offset:
            if offset < CHUNK_HEADER_SIZE or offset > CHUNK_SIZE - 8 or steps > _MAX_CHAIN:
                return False
            steps += 1
            offset = next_of(chunk, offset)[0]
    return True


def _all_zero(data: bytes) -> bool:
    return data == bytes(len(data))  # a compare of memory: a hundred times faster than strip() on 64 KiB


def _header_intact(chunk_header: bytes) -> bool:
    """The chunk header's own CRC32 (over bytes 0-120 and 128-512) holds: the package can read the chunk."""
    if len(chunk_header) < CHUNK_HEADER_SIZE:
        return False
    stored: int = struct.unpack_from("<I", chunk_header, 124)[0]
    return zlib.crc32(chunk_header[:120] + chunk_header[128:CHUNK_HEADER_SIZE]) == stored


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
_EVENT_ID_TEXT = re.compile(r"<EventID[^>]*>([^<]*)<")
_KEYS_PER_COUNT = 65536
_CHUNK_NUMBER = re.compile(r"chunk number (\d+)")
_PROCESS_NAME_LENGTH = len(_PROCESS_NAME)


def iter_evtx_records(path: Path, stats: EvtxFileStats, selector: RecordSelector,
                      counts: dict[int, int] | None = None, threads: int = 1, *, layout: EvtxLayout | None = None,
                      span: range | None = None,
                      watch: Callable[[Iterator[Any]], Iterator[Any]] | None = None) -> Iterator[EventRecord]:
    """Parsed records the selector wants, streamed; every record's EventID is counted in ``counts``.

    The cheap look at each record (its EventID, as text) is all most records of a Security log need,
    which keeps the parse near the package's raw rate (bench/evtx.py). ``span``: only these chunk slots
    (a slice of a large file read by one worker); ``stats`` then gets only the records and errors of the
    slice, and the caller describes the file once (``EvtxLayout.describe``). ``watch`` wraps the package's
    record iterator (the guarded reader counts its progress); it must survive the iterator's errors.
    """
    import evtx
    from aadc_doctor import interrupts

    mark = interrupts.received()
    if layout is None:
        layout = read_layout(path)
    source: str | ChunkWindow = str(path)
    if span is None:
        layout.describe(stats)
        if layout.truncated_bytes:
            source = ChunkWindow(path, layout.size, 0, layout.slots, pad=True)
    else:  # a cut-short last slot is padded only where the whole-file read pads it too: a chunk cut short
        source = ChunkWindow(path, layout.size, span.start, len(span), pad=bool(layout.truncated_bytes))
    try:
        # threads: 1 by default. Measured with evtx 0.14, its Python iterator renders on this thread whatever the
        # value, and any other value starts a pool of threads, which would make forking helpers unsafe
        parser = evtx.PyEvtxParser(source, number_of_threads=threads)
        iterator: Iterator[Any] = parser.records()
        if watch is not None:
            iterator = watch(iterator)
    except (OSError, RuntimeError, ValueError) as exc:
        if not isinstance(source, str):
            source.close()
        interrupts.raise_if_received_since(mark)  # a Ctrl-C the package turned into an error of its own
        raise InputError(f"{path}: the evtx package cannot open this file: {exc}") from None
    name = str(path)
    by_text: dict[str, int] = {}  # EventID as rendered -> records; turned into ints once per file
    wanted = frozenset(map(str, selector.ids))
    checked = frozenset(map(str, selector.checked_ids))
    try:
        yield from _select(iterator, stats, by_text, wanted, checked, selector, name, span.start if span else 0, mark)
    finally:  # also when the caller stops early: what was read is counted
        _count_ids(by_text, stats, counts if counts is not None else {})
        if not isinstance(source, str):
            source.close()


def _select(iterator: Iterator[Any], stats: EvtxFileStats, by_text: dict[str, int],
            wanted: frozenset[str], checked: frozenset[str], selector: RecordSelector,
            name: str, first_slot: int = 0, interrupts_seen: int = 0) -> Iterator[EventRecord]:
    from aadc_doctor.interrupts import raise_if_received_since

    process_names = selector.process_names
    prefixes = selector.channel_prefixes
    unless = {str(event_id): marker for event_id, marker in selector.unless}
    security_wanted = bool(prefixes) and "Security".startswith(prefixes)
    security_head = _SECURITY_AUDITING_HEAD
    event_id_at = _EVENT_ID_TEXT.search
    keys: list[str] = []  # EventIDs as rendered, counted in batches (a C-level count is cheaper per record)
    seen = keys.append
    finished = False
    while not finished:
        try:
            # a plain loop over local names with str methods only: the per-record cost here decides how
            # close we stay to the package's raw rate
            for item in iterator:
                if item is None:
                    break
                text: str = item["data"]
                found = event_id_at(text, 0, 700)
                key = found[1] if found else ""
                seen(key)
                if len(keys) >= _KEYS_PER_COUNT:
                    _add_counts(keys, by_text)
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
            raise_if_received_since(interrupts_seen)  # the package may end early, quietly, on a Ctrl-C
            finished = True
        except (RuntimeError, OSError) as exc:  # a damaged chunk: note it, the iterator goes on with the next
            # "Failed to seek to start of chunk.: KeyboardInterrupt" is a Ctrl-C, not damage
            raise_if_received_since(interrupts_seen)
            message = str(exc).splitlines()[0][:300]
            if first_slot:  # the package counts chunks from the start of the slice it was given
                message = _CHUNK_NUMBER.sub(lambda m: f"chunk number {int(m[1]) + first_slot}", message)
            stats.add_error(message)  # the package goes on with the next chunk: so does the count
        finally:  # also when the caller stops early
            _add_counts(keys, by_text)


def _add_counts(keys: list[str], by_text: dict[str, int]) -> None:
    """Move a batch of seen EventIDs into the per-text counts."""
    for key, n in Counter(keys).items():
        by_text[key] = by_text.get(key, 0) + n
    keys.clear()


def _count_ids(by_text: dict[str, int], stats: EvtxFileStats, counts: dict[int, int]) -> None:
    """Records per EventID from the rendered EventID texts; those without a readable one are kept apart."""
    for key, n in by_text.items():
        stats.records += n
        value = key.strip()
        if value.isdigit():
            event_id = int(value)
            counts[event_id] = counts.get(event_id, 0) + n
        else:
            stats.unreadable_ids[key] = stats.unreadable_ids.get(key, 0) + n
