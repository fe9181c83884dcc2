"""Open a text log the way admins hand it over: UTF-8 or UTF-16 (with or without BOM), ANSI, CRLF, .gz.

Windows tools write UTF-16 with a BOM (PowerShell 5 ``Out-File``), collectors gzip logs, and sometimes
the "log" is a binary file picked by mistake. Every parser reads lines through here so all of them
agree on decoding and refuse binary junk with one clear InputError instead of a traceback.
"""

from __future__ import annotations

import codecs
import gzip
import io
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
            if not self._in and not self._more():
                if self._member_started and not self._inflater.eof:
                    self.cut = True
                    self.problem = "the compressed file ends early (cut short): read up to the cut"
                self._done = True
                break
            try:
                piece = self._inflater.decompress(self._in, min(want - got, self.STEP * 8))
            except zlib.error as exc:
                self.cut = True
                self.problem = f"the compressed data is damaged ({exc}): read up to the damage"
                self._done = True
                break
            self._member_started = True
            self._in = self._inflater.unconsumed_tail
            if piece:
                parts.append(piece)
                got += len(piece)
            if self._inflater.eof:
                self._in = self._inflater.unused_data + self._in
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
    """The raw bytes of a file, transparently gunzipped; InputError when it cannot be opened."""
    try:
        fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if fh.read(2) == _GZIP_MAGIC:
        fh.seek(0)
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    fh.seek(0)
    return fh


def iter_text_lines(stream: BinaryIO, name: str, stats: TextStats | None = None,
                    *, max_line_chars: int = MAX_LINE_CHARS) -> Iterator[str]:
    """Decoded lines without their line ends (CRLF, LF or CR), lines longer than the cap truncated.

    A .gz cut short or damaged after some lines ends the lines there, with ``stats.cut_short`` saying why (a
    copy interrupted mid-transfer still holds hours of log); before the first line it is an InputError.
    """
    stats = stats if stats is not None else TextStats()
    try:
        head = stream.read(SNIFF_BYTES)
        if head[:2] == _GZIP_MAGIC and not isinstance(stream, gzip.GzipFile):
            stats.compressed = True
            stream = gzip.GzipFile(fileobj=_reader(_Prefixed(head, stream)), mode="rb")  # type: ignore[assignment]
            head = stream.read(SNIFF_BYTES)
        elif isinstance(stream, gzip.GzipFile):
            stats.compressed = True
        encoding = sniff_encoding(head, name)
        stats.encoding = encoding
        text = io.TextIOWrapper(_reader(_Prefixed(head, stream)), encoding=encoding, errors="replace", newline=None)
        while True:
            line = text.readline(max_line_chars)
            if not line:
                return
            if not line.endswith("\n") and len(line) >= max_line_chars:
                stats.truncated_lines += 1
                rest = line
                while rest and not rest.endswith("\n"):  # skip the remainder of the huge line
                    rest = text.readline(max_line_chars)
            stats.lines += 1
            yield line.rstrip("\r\n")
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        if stats.lines:
            stats.cut_short = f"the compressed file ends early or is damaged after line {stats.lines} ({exc})"
            return
        raise InputError(f"{name}: the compressed file is damaged or truncated ({exc})") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None


def _reader(raw: io.RawIOBase) -> io.BufferedReader:
    return io.BufferedReader(raw, buffer_size=SNIFF_BYTES)


def read_text_lines(path: str | Path, stats: TextStats | None = None) -> Iterator[str]:
    """All lines of a text log on disk (.gz allowed), closing the file when the iteration ends."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not a log file")
    with open_binary(p) as stream:
        yield from iter_text_lines(stream, str(p), stats)
