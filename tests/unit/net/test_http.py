"""The probe's HTTP reader: status lines, headers, bodies by length, chunks or close; garbage is an error."""

from __future__ import annotations

import asyncio

import pytest

from aadc_doctor.net.http import HttpProtocolError, build_request, read_body, read_head


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def _head_and_body(data: bytes, method: str = "GET") -> tuple[int, list[str], bytes]:
    async def go() -> tuple[int, list[str], bytes]:
        reader = _reader(data)
        head = await read_head(reader)
        body = await read_body(reader, head, method, 1000)
        return head.status, head.get_all("proxy-authenticate"), body

    return asyncio.run(go())


def test_content_length_body_and_repeated_headers() -> None:
    raw = (b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\n"
           b"Proxy-Authenticate: NTLM\r\nContent-Length: 5\r\n\r\nhello")
    assert _head_and_body(raw) == (407, ["Negotiate", "NTLM"], b"hello")


def test_chunked_body() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    assert _head_and_body(raw)[2] == b"abcde"


def test_body_until_close_and_interim_100_skipped() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest of it"
    assert _head_and_body(raw) == (200, [], b"rest of it")


def test_connect_success_has_no_body() -> None:
    assert _head_and_body(b"HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT")[2] == b""


@pytest.mark.parametrize("raw, match", [
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP answer"),
    (b"", "without answering"),
    (b"HTTP/1.1 200 OK\r\nContent-Le", "middle of its answer"),
])
def test_not_http_is_a_protocol_error(raw: bytes, match: str) -> None:
    with pytest.raises(HttpProtocolError, match=match):
        _head_and_body(raw)


def test_body_over_limit_is_refused() -> None:
    with pytest.raises(HttpProtocolError, match="larger than"):
        _head_and_body(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)


def test_request_has_host_and_extra_headers() -> None:
    raw = build_request("CONNECT", "login.microsoftonline.com:443", "login.microsoftonline.com:443",
                        [("Proxy-Authorization", "Basic abc")])
    assert raw.startswith(b"CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: login.microsoftonline.com:443\r\n")
    assert b"Proxy-Authorization: Basic abc\r\n" in raw and raw.endswith(b"\r\n\r\n")


@pytest.mark.parametrize("raw, status, body", [
    (b"HTTP/1.0 403 Forbidden\n\n", 403, b""),
    (b"HTTP/1.1 407 Proxy Authentication Required\nProxy-Authenticate: Basic\nContent-Length: 2\n\nok", 407, b"ok"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok", 200, b"ok"),
])
def test_bare_lf_line_ends_are_read_as_the_rfc_allows(raw: bytes, status: int, body: bytes) -> None:
    # RFC 9112 2.2: a recipient MAY take a bare LF as a line end; a proxy that answers so must not look silent
    assert _head_and_body(raw)[::2] == (status, body)


@pytest.mark.parametrize("raw", ["HTTP/1.1 ²00 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n"])
def test_a_status_code_is_three_ascii_digits(raw: str) -> None:
    with pytest.raises(HttpProtocolError, match="not an HTTP answer"):
        _head_and_body(raw.encode("latin-1"))


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",  # an empty size line is not the last chunk
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",  # chunk longer than announced
])
def test_malformed_chunked_bodies_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(HttpProtocolError, match="chunk"):
        _head_and_body(raw)
