"""The HTTP/1.1 the lab servers speak: read a request head and body from a stream, write a response.

Small on purpose: the lab answers one client at a time per connection and never needs pipelining, but it must
not hang or crash on a malformed request (a test may send one), so every limit is explicit.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.x the lab can handle."""


@dataclass(frozen=True)
class RequestHead:
    """A request line and its headers, names kept as sent (lookups ignore case)."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def keep_alive(self) -> bool:
        connection = (self.header("Connection") or self.header("Proxy-Connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


@dataclass(frozen=True)
class ResponseHead:
    """A status line and its headers, as the lab's proxy reads them back from the origin."""

    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


def _split_head(raw: bytes) -> tuple[str, tuple[tuple[str, str], ...]]:
    try:
        text = raw.decode("iso-8859-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - iso-8859-1 decodes every byte
        raise ProtocolError(str(exc)) from None
    lines = text.split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(f"malformed header line {line[:80]!r}")
        headers.append((name, value.strip()))
    return lines[0], tuple(headers)


async def _read_head_bytes(reader: asyncio.StreamReader) -> bytes | None:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None  # the peer closed between requests: a normal end of a keep-alive connection
        raise ProtocolError("connection closed in the middle of a head") from None
    except asyncio.LimitOverrunError:
        raise ProtocolError(f"head longer than {MAX_HEAD} bytes") from None


async def read_request_head(reader: asyncio.StreamReader) -> RequestHead | None:
    """The next request head, or None when the client closed the connection cleanly."""
    raw = await _read_head_bytes(reader)
    if raw is None:
        return None
    start, headers = _split_head(raw)
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ProtocolError(f"malformed request line {start[:80]!r}")
    return RequestHead(parts[0], parts[1], parts[2], headers)


async def read_response_head(reader: asyncio.StreamReader) -> ResponseHead:
    raw = await _read_head_bytes(reader)
    if raw is None:
        raise ProtocolError("the origin closed the connection without answering")
    start, headers = _split_head(raw)
    version, _, rest = start.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ProtocolError(f"malformed status line {start[:80]!r}")
    return ResponseHead(version, int(code), reason, headers)


async def read_body(reader: asyncio.StreamReader, headers: RequestHead | ResponseHead) -> bytes:
    """The message body by Content-Length or chunked encoding (no body when neither is present)."""
    if (headers.header("Transfer-Encoding") or "").lower() == "chunked":
        return await _read_chunked(reader)
    length_text = headers.header("Content-Length")
    if length_text is None:
        return b""
    if not length_text.isdigit():
        raise ProtocolError(f"bad Content-Length {length_text[:20]!r}")
    length = int(length_text)
    if length > MAX_BODY:
        raise ProtocolError(f"body larger than {MAX_BODY} bytes")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise ProtocolError("connection closed in the middle of a body") from None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    try:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size_text = size_line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise ProtocolError(f"body larger than {MAX_BODY} bytes")
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise ProtocolError("malformed chunked body") from None


def http_date() -> str:
    return email.utils.formatdate(usegmt=True)


def render_response(status: int, headers: Iterable[tuple[str, str]] | Mapping[str, str], body: bytes = b"", *,
                    keep_alive: bool = True, reason: str | None = None, head_only: bool = False) -> bytes:
    """A complete HTTP/1.1 response with Date, Content-Length and Connection set by the lab.

    `head_only` answers a HEAD request: the headers describe `body`, which is not sent.
    """
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    phrase = reason if reason is not None else _phrase(status)
    lines = [f"HTTP/1.1 {status} {phrase}", f"Date: {http_date()}"]
    lines += [f"{name}: {value}" for name, value in items]
    lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: " + ("keep-alive" if keep_alive else "close"))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + (b"" if head_only else body)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
