"""Open a text log the way admins hand it over: UTF-8 or UTF-16 (with or without BOM), ANSI, CRLF, .gz.

Windows tools write UTF-16 with a BOM (PowerShell 5 ``Out-File``), collectors gzip logs, and sometimes
the "log" is a binary file picked by mistake. Every parser reads lines through here so all of them
agree on decoding and refuse binary junk with one clear InputError instead of a traceback.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from aadc_doctor.errors import InputError

SNIFF_BYTES = 64 * 1024
MAX_LINE_CHARS = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
# Bytes that never occur in a text log (NUL is handled separately for UTF-16).
_CONTROL = frozenset(range(0x00, 0x09)) | frozenset({0x0B, 0x0E, 0x0F}) | frozenset(range(0x10, 0x1B)) | {0x1C, 0x7F}


@dataclass
class TextStats:
    """What reading cost: lines cut because they exceeded MAX_LINE_CHARS, a compressed stream that ended early."""

    encoding: str = ""
    lines: int = 0
    truncated_lines: int = 0
    compressed: bool = False
    cut_short: str = ""  # why the lines stop before the end of the file, if they do
    nul_bytes: int = 0  # NUL bytes dropped (a crash leaves blocks of them in a log being written)
    notes: list[str] = field(default_factory=list)


class _Prefixed(io.RawIOBase):
    """A raw stream that first replays the sniffed head, then continues with the rest."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


class GzipReader:
    """Decompress a .gz stream (one or more members) and keep every byte that can be recovered.

    ``gzip.GzipFile`` throws away what it decompressed in a read that then meets the end of a cut file, and refuses
    the whole read when bytes that are not gzip follow a complete member (what some copy tools append). Here
    decompression goes member by member with ``zlib``: output up to the damage or the cut is returned, NUL padding
    after a member is skipped, anything else after it is ignored, and ``problem`` says which happened.
    """

    STEP = 1 << 20

    def __init__(self, raw: BinaryIO, first: bytes = b"") -> None:
        self._raw = raw
        self._in = first
        self._inflater: Any = zlib.decompressobj(31)
        self._member_started = False
        self._output_pending = False
        self._done = False
        self.problem = ""  # why the data stops early, or what was ignored after it
        self.cut = False  # the compressed data ends early or is damaged (else: only trailing bytes ignored)

    def _more(self) -> bool:
        data = self._raw.read(self.STEP)
        if not data:
            return False
        self._in = self._in + data if self._in else data
        return True

    def _next_member(self) -> bool:
        """After a member's end: True when another member follows (NUL padding skipped)."""
        while True:
            stripped = self._in.lstrip(b"\x00")
            if len(stripped) < 2 and self._more():
                continue
            self._in = stripped
            if not stripped:
                return False
            if stripped.startswith(_GZIP_MAGIC):
                self._inflater = zlib.decompressobj(31)
                self._member_started = False
                return True
            self.problem = "bytes that are not gzip data follow the compressed data: they were ignored"
            return False

    def read(self, size: int = -1) -> bytes:
        want = size if size >= 0 else 1 << 62
        parts: list[bytes] = []
        got = 0
        while got < want and not self._done:
            # zlib may hold output back when the last call hit its output limit: ask it again before reading more
            if not self._in and not self._output_pending and not self._more():
                if self._member_started and not self._inflater.eof:
                    self.cut = True
                    self.problem = "the compressed file ends early (cut short): read up to the cut"
                self._done = True
                break
            limit = min(want - got, self.STEP * 8)
            try:
                piece = self._inflater.decompress(self._in, limit)
            except zlib.error as exc:
                self.cut = True
                self.problem = f"the compressed data is damaged ({exc}): read up to the damage"
                self._done = True
                break
            self._member_started = True
            self._in = self._inflater.unconsumed_tail
            self._output_pending = len(piece) == limit
            if piece:
                parts.append(piece)
                got += len(piece)
            if self._inflater.eof:
                # everything after the member's end (unconsumed_tail can hold a copy of it: not added twice)
                self._in = self._inflater.unused_data
                self._output_pending = False
                if not self._next_member():
                    self._done = True
        return b"".join(parts)

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> GzipReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sniff_encoding(head: bytes, name: str) -> str:
    """The codec for a text file from its first bytes; InputError when it is not text at all."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    sample = head[:4096]
    if sample and not sample.strip(b"\x00"):
        raise InputError(f"{name}: holds only NUL bytes, no text: what a crash or power loss leaves in a file "
                         "that was being written", hint="copy the file again from the server; if it is the same "
                         "there, nothing can be recovered from it")
    if len(sample) >= 4:
        even_nul = sample[0::2].count(0)
        odd_nul = sample[1::2].count(0)
        half = len(sample) // 2
        if odd_nul > 0.4 * half and even_nul < 0.05 * half:
            return "utf-16-le"
        if even_nul > 0.4 * half and odd_nul < 0.05 * half:
            return "utf-16-be"
    if b"\x00" in sample or (sample and sum(b in _CONTROL for b in sample) > 0.02 * len(sample)):
        raise InputError(f"{name}: this is a binary file, not a text log",
                         hint="give the log file itself (a .log/.txt, optionally .gz), not an archive or database")
    try:
        # incremental: a multi-byte sequence cut by the sniff window is still UTF-8
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252"  # ANSI, as Windows PowerShell and older tools write
    return "utf-8"


def open_binary(path: Path) -> BinaryIO:
    """The raw bytes of a file, transparently gunzipped; InputError when it cannot be opened.

    Opened once, never rewound: a pipe reads like a file. A .gz is read by ``GzipReader``.
    """
    try:
        fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        magic = fh.read(2)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if magic == _GZIP_MAGIC:
        return GzipReader(fh, magic)  # type: ignore[return-value]
    return io.BufferedReader(_Prefixed(magic, fh), buffer_size=SNIFF_BYTES)


MAX_NUL_SKIP = 64 * 1024 * 1024  # a NUL block at the start is skipped up to this size looking for text
BLOCK_CHARS = 1 << 20
_NONBLANK = re.compile(r"\S")


def _first_nonblank(text: str, pos: int) -> int:
    """Where the first character that is not white space is, from ``pos`` on; -1 for none. Windows of white space
    are passed with ``str.isspace`` (C speed, about 1 ns a character; the regular expression takes 9)."""
    size = len(text)
    while pos < size:
        end = min(pos + 65536, size)
        if text[pos:end].isspace():
            pos = end
            continue
        found = _NONBLANK.search(text, pos, end)
        return found.start() if found is not None else -1
    return -1


def _sniff_past_nul(head: bytes, stream: BinaryIO, name: str, stats: TextStats) -> tuple[str, bytes]:
    """(encoding, the head to decode): NUL blocks at the start (not UTF-16's NULs) are dropped and counted."""
    try:
        return sniff_encoding(head, name), head
    except InputError:
        if b"\x00" not in head:
            raise
    kept = head.replace(b"\x00", b"")
    nul, seen = len(head) - len(kept), len(head)
    while len(kept) < 4096 and seen < MAX_NUL_SKIP:
        more = stream.read(SNIFF_BYTES)
        if not more:
            break
        seen += len(more)
        stripped = more.replace(b"\x00", b"")
        nul += len(more) - len(stripped)
        kept += stripped
    if not kept:
        raise InputError(f"{name}: holds only NUL bytes, no text: what a crash or power loss leaves in a file "
                         "that was being written", hint="copy the file again from the server; if it is the same "
                         "there, nothing can be recovered from it")
    encoding = sniff_encoding(kept, name)  # still binary without the NULs: refused
    stats.nul_bytes += nul
    return encoding, kept


def _decoded_blocks(stream: BinaryIO, name: str, stats: TextStats) -> Iterator[str]:
    """The decoded text in blocks (line ends translated to \\n, NUL characters dropped and counted)."""
    head = stream.read(SNIFF_BYTES)
    gz = stream if isinstance(stream, GzipReader) else None
    if gz is None and head[:2] == _GZIP_MAGIC:
        gz = GzipReader(stream, head)
        stream = gz  # type: ignore[assignment]
        head = gz.read(SNIFF_BYTES)
    stats.compressed = gz is not None
    encoding, head = _sniff_past_nul(head, stream, name, stats)
    stats.encoding = encoding
    text = io.TextIOWrapper(_reader(_Prefixed(head, stream)), encoding=encoding, errors="replace", newline=None)
    while True:
        block = text.read(BLOCK_CHARS)
        if not block:
            break
        if "\x00" in block:
            kept = block.replace("\x00", "")
            stats.nul_bytes += len(block) - len(kept)
            block = kept
        yield block
    if gz is not None and gz.problem:
        if gz.cut:
            stats.cut_short = gz.problem
        else:
            stats.notes.append(gz.problem)


def iter_numbered_lines(stream: BinaryIO, name: str, stats: TextStats | None = None, *,
                        max_line_chars: int = MAX_LINE_CHARS, skip_blank: bool = True,
                        stop_after: int | None = None) -> Iterator[tuple[int, str]]:
    """(line number, line) without line ends (CRLF, LF or CR); lines longer than the cap truncated.

    ``skip_blank``: lines of only white space are counted, not handed out, and runs of them are skipped at the
    speed of a string search (a .gz of nothing but newlines inflates 1000-fold). A .gz cut short or damaged after
    some lines ends the lines there with ``stats.cut_short`` saying why; before the first line it is an InputError.
    ``stop_after``: stop once this many lines are counted (a look at the start of a file).
    """
    stats = stats if stats is not None else TextStats()
    line_no = 0
    yielded = False
    try:
        carry = ""
        skipping = False  # inside a line over the cap, already handed out truncated
        for block in _decoded_blocks(stream, name, stats):
            if stop_after is not None and line_no > stop_after:
                break
            text = carry + block if carry else block
            carry = ""
            pos, size = 0, len(text)
            if skipping:
                end = text.find("\n")
                if end < 0:
                    continue
                pos, skipping = end + 1, False
                line_no += 1
            while pos < size:
                if skip_blank and text[pos].isspace():
                    found = _first_nonblank(text, pos)
                    if found < 0:  # white space to the end of the block: count its lines, keep its tail
                        last = text.rfind("\n", pos)
                        if last >= 0:
                            line_no += text.count("\n", pos, last + 1)
                            pos = last + 1
                        carry = text[pos:pos + max_line_chars]
                        break
                    line_start = text.rfind("\n", pos, found) + 1
                    if line_start > pos:
                        line_no += text.count("\n", pos, line_start)
                        pos = line_start
                end = text.find("\n", pos)
                if end < 0:
                    carry = text[pos:]
                    if len(carry) > max_line_chars:
                        stats.truncated_lines += 1
                        yielded = True
                        yield line_no + 1, carry[:max_line_chars]
                        carry, skipping = "", True
                    break
                line_no += 1
                line = text[pos:end]
                pos = end + 1
                if len(line) > max_line_chars:
                    stats.truncated_lines += 1
                    line = line[:max_line_chars]
                yielded = True
                yield line_no, line
        if carry and not skipping and (carry.strip() or not skip_blank):
            line_no += 1
            yielded = True
            yield line_no, carry
        elif carry or skipping:
            line_no += 1
        stats.lines = line_no
        if stats.cut_short:
            if not yielded and not line_no:
                raise InputError(f"{name}: the compressed file is damaged or truncated ({stats.cut_short})")
            stats.cut_short += f" after line {line_no}"
    except (EOFError, zlib.error, zipfile.BadZipFile) as exc:  # a damaged member of a .zip
        stats.lines = line_no
        if line_no:
            stats.cut_short = f"the compressed data ends early or is damaged after line {line_no} ({exc})"
            return
        raise InputError(f"{name}: the compressed file is damaged or truncated ({exc})") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None


def iter_text_lines(stream: BinaryIO, name: str, stats: TextStats | None = None,
                    *, max_line_chars: int = MAX_LINE_CHARS) -> Iterator[str]:
    """Every decoded line (blank ones included) without its line end; see ``iter_numbered_lines``."""
    for _, line in iter_numbered_lines(stream, name, stats, max_line_chars=max_line_chars, skip_blank=False):
        yield line


def _reader(raw: io.RawIOBase) -> io.BufferedReader:
    return io.BufferedReader(raw, buffer_size=SNIFF_BYTES)


def read_text_lines(path: str | Path, stats: TextStats | None = None) -> Iterator[str]:
    """All lines of a text log on disk (.gz allowed), closing the file when the iteration ends."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not a log file")
    with open_binary(p) as stream:
        yield from iter_text_lines(stream, str(p), stats)
