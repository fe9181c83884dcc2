"""The lab's forward proxy: what a corporate Squid does to Azure AD Connect's traffic, on 127.0.0.1.

It tunnels CONNECT and relays absolute-URI GETs, applies a policy (hosts not opened get Squid's 403
``ERR_ACCESS_DENIED``, missing or wrong Basic credentials get 407 with ``Proxy-Authenticate``), can terminate
TLS with certificates re-signed by its own CA (a TLS-inspecting proxy), and writes Squid's native access.log.
It never resolves a name or connects anywhere itself: a `Router` maps each host to a loopback port of the
lab origin, and everything else gets Squid's ``ERR_DNS_FAIL``, so no lab traffic can leave the machine.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import ipaddress
import ssl
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aadc_doctor.knowledge.endpoints import host_matches
from aadc_doctor.lab.ca import CertificateStore
from aadc_doctor.lab.connections import ConnectionTasks
from aadc_doctor.lab.httpwire import (
    MAX_BODY,
    MAX_HEAD,
    ProtocolError,
    RequestHead,
    http_date,
    read_body,
    read_request_head,
    read_response_head,
    render_response,
)
from aadc_doctor.net.http import has_body
from aadc_doctor.net.http import read_body as read_answer_body

LOOPBACK = "127.0.0.1"
SQUID_VERSION = "squid/5.7"
IDLE_TIMEOUT = 30.0
UPSTREAM_TIMEOUT = 10.0
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
                        "te", "trailer", "transfer-encoding", "upgrade", "content-length"})

# (host, port) -> (loopback address, port) of the server that answers for it, or None if the name is unknown.
Router = Callable[[str, int], "tuple[str, int] | None"]


@dataclass(frozen=True)
class ProxyPolicy:
    """The proxy's configuration, in Squid's terms: which hosts are denied, who must authenticate, bumping."""

    deny: tuple[str, ...] = ()  # host patterns (``*.example.com`` or exact) answered 403 ERR_ACCESS_DENIED
    basic_user: str | None = None
    basic_password: str | None = field(default=None, repr=False)
    realm: str = "Fabrikam proxy"
    inspect_tls: bool = False  # terminate TLS with a certificate from the inspecting CA (ssl-bump)
    ports: tuple[int, ...] = (80, 443)  # SSL_ports / Safe_ports: other CONNECT ports are denied
    hostname: str = "fabrikamproxy"  # visible_hostname, shown on error pages and in Via

    @property
    def requires_auth(self) -> bool:
        return self.basic_user is not None

    def denies(self, host: str) -> bool:
        return any(host_matches(pattern, host) for pattern in self.deny)


@dataclass(frozen=True)
class ErrorPage:
    """One of Squid's error templates (``data/squid_errors.toml``)."""

    name: str
    status: int
    tag: str
    reason: str
    text: str


def _load_error_pages() -> tuple[dict[str, ErrorPage], str]:
    raw = resources.files("aadc_doctor.lab").joinpath("data", "squid_errors.toml").read_text("utf-8")
    data: dict[str, Any] = tomllib.loads(raw)
    pages = {name: ErrorPage(name, int(row["status"]), row["tag"], row["reason"], row["text"])
             for name, row in data.items() if isinstance(row, dict) and "status" in row}
    return pages, str(data["page"]["template"])


@dataclass(frozen=True)
class AccessRecord:
    """One access.log line's fields (Squid native format)."""

    timestamp: float
    elapsed_ms: int
    client: str
    code: str  # e.g. TCP_TUNNEL, TCP_DENIED, TCP_MISS
    status: int
    size: int
    method: str
    url: str
    user: str | None
    hierarchy: str  # HIER_DIRECT or HIER_NONE
    peer: str | None
    content_type: str | None

    def squid_line(self) -> str:
        return (f"{self.timestamp:.3f} {self.elapsed_ms:6d} {self.client} {self.code}/{self.status:03d} {self.size} "
                f"{self.method} {self.url} {self.user or '-'} {self.hierarchy}/{self.peer or '-'} "
                f"{self.content_type or '-'}")


class AccessLog:
    """Squid's native access.log: one line per request, appended as it completes (several proxies may share it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[AccessRecord] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def write(self, record: AccessRecord) -> None:
        self.records.append(record)
        with self.path.open("a", encoding="utf-8", newline="\n") as fh:
            fh.write(record.squid_line() + "\n")


class _Exchange:
    """Bookkeeping for one request: when it started, who sent it, what to log."""

    def __init__(self, client: str, head: RequestHead) -> None:
        self.started = time.time()
        self.client = client
        self.head = head
        self.user: str | None = None
        self.sent = 0


class LabProxy:
    """A forward proxy on 127.0.0.1 applying a `ProxyPolicy`; start() then `url`, close() when done."""

    def __init__(self, policy: ProxyPolicy, router: Router, access_log: AccessLog, *,
                 inspection_certs: CertificateStore | None = None,
                 origin_trust: ssl.SSLContext | None = None) -> None:
        if policy.inspect_tls and (inspection_certs is None or origin_trust is None):
            raise ValueError("an inspecting proxy needs the inspecting CA's store and a trust context for the origin")
        self.policy = policy
        self._router = router
        self.access_log = access_log
        self._inspection_certs = inspection_certs
        self._origin_trust = origin_trust
        self._pages, self._template = _load_error_pages()
        self._server: asyncio.base_events.Server | None = None
        self._connections = ConnectionTasks()
        self.port = 0

    @property
    def url(self) -> str:
        """The proxy URL a client uses (``http://127.0.0.1:PORT``), without credentials."""
        return f"http://{LOOPBACK}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0, limit=MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._connections.cancel_all()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    # -- one client connection ---------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if peer else "-"
        async with self._connections.serving(writer, (TimeoutError, ConnectionError, ProtocolError, ssl.SSLError,
                                                      OSError)):
            while True:
                try:
                    head = await asyncio.wait_for(read_request_head(reader), IDLE_TIMEOUT)
                except ProtocolError:
                    writer.write(self._error_page("ERR_INVALID_REQ", "", "")[1])
                    await writer.drain()
                    break
                if head is None:
                    break
                if not await self._handle(reader, writer, _Exchange(client, head)):
                    break

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ex: _Exchange) -> bool:
        """Answer one request; True to keep reading requests on this connection."""
        head = ex.head
        target = _parse_target(head)
        if target is None:
            await self._deny(writer, ex, "ERR_INVALID_REQ", head.target, "")
            return False
        scheme, host, port, path = target
        url = f"{host}:{port}" if scheme == "connect" else head.target
        body = b"" if scheme == "connect" else await read_body(reader, head)

        if port not in self.policy.ports:
            return await self._deny(writer, ex, "ERR_ACCESS_DENIED", url, host)
        if self.policy.requires_auth:
            ex.user = self._authenticated_user(head)
            if ex.user is None:
                return await self._deny(writer, ex, "ERR_CACHE_ACCESS_DENIED", url, host)
        if self.policy.denies(host):
            return await self._deny(writer, ex, "ERR_ACCESS_DENIED", url, host)
        upstream = self._router(host, port)
        if upstream is None:
            return await self._deny(writer, ex, "ERR_DNS_FAIL", url, host)
        if not ipaddress.ip_address(upstream[0]).is_loopback:
            raise RuntimeError(f"lab router sent {host}:{port} to {upstream[0]}, which is not a loopback address")
        if scheme == "connect":
            await self._tunnel(reader, writer, ex, host, port, upstream, url)
            return False
        return await self._forward(writer, ex, host, upstream, path, body)

    def _authenticated_user(self, head: RequestHead) -> str | None:
        value = head.get("Proxy-Authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep:
            return None
        wanted_user = self.policy.basic_user or ""
        wanted_password = self.policy.basic_password or ""
        user_ok = hmac.compare_digest(user.encode(), wanted_user.encode())
        password_ok = hmac.compare_digest(password.encode(), wanted_password.encode())
        return user if user_ok and password_ok else None

    # -- answers -------------------------------------------------------------------------------------------

    def _error_page(self, name: str, url: str, host: str) -> tuple[ErrorPage, bytes]:
        page = self._pages[name]
        html = (self._template.replace("%R", page.reason).replace("%X", page.text).replace("%U", url)
                .replace("%H", host).replace("%T", http_date()).replace("%h", self.policy.hostname)
                .replace("%s", SQUID_VERSION).replace("%c", name))
        headers = [("Server", SQUID_VERSION), ("Mime-Version", "1.0"), ("Content-Type", "text/html;charset=utf-8"),
                   ("X-Squid-Error", page.tag), ("Vary", "Accept-Language"), ("Content-Language", "en")]
        if page.status == 407:
            headers.append(("Proxy-Authenticate", f'Basic realm="{self.policy.realm}"'))
        headers += [("X-Cache", f"MISS from {self.policy.hostname}"),
                    ("Via", f"1.1 {self.policy.hostname} ({SQUID_VERSION})")]
        return page, render_response(page.status, headers, html.encode("utf-8"))

    async def _deny(self, writer: asyncio.StreamWriter, ex: _Exchange, name: str, url: str, host: str) -> bool:
        page, response = self._error_page(name, url, host)
        code = "TCP_DENIED" if page.status in (403, 407) else ("NONE_NONE" if ex.head.method == "CONNECT"
                                                               else "TCP_MISS")
        # logged before the answer goes out, so a client that reads the log right after its answer finds it
        self._log(ex, code, page.status, len(response), url, "HIER_NONE", None, "text/html")
        writer.write(response)
        await writer.drain()
        return page.status != 400

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ex: _Exchange,
                      host: str, port: int, upstream: tuple[str, int], url: str) -> None:
        inspect = self.policy.inspect_tls and port == 443
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(
                upstream[0], upstream[1], limit=MAX_HEAD,
                ssl=self._origin_trust if inspect else None, server_hostname=host if inspect else None),
                UPSTREAM_TIMEOUT)
        except (OSError, TimeoutError, ssl.SSLError):
            await self._deny(writer, ex, "ERR_CONNECT_FAIL", url, host)
            return
        try:
            established = b"HTTP/1.1 200 Connection established\r\n\r\n"
            writer.write(established)
            await writer.drain()
            ex.sent += len(established)
            if inspect:
                assert self._inspection_certs is not None
                # Re-sign: the client now talks TLS to us, with a certificate our own CA issued for `host`.
                await writer.start_tls(self._inspection_certs.context_for(host), ssl_handshake_timeout=10.0)
            await _relay(reader, writer, up_reader, up_writer, ex)
        except (ConnectionError, ssl.SSLError, OSError, TimeoutError):
            pass
        finally:
            up_writer.close()
            self._log(ex, "TCP_TUNNEL", 200, ex.sent, url, "HIER_DIRECT", upstream[0], None)

    async def _forward(self, writer: asyncio.StreamWriter, ex: _Exchange, host: str, upstream: tuple[str, int],
                       path: str, body: bytes) -> bool:
        head = ex.head
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(upstream[0], upstream[1], limit=MAX_HEAD), UPSTREAM_TIMEOUT)
        except (OSError, TimeoutError):
            return await self._deny(writer, ex, "ERR_CONNECT_FAIL", head.target, host)
        try:
            lines = [f"{head.method} {path} HTTP/1.1"]
            lines += [f"{k}: {v}" for k, v in head.headers if k.lower() not in HOP_BY_HOP]
            lines += [f"Via: 1.1 {self.policy.hostname} ({SQUID_VERSION})", "Connection: close"]
            if body:
                lines.append(f"Content-Length: {len(body)}")
            up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + body)
            await up_writer.drain()
            response = await asyncio.wait_for(read_response_head(up_reader), UPSTREAM_TIMEOUT)
            no_body = not has_body(response, head.method)
            payload = await asyncio.wait_for(read_answer_body(up_reader, response, head.method, MAX_BODY),
                                             UPSTREAM_TIMEOUT)
        except (OSError, TimeoutError, ProtocolError):
            return await self._deny(writer, ex, "ERR_CONNECT_FAIL", head.target, host)
        finally:
            up_writer.close()
        headers = [(k, v) for k, v in response.headers if k.lower() not in HOP_BY_HOP and k.lower() != "date"]
        headers += [("X-Cache", f"MISS from {self.policy.hostname}"),
                    ("Via", f"1.1 {self.policy.hostname} ({SQUID_VERSION})")]
        answer = render_response(response.status, headers, payload, keep_alive=head.keep_alive,
                                 reason=response.reason, head_only=no_body)
        self._log(ex, "TCP_MISS", response.status, len(answer), head.target, "HIER_DIRECT", upstream[0],
                  response.get("Content-Type"))
        writer.write(answer)
        await writer.drain()
        return head.keep_alive

    def _log(self, ex: _Exchange, code: str, status: int, size: int, url: str, hierarchy: str, peer: str | None,
             content_type: str | None) -> None:
        elapsed = int((time.time() - ex.started) * 1000)
        ctype = content_type.split(";")[0].strip() if content_type else None
        self.access_log.write(AccessRecord(ex.started, elapsed, ex.client, code, status, size, ex.head.method, url,
                                           ex.user, hierarchy, peer, ctype))


def _parse_target(head: RequestHead) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, origin-form path) of a proxy request; None if the proxy cannot serve it."""
    if head.method == "CONNECT":
        host, sep, port_text = head.target.rpartition(":")
        host = host.removeprefix("[").removesuffix("]").lower()
        if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            return None
        return "connect", host, int(port_text), ""
    parts = urlsplit(head.target)
    if parts.scheme.lower() != "http" or not parts.hostname:
        return None
    try:
        port = parts.port or 80
    except ValueError:
        return None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return "http", parts.hostname.lower(), port, path


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, ex: _Exchange | None) -> None:
    """Copy until EOF, then pass the EOF on (half-close where the transport allows it, else close)."""
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
            if ex is not None:
                ex.sent += len(data)
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        try:
            if dst.can_write_eof():
                dst.write_eof()
            else:
                dst.close()
        except (OSError, RuntimeError):
            dst.close()


async def _relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter,
                 up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter, ex: _Exchange) -> None:
    await asyncio.gather(_pipe(client_reader, up_writer, None), _pipe(up_reader, client_writer, ex))
