"""A small HTTP/1.1 client for probes: one request, one response head, an optional bounded body.

Probes need exactly what a proxy or endpoint says (status line, Proxy-Authenticate, X-Squid-Error) on a
connection they control byte by byte (CONNECT, NTLM's connection-bound handshake), which general clients hide.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn

MAX_HEAD_BYTES = 64 * 1024
USER_AGENT = "aadc-doctor"
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class HttpProtocolError(Exception):
    """The peer did not speak HTTP/1.x, or closed the connection mid-message."""


class HeaderLookup:
    """Case-insensitive access to a head's fields, kept in order with their names as sent."""

    headers: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]


@dataclass(frozen=True)
class ResponseHead(HeaderLookup):
    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]

    @property
    def keeps_alive(self) -> bool:
        connection = ",".join(self.get_all("connection") + self.get_all("proxy-connection")).lower()
        if "close" in connection:
            return False
        return self.version != "HTTP/1.0" or "keep-alive" in connection


def build_request(method: str, target: str, host_header: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}", f"User-Agent: {USER_AGENT}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class NoAnswer(HttpProtocolError):
    """The peer closed the connection before sending a byte of its answer."""


class TruncatedHead(HttpProtocolError):
    """The peer closed the connection after sending part of a head."""


async def read_head_block(reader: asyncio.StreamReader, max_bytes: int = MAX_HEAD_BYTES,
                          check_start: Callable[[bytes], None] | None = None) -> bytes | None:
    """The next message head through its empty line, or None when the peer closed before sending one.

    Lines may end in CRLF or a bare LF (RFC 9112 section 2.2: some proxies and appliances answer so, and waiting
    for CRLF CRLF would report them as silent); empty lines before a head are skipped. `check_start` sees the
    start line as soon as it arrives and may raise: a peer that is no HTTP server is then told at once.
    """
    block = bytearray()
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if not block and not exc.partial.strip():
                return None
            raise TruncatedHead("the connection closed in the middle of a head") from None
        except asyncio.LimitOverrunError:
            raise HttpProtocolError(f"the header block is longer than {max_bytes} bytes") from None
        if line.rstrip(b"\r\n"):
            if not block and check_start is not None:
                check_start(line)
            block += line
            if len(block) > max_bytes:
                raise HttpProtocolError(f"the header block is longer than {max_bytes} bytes")
        elif block:
            return bytes(block + line)


def split_head(raw: bytes, *, strict: bool = False) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The start line and header fields of a head, names as sent.

    Strict (a server reading requests): a line without a colon, or a name with space around it (a folded line
    among them), is an error. Lenient (a client reading answers): such lines are skipped and obsolete line
    folding is joined to the header above.
    """
    lines = [line.removesuffix("\r") for line in raw.decode("latin-1").split("\n")]
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if not strict and line[0] in " \t" and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if strict and (not sep or not name or name != name.strip()):
            raise HttpProtocolError(f"malformed header line {line[:80]!r}")
        if sep:
            headers.append((name.strip(), value.strip()))
    return lines[0], tuple(headers)


async def read_head(reader: asyncio.StreamReader) -> ResponseHead:
    """Read the status line and headers (interim 1xx answers other than 101 are skipped)."""
    while True:
        try:
            raw = await read_head_block(reader, check_start=_check_status_line)
        except TruncatedHead:
            raise HttpProtocolError("the peer closed the connection in the middle of its answer") from None
        if raw is None:
            raise NoAnswer("the peer closed the connection without answering")
        head = _parse_head(raw)
        if 100 <= head.status < 200 and head.status != 101:
            continue
        return head


def _check_status_line(line: bytes) -> None:
    """An FTP or SMTP banner at the proxy port waits for more after its line: refuse it now, not at the deadline."""
    if not line.startswith(b"HTTP/"):
        _not_http(line.decode("latin-1").rstrip("\r\n"))


def _not_http(status_line: str) -> NoReturn:
    shown = status_line[:60].encode("unicode_escape").decode("ascii")
    raise HttpProtocolError(f"not an HTTP answer: {shown!r}")


def _parse_head(raw: bytes) -> ResponseHead:
    status_line, headers = split_head(raw)
    parts = status_line.split(" ", 2)
    code = parts[1] if len(parts) > 1 else ""
    if not parts[0].startswith("HTTP/1.") or len(code) != 3 or not (code.isascii() and code.isdigit()):
        _not_http(status_line)
    return ResponseHead(parts[0], int(code), parts[2] if len(parts) > 2 else "", headers)


def has_body(head: ResponseHead, method: str) -> bool:
    return not (method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200
                or (method == "CONNECT" and 200 <= head.status < 300))


async def read_body(reader: asyncio.StreamReader, head: ResponseHead, method: str, limit: int) -> bytes:
    """The body, at most `limit` bytes (more raises HttpProtocolError); handles length, chunked and close."""
    if not has_body(head, method):
        return b""
    framed = await read_framed_body(reader, head, limit)
    if framed is not None:
        return framed
    data = await reader.read(limit + 1)
    body = bytearray(data)
    while data and len(body) <= limit:
        data = await reader.read(limit + 1 - len(body))
        body += data
    if len(body) > limit:
        raise HttpProtocolError(f"the body is larger than the limit of {limit} bytes")
    return bytes(body)


async def read_framed_body(reader: asyncio.StreamReader, head: HeaderLookup, limit: int) -> bytes | None:
    """The body by chunked encoding or Content-Length, at most `limit` bytes; None when the head declares neither
    (a request then has no body, an answer runs until the connection closes)."""
    if "chunked" in (head.get("transfer-encoding") or "").lower():
        return await read_chunked(reader, limit)
    length_text = head.get("content-length")
    if length_text is None:
        return None
    if not (length_text.isascii() and length_text.isdigit()):
        raise HttpProtocolError(f"bad Content-Length {length_text[:20]!r}")
    length = int(length_text)
    if length > limit:
        raise HttpProtocolError(f"the body is {length} bytes, larger than the limit of {limit} bytes")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise HttpProtocolError("the peer closed the connection in the middle of the body") from None


async def read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    """A chunked body (RFC 9112 section 7.1), at most `limit` bytes; chunk extensions and trailers are dropped."""
    body = bytearray()
    try:
        while True:
            size_text = (await reader.readuntil(b"\n")).split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise HttpProtocolError(f"bad chunk size {size_text[:20]!r} in a chunked body")
            size = int(size_text, 16)
            if size == 0:
                while (await reader.readuntil(b"\n")).rstrip(b"\r\n"):  # trailers
                    pass
                return bytes(body)
            if len(body) + size > limit:
                raise HttpProtocolError(f"the body is larger than the limit of {limit} bytes")
            body += await reader.readexactly(size)
            if (await reader.readuntil(b"\n")).rstrip(b"\r\n"):
                raise HttpProtocolError("a chunk is longer than its size line says")
    except asyncio.IncompleteReadError:
        raise HttpProtocolError("the peer closed the connection in the middle of a chunked body") from None
    except asyncio.LimitOverrunError:
        raise HttpProtocolError("a line of the chunked body is too long") from None
