"""Opening an HTML file in real headless Chromium: its rendered DOM, console messages, a screenshot, and every
network request the page made.

Why this shape: an admin opens the report in a browser, offline, possibly printed. The properties worth testing
are what a browser does with it, not what our renderer meant: does the page run without console messages (our
report has no script, so any message is a defect: a CSP violation, a parse error), does the text an admin
searches for appear in the rendered DOM, does it paint, and does it try to reach the network.

Network: Chromium is pointed at a recording proxy on loopback (`--proxy-server`, with `<-loopback>` so that
loopback goes through it too). Chromium itself talks to a few Google services at start-up even with background
networking disabled; those requests are kept apart (`browser_requests`), the rest are the page's
(`page_requests`). `tests/integration/test_chromium_infra.py` proves a page that loads an image is caught.
Recipe and measured timings: docs/notes/test-infra.md, section 4.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from tests.infra.ports import _ThreadedListener
from tests.infra.tools import find_tool

# Hosts Chromium contacts by itself (component updater, network time, account checks), never a page's doing.
CHROMIUM_OWN_HOSTS = re.compile(r"(^|\.)(google\.com|googleapis\.com|gvt1\.com|gstatic\.com|googleusercontent\.com)$")

_CONSOLE_LINE = re.compile(r":CONSOLE(?::\d+)?\]\s*(?P<message>.*)$")

_QUIET_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-extensions", "--disable-domain-reliability", "--no-pings", "--no-default-browser-check",
    "--disable-features=Translate,OptimizationHints,MediaRouter,NetworkTimeServiceQuerying",
    "--enable-logging=stderr", "--v=0",
)


class RecordingProxy(_ThreadedListener):
    """An HTTP proxy that answers nothing: it records each request line (GET http://..., CONNECT host:443)."""

    thread_name = "recording-proxy"

    def __init__(self) -> None:
        super().__init__()
        self.request_lines: list[str] = []

    def _accepted(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            try:
                head = conn.recv(8192)
            except OSError:
                return
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            if not line:
                # Chromium preconnects spare sockets to its proxy and closes some unused: no request was made.
                return
            with self._lock:
                self.request_lines.append(line)
            try:
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                return


def request_host(request_line: str) -> str:
    """The host a proxy request line names: `CONNECT h:443 HTTP/1.1` or `GET http://h/p HTTP/1.1`."""
    parts = request_line.split()
    target = parts[1] if len(parts) > 1 else ""
    if "://" in target:
        target = target.split("://", 1)[1].split("/", 1)[0]
    return target.rsplit(":", 1)[0] if target.count(":") == 1 else target


@dataclass
class ChromiumPage:
    """What Chromium made of one HTML file."""

    dom: str
    console_messages: list[str]
    screenshot: bytes
    page_requests: list[str] = field(default_factory=list)
    browser_requests: list[str] = field(default_factory=list)

    @property
    def screenshot_is_blank(self) -> bool:
        """True when the PNG has a single colour (nothing painted), judged from the decoded pixels' variety."""
        return _distinct_png_colours(self.screenshot) <= 1


def _chromium(args: list[str], profile: Path, timeout: float) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(profile), "XDG_CACHE_HOME": str(profile), "HOME": str(profile)}
    return subprocess.run([find_tool("chromium"), *_QUIET_FLAGS, f"--user-data-dir={profile / 'prof'}", *args],
                          capture_output=True, timeout=timeout, env=env, check=False)


def open_in_chromium(page: Path, *, width: int = 1200, height: int = 900, timeout: float = 60.0) -> ChromiumPage:
    """Load `page` twice in headless Chromium (DOM dump, then screenshot) behind a recording proxy."""
    with tempfile.TemporaryDirectory(prefix="aadc-chromium-") as scratch, RecordingProxy() as proxy:
        profile = Path(scratch)
        network = [f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=<-loopback>"]
        url = page.resolve().as_uri()
        dumped = _chromium([*network, "--dump-dom", url], profile, timeout)
        if dumped.returncode != 0:
            raise RuntimeError(f"chromium --dump-dom exited {dumped.returncode}: {dumped.stderr[-2000:]!r}")
        shot_path = profile / "shot.png"
        shot = _chromium([*network, f"--window-size={width},{height}", f"--screenshot={shot_path}", url],
                         profile, timeout)
        if shot.returncode != 0 or not shot_path.is_file():
            raise RuntimeError(f"chromium --screenshot exited {shot.returncode}: {shot.stderr[-2000:]!r}")
        console = [match["message"] for stderr in (dumped.stderr, shot.stderr)
                   for line in stderr.decode("utf-8", "replace").splitlines()
                   if (match := _CONSOLE_LINE.search(line))]
        requests = list(proxy.request_lines)
        return ChromiumPage(
            dom=dumped.stdout.decode("utf-8", "replace"),
            console_messages=console,
            screenshot=shot_path.read_bytes(),
            page_requests=[r for r in requests if not CHROMIUM_OWN_HOSTS.search(request_host(r))],
            browser_requests=[r for r in requests if CHROMIUM_OWN_HOSTS.search(request_host(r))],
        )


@dataclass
class PrintedPage:
    """What Chromium's print of one HTML file gave: the PDF bytes, console messages and the page's requests."""

    pdf: bytes
    console_messages: list[str]
    page_requests: list[str] = field(default_factory=list)


def print_to_pdf(page: Path, *, timeout: float = 60.0) -> PrintedPage:
    """Print `page` with headless Chromium's ``--print-to-pdf`` (print media, Letter, no header or footer lines),
    behind the same recording proxy as ``open_in_chromium``."""
    with tempfile.TemporaryDirectory(prefix="aadc-chromium-") as scratch, RecordingProxy() as proxy:
        profile = Path(scratch)
        network = [f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=<-loopback>"]
        target = profile / "page.pdf"
        done = _chromium([*network, "--no-pdf-header-footer", f"--print-to-pdf={target}", page.resolve().as_uri()],
                         profile, timeout)
        if done.returncode != 0 or not target.is_file():
            raise RuntimeError(f"chromium --print-to-pdf exited {done.returncode}: {done.stderr[-2000:]!r}")
        console = [match["message"] for line in done.stderr.decode("utf-8", "replace").splitlines()
                   if (match := _CONSOLE_LINE.search(line))]
        requests = list(proxy.request_lines)
        return PrintedPage(target.read_bytes(), console,
                           [r for r in requests if not CHROMIUM_OWN_HOSTS.search(request_host(r))])


def _distinct_png_colours(png: bytes, limit: int = 2) -> int:
    """How many distinct pixel values the PNG has, counting up to `limit` (enough to tell blank from painted)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, bytearray(), b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour_type)
    if depth != 8 or channels is None:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour_type})")
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    previous = bytearray(stride)
    seen: set[bytes] = set()
    for row in range(height):
        start = row * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), previous, channels)
        for x in range(0, stride, channels):
            seen.add(bytes(line[x:x + channels]))
            if len(seen) >= limit:
                return len(seen)
        previous = line
    return len(seen)


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> bytearray:
    """Undo one PNG row filter (RFC 2083 section 6)."""
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        upper_left = previous[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            estimate = left + up - upper_left
            pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else upper_left)) & 0xFF
    return line
