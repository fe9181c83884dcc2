"""The lab's HTTP/1.1 reader and writer: heads, bodies (length and chunked), limits, malformed input."""

from __future__ import annotations

import asyncio

import pytest

from aadc_doctor.lab.httpwire import (
    MAX_BODY,
    ProtocolError,
    RequestHead,
    read_body,
    read_request_head,
    read_response_head,
    render_response,
)


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=64 * 1024)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def _head(raw: bytes) -> RequestHead | None:
    async def go() -> RequestHead | None:
        return await read_request_head(_reader(raw))
    return _run(go())


def test_request_head_keeps_header_names_and_looks_up_case_insensitively() -> None:
    async def go() -> RequestHead | None:
        return await read_request_head(_reader(b"CONNECT login.microsoftonline.com:443 HTTP/1.1\r\n"
                                               b"Host: login.microsoftonline.com:443\r\nProxy-Connection: Keep-Alive"
                                               b"\r\n\r\n"))
    head = _run(go())
    assert head is not None
    assert (head.method, head.target, head.version) == ("CONNECT", "login.microsoftonline.com:443", "HTTP/1.1")
    assert head.get("proxy-connection") == "Keep-Alive"
    assert head.keep_alive


def test_clean_eof_between_requests_is_none_but_a_cut_head_is_an_error() -> None:
    assert _head(b"") is None
    with pytest.raises(ProtocolError, match="middle of a head"):
        _head(b"GET / HTTP/1.1\r\nHost: x\r\n")


@pytest.mark.parametrize("raw", [b"GARBAGE\r\n\r\n", b"GET / SPDY/3\r\n\r\n", b"GET / HTTP/1.1\r\nno colon\r\n\r\n"])
def test_malformed_request_heads_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        _head(raw)


def test_a_head_over_the_limit_is_refused() -> None:
    raw = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n"
    with pytest.raises(ProtocolError, match="longer than"):
        _head(raw)


def test_bodies_by_length_and_chunked() -> None:
    async def go(raw: bytes) -> bytes:
        reader = _reader(raw)
        head = await read_request_head(reader)
        assert head is not None
        return await read_body(reader, head)

    assert _run(go(b"POST /t HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")) == b"hello"
    assert _run(go(b"POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")) \
        == b"abcde"
    assert _run(go(b"GET / HTTP/1.1\r\n\r\n")) == b""
    with pytest.raises(ProtocolError, match="larger than"):
        _run(go(f"POST / HTTP/1.1\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode()))
    with pytest.raises(ProtocolError, match="bad Content-Length"):
        _run(go(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"))


def test_http10_closes_unless_asked_and_http11_keeps_alive_unless_told() -> None:
    h10 = RequestHead("GET", "/", "HTTP/1.0", ())
    h11_close = RequestHead("GET", "/", "HTTP/1.1", (("Connection", "close"),))
    assert not h10.keep_alive
    assert not h11_close.keep_alive
    assert RequestHead("GET", "/", "HTTP/1.0", (("Connection", "keep-alive"),)).keep_alive


def test_rendered_response_reads_back() -> None:
    raw = render_response(407, [("Proxy-Authenticate", 'Basic realm="x"')], b"<html/>", keep_alive=False)

    async def go() -> tuple[int, str | None, bytes]:
        reader = _reader(raw)
        head = await read_response_head(reader)
        return head.status, head.get("proxy-authenticate"), await read_body(reader, head)

    assert _run(go()) == (407, 'Basic realm="x"', b"<html/>")
    assert b"\r\nConnection: close\r\n" in raw
    assert raw.startswith(b"HTTP/1.1 407 Proxy Authentication Required\r\n")


def test_head_only_response_announces_the_length_but_sends_no_body() -> None:
    raw = render_response(200, {"Content-Type": "text/html"}, b"12345", head_only=True)
    assert raw.endswith(b"\r\n\r\n")
    assert b"Content-Length: 5\r\n" in raw
