"""The Chromium harness catches what the HTML report tests rely on it to catch (so those tests can fail)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from tests.infra.chromium import RecordingProxy, open_in_chromium, request_host

pytestmark = pytest.mark.integration


def test_a_page_that_loads_from_the_network_and_logs_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "leaky page.html"
    page.write_text('<!doctype html><html><head><meta charset="utf-8"></head><body><h1 id="x">Seen</h1>'
                    '<img src="http://tracker.example.invalid/pixel.png">'
                    '<script>console.error("boom")</script></body></html>', encoding="utf-8")
    opened = open_in_chromium(page)
    assert 'id="x"' in opened.dom
    assert {request_host(r) for r in opened.page_requests} == {"tracker.example.invalid"}  # once per load
    assert any("boom" in message for message in opened.console_messages)
    assert not opened.screenshot_is_blank


def test_a_blank_page_is_blank(tmp_path: Path) -> None:
    page = tmp_path / "blank.html"
    page.write_text("<!doctype html><html><body></body></html>", encoding="utf-8")
    opened = open_in_chromium(page)
    assert (opened.page_requests, opened.console_messages, opened.screenshot_is_blank) == ([], [], True)


def test_request_host_reads_both_proxy_forms() -> None:
    assert request_host("CONNECT a.example:443 HTTP/1.1") == "a.example"
    assert request_host("GET http://b.example:8080/x HTTP/1.1") == "b.example"


def test_a_connection_that_sends_nothing_is_not_a_request() -> None:
    """Chromium preconnects spare sockets to its proxy and closes some unused; that is no page request."""
    with RecordingProxy() as proxy:
        socket.create_connection(("127.0.0.1", proxy.port)).close()
        with socket.create_connection(("127.0.0.1", proxy.port)) as used:
            used.sendall(b"GET http://c.example/ HTTP/1.1\r\nHost: c.example\r\n\r\n")
            used.recv(100)
        time.sleep(0.2)
        assert proxy.request_lines == ["GET http://c.example/ HTTP/1.1"]
