"""Threaded HTTP(S) origins on 127.0.0.1 that stand in for the Microsoft endpoints.

`TlsOrigin` serves HTTPS with a trustme certificate for the names it impersonates; `HttpOrigin` serves plain
HTTP (the port-80 CRL/OCSP endpoints). Both answer per path from a table of `Route`s, record every request,
and can be told to stall: accept the TCP connection and then never finish the TLS handshake or never answer.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import unquote, urlsplit

import trustme

from .certs import issue_server_cert
from .hosts import LAB_HOSTS
from .ports import LOOPBACK

Stall = Literal["handshake", "response"]


@dataclass(frozen=True)
class Route:
    """What the origin answers for one path. `delay` seconds pass before the status line is sent."""

    status: int = 200
    body: bytes = b"ok\n"
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "text/plain"})
    delay: float = 0.0


@dataclass(frozen=True)
class SeenRequest:
    """One request the origin received (for assertions: what did the client really send?)."""

    method: str
    path: str
    host: str | None
    headers: Mapping[str, str]
    body: bytes


DEFAULT_ROUTE = Route()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _OriginServer
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        origin = self.server.origin
        origin._record(SeenRequest(self.command, self.path, self.headers.get("Host"),
                                   {k: v for k, v in self.headers.items()}, body))
        if origin.stall == "response":
            origin._wait_stopped()
            self.close_connection = True
            return
        route = origin.route_for(self.path)
        if route.delay:
            time.sleep(route.delay)
        self.send_response(route.status)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name in route.headers):
            self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(route.body)

    do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: requests are recorded in origin.requests instead of printed to stderr."""


class _OriginServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: a burst of concurrent probes overflows it and the dropped SYNs
    # come back a second later, as a fake 1000 ms TCP time. A real endpoint never makes a client wait like that.
    request_queue_size = 128

    def __init__(self, origin: _Origin, address: tuple[str, int]) -> None:
        self.origin = origin
        super().__init__(address, _Handler)

    def finish_request(self, request: socket.socket | tuple[bytes, socket.socket],
                       client_address: tuple[str, int]) -> None:
        """Runs in the per-connection thread, so a slow or stalled TLS handshake never blocks accept()."""
        assert isinstance(request, socket.socket)
        conn: socket.socket = request
        ctx = self.origin.ssl_context
        if ctx is not None:
            if self.origin.stall == "handshake":
                with self.origin._lock:
                    self.origin._connections_stalled += 1
                self.origin._wait_stopped()
                return
            conn.settimeout(10)
            try:
                conn = ctx.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                self.origin._record_tls_error(exc)
                return
            conn.settimeout(None)
        _Handler(conn, client_address, self)

    def handle_error(self, request: object, client_address: object) -> None:
        """Client resets and TLS alerts are expected in tests; don't print tracebacks for them."""


class _Origin:
    """Common machinery of TlsOrigin and HttpOrigin."""

    scheme = "http"

    def __init__(self, routes: Mapping[str, Route] | None, default_route: Route, stall: Stall | None,
                 host: str, port: int) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.default_route = default_route
        self.stall = stall
        self.host = host
        self.requests: list[SeenRequest] = []
        self.tls_errors: list[str] = []
        self._connections_stalled = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.ssl_context: ssl.SSLContext | None = None
        self._server = _OriginServer(self, (host, port))
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}-{self.port}", daemon=True)

    def route_for(self, raw_path: str) -> Route:
        """Exact raw path first (percent-encoded as sent), then its decoded form, then the path without query."""
        path_only = urlsplit(raw_path).path
        for candidate in (raw_path, unquote(raw_path), path_only, unquote(path_only)):
            if candidate in self.routes:
                return self.routes[candidate]
        return self.default_route

    def set_route(self, path: str, route: Route) -> None:
        self.routes[path] = route

    def url(self, host: str = "localhost", path: str = "/") -> str:
        """URL of this origin under a host name it impersonates, e.g. https://login.microsoftonline.com:PORT/."""
        return f"{self.scheme}://{host}:{self.port}{path}"

    def _record(self, req: SeenRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _record_tls_error(self, exc: BaseException) -> None:
        with self._lock:
            self.tls_errors.append(f"{type(exc).__name__}: {exc}")

    def _wait_stopped(self) -> None:
        self._stopped.wait()

    @property
    def stalled_connections(self) -> int:
        return self._connections_stalled

    def start(self) -> _Origin:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class TlsOrigin(_Origin):
    """HTTPS origin on 127.0.0.1:<free port> with a certificate for `hostnames` issued by `ca`.

    ``with TlsOrigin(lab_ca, ["login.microsoftonline.com"], routes={"/": Route(200, b"hi")}) as origin:``
    then ``origin.url("login.microsoftonline.com")`` through a proxy whose hosts map that name to 127.0.0.1.
    Pass `cert` instead of `ca`+`hostnames` to serve a prepared certificate (expired, wrong name, ...).
    `stall="handshake"` accepts TCP and never starts TLS; `stall="response"` completes TLS, reads the
    request and never answers.
    """

    scheme = "https"

    def __init__(self, ca: trustme.CA | None = None, hostnames: Iterable[str] = LAB_HOSTS, *,
                 cert: trustme.LeafCert | None = None, routes: Mapping[str, Route] | None = None,
                 default_route: Route = DEFAULT_ROUTE, stall: Stall | None = None,
                 host: str = LOOPBACK, port: int = 0,
                 minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
                 maximum_version: ssl.TLSVersion | None = None) -> None:
        if cert is None:
            if ca is None:
                raise ValueError("TlsOrigin needs a CA (to issue a certificate) or a prepared cert")
            cert = issue_server_cert(ca, [*hostnames, "localhost", LOOPBACK])
        self.cert = cert
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = minimum_version
        if maximum_version is not None:
            ctx.maximum_version = maximum_version
        with tempfile.TemporaryDirectory(prefix="aadc-origin-") as tmp:
            pem = Path(tmp) / "server.pem"
            cert.private_key_and_cert_chain_pem.write_to_path(str(pem))
            ctx.load_cert_chain(str(pem))
        super().__init__(routes, default_route, stall, host, port)
        self.ssl_context = ctx

    def __enter__(self) -> TlsOrigin:
        self.start()
        return self


class HttpOrigin(_Origin):
    """Plain-HTTP origin on 127.0.0.1:<free port> (or `port=80` as root), e.g. for CRL downloads.

    ``with HttpOrigin(routes={MICROSOFT_CRL_PATH: Route(200, build_crl(lab_ca), crl_headers())}) as o:``
    """

    scheme = "http"

    def __init__(self, routes: Mapping[str, Route] | None = None, *, default_route: Route | None = None,
                 stall: Literal["response"] | None = None, host: str = LOOPBACK, port: int = 0) -> None:
        super().__init__(routes, default_route or Route(404, b"not found\n"), stall, host, port)

    def __enter__(self) -> HttpOrigin:
        self.start()
        return self


def crl_route(crl_der: bytes) -> Route:
    """A Route serving DER CRL bytes with the content type CRL endpoints use."""
    return Route(200, crl_der, {"Content-Type": "application/pkix-crl"})


def ocsp_route() -> Route:
    """A Route answering as a real OCSP responder does for a certificate it does not serve: an OCSP response with
    status 'unauthorized' (RFC 6960 section 2.3), DER, built with cryptography."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import ocsp

    response = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    return Route(200, response.public_bytes(serialization.Encoding.DER), {"Content-Type": "application/ocsp-response"})

