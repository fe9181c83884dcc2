"""Loopback peers for `ad` tests and bench/ad.py: a relay that stands in for a second DC (with added latency),
a listener that resets every TLS handshake, and a server that answers LDAP ports with something else.

They bind fixed ports (389, 636...) on a spare 127.x.y.z, which needs root, like the Samba DC itself.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time

from .ports import _ThreadedListener

LDAP_PORTS = (88, 389, 636, 3268, 3269)


class TcpRelay(_ThreadedListener):
    """Forwards each connection to target:target_port, waiting `delay` seconds before the first byte goes
    either way (a DC further away). Used per port: one relay per DC port a stand-in must answer."""

    thread_name = "relay"

    def __init__(self, host: str, port: int, target: str, target_port: int, delay: float = 0.0) -> None:
        super().__init__(host, port)
        self.target = target
        self.target_port = target_port
        self.delay = delay
        self._open: list[socket.socket] = []

    def _accepted(self, conn: socket.socket) -> None:
        threading.Thread(target=self._pump, args=(conn,), daemon=True, name=f"relay-{self.port}").start()

    def _pump(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            if self.delay:
                time.sleep(self.delay)
            upstream = socket.create_connection((self.target, self.target_port), timeout=10)
            with self._lock:
                self._open += [conn, upstream]
            pair = {conn: upstream, upstream: conn}
            while not self._stop.is_set():
                readable, _, _ = select.select(list(pair), [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return self._close(conn, upstream)
                    pair[sock].sendall(data)
        self._close(conn)
        return None

    def _close(self, *socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()

    def _release(self) -> None:
        with self._lock:
            self._close(*self._open)
            self._open.clear()


class ResettingListener(_ThreadedListener):
    """Accepts, reads the first bytes (the TLS ClientHello), then resets the connection (RST, not FIN)."""

    thread_name = "reset"

    def _accepted(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.settimeout(2)
            conn.recv(4096)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


class JunkListener(_ThreadedListener):
    """Answers any connection with an HTTP error and closes: a server that is not a domain controller."""

    thread_name = "junk"

    def _accepted(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.settimeout(2)
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()


class StandInDc:
    """A second "DC" on `address`: relays to the real DC's TCP ports with `delay` added. UDP is not relayed."""

    def __init__(self, address: str, target: str, delay: float, ports: tuple[int, ...] = LDAP_PORTS) -> None:
        self.address = address
        self.relays = [TcpRelay(address, port, target, port, delay) for port in ports]

    def start(self) -> StandInDc:
        for relay in self.relays:
            relay.start()
        return self

    def stop(self) -> None:
        for relay in self.relays:
            relay.stop()

    def __enter__(self) -> StandInDc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
