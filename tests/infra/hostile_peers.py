"""Hostile HTTP(S) peers on 127.0.0.1 (issue 17, item 2): they answer, but never the way a client hopes.

The behaviour is chosen by a word in the request path (a UPN in the user-realm URL carries it):
``endless`` a 200 body that never ends; ``drip`` a 200 body of 1,000 announced bytes sent one a second;
``nested`` a 200 JSON body nested 100,000 levels deep; ``dripheaders`` (or any CONNECT, as a proxy would get) an
answer whose status line and headers come one byte a second; anything else a small valid JSON realm answer.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import trustme

NESTED = b"[" * 100_000 + b"]" * 100_000


class HostilePeer:
    """A threaded server (TLS when given a certificate); ``port`` once started; ``close()`` stops it."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hostile-peer", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError), contextlib.closing(conn):
            conn.settimeout(10)
            if self._context is not None:
                conn = self._context.wrap_socket(conn, server_side=True)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536:
                data = conn.recv(4096)
                if not data:
                    return
                request += data
            method, path = request.split(b" ", 2)[:2] if request.count(b" ") >= 2 else (b"GET", b"/")
            if method == b"CONNECT" or b"dripheaders" in path:
                self._drip(conn, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 1000 + b"\r\n\r\n")
            elif b"endless" in path:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
                block = b'{"NameSpaceType": "' + b"x" * 65536
                while not self._stop.is_set():
                    conn.sendall(block)
            elif b"drip" in path:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Length: 1000\r\n\r\n")
                for _ in range(1000):
                    if self._stop.wait(1.0):
                        return
                    conn.sendall(b" ")
            elif b"nested" in path:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(NESTED)).encode() + b"\r\n\r\n" + NESTED)
            else:
                body = b'{"NameSpaceType": "Managed", "DomainName": "contoso.com"}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)

    def _drip(self, conn: socket.socket, answer: bytes) -> None:
        """Send ``answer`` one byte a second (the status line and headers too, never their end in time)."""
        for byte in answer:
            if self._stop.wait(1.0):
                return
            conn.sendall(bytes((byte,)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


@contextlib.contextmanager
def hostile_peer(ca: trustme.CA | None = None, hostnames: tuple[str, ...] = ()) -> Iterator[HostilePeer]:
    context = None
    if ca is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*hostnames).configure_cert(context)
    peer = HostilePeer(context)
    try:
        yield peer
    finally:
        peer.close()


def wait_listening(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")
