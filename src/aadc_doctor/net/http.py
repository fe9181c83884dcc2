"""A small HTTP/1.1 client for probes: one request, one response head, an optional bounded body.

Probes need exactly what a proxy or endpoint says (status line, Proxy-Authenticate, X-Squid-Error) on a
connection they control byte by byte (CONNECT, NTLM's connection-bound handshake), which general clients hide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024
USER_AGENT = "aadc-doctor"


class HttpProtocolError(Exception):
    """The peer did not speak HTTP/1.x, or closed the connection mid-message."""


@dataclass(frozen=True)
class ResponseHead:
    version: str
    status: int
    reason: str
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


async def read_head(reader: asyncio.StreamReader) -> ResponseHead:
    """Read the status line and headers (interim 1xx answers other than 101 are skipped)."""
    while True:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise HttpProtocolError("the peer closed the connection without answering") from None
            raise HttpProtocolError("the peer closed the connection in the middle of its answer") from None
        except asyncio.LimitOverrunError:
            raise HttpProtocolError("the answer's header block is too large") from None
        if len(raw) > MAX_HEAD_BYTES:
            raise HttpProtocolError("the answer's header block is too large")
        head = _parse_head(raw)
        if 100 <= head.status < 200 and head.status != 101:
            continue
        return head


def _parse_head(raw: bytes) -> ResponseHead:
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    status_line = lines[0]
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        shown = status_line[:60].encode("unicode_escape").decode("ascii")
        raise HttpProtocolError(f"not an HTTP answer: {shown!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return ResponseHead(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", tuple(headers))


def has_body(head: ResponseHead, method: str) -> bool:
    return not (method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200
                or (method == "CONNECT" and 200 <= head.status < 300))


async def read_body(reader: asyncio.StreamReader, head: ResponseHead, method: str, limit: int) -> bytes:
    """The body, at most `limit` bytes (more raises HttpProtocolError); handles length, chunked and close."""
    if not has_body(head, method):
        return b""
    if "chunked" in (head.get("transfer-encoding") or "").lower():
        return await _read_chunked(reader, limit)
    length_text = head.get("content-length")
    try:
        if length_text is not None:
            length = int(length_text)
            if length < 0:
                raise HttpProtocolError(f"bad Content-Length {length_text!r}")
            if length > limit:
                raise HttpProtocolError(f"the body is {length} bytes, more than the {limit} bytes this probe reads")
            return await reader.readexactly(length)
        data = await reader.read(limit + 1)
        body = bytearray(data)
        while data and len(body) <= limit:
            data = await reader.read(limit + 1 - len(body))
            body += data
        if len(body) > limit:
            raise HttpProtocolError(f"the body is larger than the {limit} bytes this probe reads")
        return bytes(body)
    except ValueError:
        raise HttpProtocolError(f"bad Content-Length {length_text!r}") from None
    except asyncio.IncompleteReadError:
        raise HttpProtocolError("the peer closed the connection in the middle of the body") from None


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    body = bytearray()
    try:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return bytes(body)
            if len(body) + size > limit:
                raise HttpProtocolError(f"the body is larger than the {limit} bytes this probe reads")
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise HttpProtocolError("the peer closed the connection in the middle of a chunked body") from None
    except ValueError:
        raise HttpProtocolError("bad chunk size in a chunked body") from None
