"""Loopback port helpers: free ports, a port nobody listens on, a proxy that never answers, a canned proxy."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (bind to 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_udp_port(host: str = LOOPBACK) -> int:
    """A port free for both UDP and TCP (DNS servers listen on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port: int = udp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                    tcp.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no port free for both UDP and TCP on {host}")


def spare_loopback_address(tcp_ports: tuple[int, ...] = (), udp_ports: tuple[int, ...] = ()) -> str:
    """A random 127.x.y.z (Linux routes all of 127/8 to lo) where the given ports are free.

    Lets tests listen on fixed ports (53, 80, 443) without clashing with another test run on the same machine.
    Binding fixed ports below 1024 needs root. Avoids 127.0.0.53/54 (systemd-resolved).
    """
    rng = random.SystemRandom()
    last_error: OSError | None = None
    for _ in range(100):
        address = f"127.{rng.randint(100, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        try:
            for port in tcp_ports:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                    tcp.bind((address, port))
            for port in udp_ports:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind((address, port))
        except PermissionError:
            raise
        except OSError as exc:
            last_error = exc
            continue
        return address
    raise RuntimeError(f"no loopback address with free ports tcp={tcp_ports} udp={udp_ports}: {last_error}")


def closed_port(host: str = LOOPBACK) -> int:
    """A port with nothing listening: a connect() to it is refused (ECONNREFUSED) right away.

    Racy in theory (another process could take it); for a port that stays closed for a whole test
    use `ClosedPort`, which keeps it bound without listening.
    """
    return free_port(host)


class ClosedPort:
    """Holds a bound but non-listening socket, so the port stays refused and nobody else can take it."""

    def __init__(self, host: str = LOOPBACK) -> None:
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((host, 0))
        self.port: int = self._sock.getsockname()[1]

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> ClosedPort:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _ThreadedListener(ABC):
    """A loopback TCP listener served by one accept thread; subclasses say what to do with each connection."""

    thread_name = "listener"

    def __init__(self, host: str = LOOPBACK, port: int = 0) -> None:
        self.host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"{self.thread_name}-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._accepted(conn)

    @abstractmethod
    def _accepted(self, conn: socket.socket) -> None:
        """Handle one accepted connection (on the accept thread: hand long work to a thread of its own)."""

    def _release(self) -> None:  # noqa: B027 - a hook: only listeners that keep connections override it
        """Close what the subclass still holds once the accept thread has stopped."""

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._release()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class StalledProxy(_ThreadedListener):
    """A TCP listener that accepts connections, reads whatever comes, and never sends a byte.

    Stands in for a proxy (or origin) that swallows requests: clients must hit their own timeout.
    `connections` counts accepted connections so a test can prove the client really got through TCP.
    """

    thread_name = "stalled-proxy"

    def __init__(self, host: str = LOOPBACK, port: int = 0) -> None:
        super().__init__(host, port)
        self.connections = 0
        self._held: list[socket.socket] = []

    def _accepted(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        with self._lock:
            self.connections += 1
            self._held.append(conn)
        threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn: socket.socket) -> None:
        """Read and discard until the peer goes away or we stop; never answer."""
        while not self._stop.is_set():
            try:
                if not conn.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _release(self) -> None:
        with self._lock:
            for conn in self._held:
                with contextlib.suppress(OSError):
                    conn.close()
            self._held.clear()


@dataclass(frozen=True)
class CannedResponse:
    """One answer of a CannedProxy: status line, headers, body."""

    status: int
    reason: str = "Canned"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def wire(self) -> bytes:
        head = [f"HTTP/1.1 {self.status} {self.reason}"]
        head += [f"{name}: {value}" for name, value in self.headers.items()]
        head += [f"Content-Length: {len(self.body)}", "Connection: close"]
        return ("\r\n".join(head) + "\r\n\r\n").encode("iso-8859-1") + self.body


class CannedProxy(_ThreadedListener):
    """A fake proxy answering every request (CONNECT or not) with prepared responses, in order; the last repeats.

    For answers squid cannot easily give: `CannedResponse(502, "Bad Gateway")`, a `Proxy-Authenticate: Negotiate`
    407, a non-HTTP banner (`raw=b"SSH-2.0-OpenSSH\\r\\n"`). Each connection gets one answer and is then closed.
    `requests` holds the raw request heads received.
    """

    thread_name = "canned-proxy"

    def __init__(self, *responses: CannedResponse, raw: bytes | None = None, host: str = LOOPBACK) -> None:
        if not responses and raw is None:
            raise ValueError("CannedProxy needs at least one response (or raw bytes)")
        super().__init__(host)
        self._responses = responses
        self._raw = raw
        self.requests: list[str] = []

    def _accepted(self, conn: socket.socket) -> None:
        threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                return
            with self._lock:
                index = len(self.requests)
                self.requests.append(data.split(b"\r\n\r\n", 1)[0].decode("iso-8859-1"))
            if self._raw is not None:
                payload = self._raw
            else:
                payload = self._responses[min(index, len(self._responses) - 1)].wire()
            with contextlib.suppress(OSError):
                conn.sendall(payload)
