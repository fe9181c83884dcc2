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


class UdpRelay:
    """Forwards each datagram to target:port and the answer back, after `delay` (Kerberos, CLDAP)."""

    def __init__(self, host: str, port: int, target: str, delay: float = 0.0) -> None:
        self.target = target
        self.port = port
        self.delay = delay
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"udp-relay-{port}")

    def start(self) -> UdpRelay:
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, client = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._forward, args=(data, client), daemon=True).start()

    def _forward(self, data: bytes, client: tuple[str, int]) -> None:
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
            time.sleep(self.delay)
            upstream.settimeout(5)
            upstream.sendto(data, (self.target, self.port))
            answer, _ = upstream.recvfrom(65535)
            self._sock.sendto(answer, client)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


class StandInDc:
    """A second "DC" on `address`: relays the real DC's TCP and UDP ports with `delay` added."""

    def __init__(self, address: str, target: str, delay: float, ports: tuple[int, ...] = LDAP_PORTS,
                 udp_ports: tuple[int, ...] = (88, 389)) -> None:
        self.address = address
        self.relays = [TcpRelay(address, port, target, port, delay) for port in ports]
        self.udp_relays = [UdpRelay(address, port, target, delay) for port in udp_ports]

    def start(self) -> StandInDc:
        for relay in self.relays:
            relay.start()
        for udp in self.udp_relays:
            udp.start()
        return self

    def stop(self) -> None:
        for relay in self.relays:
            relay.stop()
        for udp in self.udp_relays:
            udp.stop()

    def __enter__(self) -> StandInDc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
