"""One deadline for a whole blocking HTTP exchange: connect, TLS, proxy CONNECT, response headers and body.

requests' and urllib3's ``timeout`` bounds each socket operation, not the exchange: a peer that sends its status
line and headers one byte a second never lets a read time out. ``RequestDeadline`` closes the exchange's
sockets for reading and writing when its deadline passes, so the blocked read returns at once and the caller
(``DoctorSession.request``, the PAC download) reports a time-out. Connections register their socket through
``deadline_connection``: when it is opened, and again when a kept-alive connection sends its next request.
The watchdog is a timer thread that the exchange cancels and joins when it ends: it never outlives the command.
On Linux a shut-down socket's blocked read returns at once; on Windows (by its documentation, not verified here)
it ends when the peer sends its next byte (the connection is then reset) or at the per-read timeout, whichever
comes first: a peer that drips ends within a second of the deadline, a silent one at most one read later.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Any, cast

_current = threading.local()


class RequestDeadline:
    """A context manager: the sockets registered inside it are shut down when ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._fired = False
        self._timer: threading.Timer | None = None
        self._outer: RequestDeadline | None = None
        self.in_proxy_connect = False  # True while a proxy is asked to CONNECT, and after it failed there

    @property
    def expired(self) -> bool:
        """Whether the deadline cut the exchange short (or has passed)."""
        return self._fired or time.monotonic() >= self.at

    def watch(self, sock: socket.socket | None) -> None:
        """Bound ``sock`` by this deadline (shut down at once if it has passed)."""
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            fired = self._fired
        if fired:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> RequestDeadline:
        self._outer = getattr(_current, "deadline", None)
        _current.deadline = self
        self._timer = threading.Timer(max(0.0, self.at - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.name = "aadc-doctor-request-deadline"
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        _current.deadline = self._outer
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()


def _shut(sock: socket.socket) -> None:
    """Shut the file descriptor down (the plain socket's method: an SSL socket's would drop its SSL object)."""
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def watch_socket(sock: socket.socket | None) -> None:
    """Bound ``sock`` by the deadline of the exchange this thread is in, if any."""
    deadline: RequestDeadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


def deadline_connection(base: type[Any]) -> type[Any]:
    """A urllib3 connection class whose sockets are bounded by the current ``RequestDeadline``."""

    class DeadlineConnection(base):  # type: ignore[misc]
        def _new_conn(self) -> socket.socket:
            sock = cast(socket.socket, super()._new_conn())
            watch_socket(sock)
            return sock

        def _tunnel(self) -> None:
            deadline: RequestDeadline | None = getattr(_current, "deadline", None)
            if deadline is not None:
                deadline.in_proxy_connect = True
            super()._tunnel()
            if deadline is not None:
                deadline.in_proxy_connect = False

        def request(self, *args: Any, **kwargs: Any) -> None:
            watch_socket(cast(Any, self).sock)  # a kept-alive connection: no new socket for this exchange
            super().request(*args, **kwargs)

    return DeadlineConnection


def deadline_adapter() -> Any:
    """A requests ``HTTPAdapter`` whose direct connections (no proxy) are bounded by the current deadline."""
    import urllib3
    from requests.adapters import HTTPAdapter
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Pool(HTTPConnectionPool):
        ConnectionCls = deadline_connection(urllib3.connection.HTTPConnection)

    class TlsPool(HTTPSConnectionPool):
        ConnectionCls = deadline_connection(urllib3.connection.HTTPSConnection)

    class DeadlineAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TlsPool}

    return DeadlineAdapter()
