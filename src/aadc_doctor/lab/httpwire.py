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

from aadc_doctor.net.http import (
    MAX_HEAD_BYTES,
    HeaderLookup,
    HttpProtocolError,
    ResponseHead,
    read_framed_body,
    read_head_block,
    split_head,
)
from aadc_doctor.net.http import read_head as read_response_head

MAX_HEAD = MAX_HEAD_BYTES
MAX_BODY = 1024 * 1024

# The lab reads with the probe's own parser (one HTTP reader in the product); its errors are the probe's.
ProtocolError = HttpProtocolError

__all__ = ["MAX_BODY", "MAX_HEAD", "ProtocolError", "RequestHead", "ResponseHead", "http_date", "read_body",
           "read_request_head", "read_response_head", "render_response"]


@dataclass(frozen=True)
class RequestHead(HeaderLookup):
    """A request line and its headers, names kept as sent (lookups ignore case)."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]

    @property
    def keep_alive(self) -> bool:
        connection = (self.get("Connection") or self.get("Proxy-Connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


async def read_request_head(reader: asyncio.StreamReader) -> RequestHead | None:
    """The next request head, or None when the client closed the connection cleanly.

    Strict about header lines (a server must not guess at a malformed request), lenient about bare LF line ends.
    """
    raw = await read_head_block(reader, MAX_HEAD)
    if raw is None:
        return None
    start, headers = split_head(raw, strict=True)
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ProtocolError(f"malformed request line {start[:80]!r}")
    return RequestHead(parts[0], parts[1], parts[2], headers)


async def read_body(reader: asyncio.StreamReader, head: RequestHead | ResponseHead) -> bytes:
    """The message body by Content-Length or chunked encoding (no body when neither is present)."""
    return await read_framed_body(reader, head, MAX_BODY) or b""


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
