"""The lab origin: impersonates the Microsoft endpoints on 127.0.0.1.

One HTTPS port answers for every host the catalog probes (the certificate is chosen from SNI and issued by the
lab CA), one plain-HTTP port answers the port-80 endpoints: real DER CRLs signed by the lab CA on CRL paths, an
OCSP answer on the OCSP hosts. What each service answers is data (``data/origin_answers.toml``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tomllib
import uuid
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any

from aadc_doctor.knowledge.endpoints import host_matches, load_catalog
from aadc_doctor.lab.ca import OCSP_MALFORMED_REQUEST, OCSP_UNAUTHORIZED, LabPki, impersonated, server_context
from aadc_doctor.lab.connections import ConnectionTasks
from aadc_doctor.lab.httpwire import (
    MAX_HEAD,
    ProtocolError,
    RequestHead,
    read_body,
    read_request_head,
    render_response,
)
from aadc_doctor.model import utc_now

LOOPBACK = "127.0.0.1"
IDLE_TIMEOUT = 30.0
SERVER_HEADER = "Microsoft-IIS/10.0"


@dataclass(frozen=True)
class Answer:
    """One canned answer of a service: which requests it matches and what it sends back."""

    host: str
    path: str
    status: int
    content_type: str
    body: str
    methods: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def matches(self, host: str, method: str, path: str) -> bool:
        return (host_matches(self.host, host) and path.lower().startswith(self.path.lower())
                and (not self.methods or method in self.methods))


@dataclass(frozen=True)
class SeenRequest:
    """A request the origin answered (tests assert on what really arrived)."""

    scheme: str
    host: str
    method: str
    path: str
    sni: str | None
    status: int


def load_answers() -> tuple[Answer, ...]:
    """The answer table from ``data/origin_answers.toml``."""
    text = resources.files("aadc_doctor.lab").joinpath("data", "origin_answers.toml").read_text("utf-8")
    data: dict[str, Any] = tomllib.loads(text)
    return tuple(
        Answer(host=row["host"], path=row["path"], status=int(row["status"]), content_type=row["content_type"],
               body=row["body"], methods=tuple(m.upper() for m in row.get("methods", ())),
               headers=tuple((k, str(v)) for k, v in row.get("headers", {}).items()))
        for row in data["answer"])


def _ocsp_patterns() -> tuple[str, ...]:
    return tuple(rule.pattern for rule in load_catalog().rules if rule.kind == "ocsp")


class LabOrigin:
    """HTTPS and HTTP servers on loopback that answer like the endpoints the catalog names."""

    def __init__(self, pki: LabPki, answers: tuple[Answer, ...] | None = None) -> None:
        self._pki = pki
        self._answers = answers if answers is not None else load_answers()
        self._ocsp = _ocsp_patterns()
        self._crl = pki.crl()
        self._servers: list[asyncio.base_events.Server] = []
        self._connections = ConnectionTasks()
        self.https_port = 0
        self.http_port = 0
        self.requests: list[SeenRequest] = []

    async def start(self) -> None:
        tls = server_context()
        # A certificate for a name nobody asks for: a client that sends no SNI (or an unknown name) fails to verify.
        self._pki.issuing.issue_cert("lab-origin.invalid").configure_cert(tls)
        tls.sni_callback = self._pick_certificate
        https = await asyncio.start_server(self._serve_https, LOOPBACK, 0, ssl=tls, limit=MAX_HEAD,
                                           ssl_handshake_timeout=10.0)
        http = await asyncio.start_server(self._serve_http, LOOPBACK, 0, limit=MAX_HEAD)
        self._servers = [https, http]
        self.https_port = https.sockets[0].getsockname()[1]
        self.http_port = http.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        await self._connections.cancel_all()
        for server in self._servers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        self._servers = []

    def _pick_certificate(self, sslobj: ssl.SSLObject | ssl.SSLSocket, name: str | None,
                          _ctx: ssl.SSLContext) -> None:
        if name and impersonated(name):
            sslobj.context = self._pki.origin_certs.context_for(name)
        return None

    async def _serve_https(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        sni = self._pki.origin_certs.name_of(ssl_object.context) if ssl_object is not None else None
        await self._serve(reader, writer, "https", sni)

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, "http", None)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, scheme: str,
                     sni: str | None) -> None:
        async with self._connections.serving(writer, (ProtocolError, TimeoutError, ConnectionError, ssl.SSLError)):
            while True:
                head = await asyncio.wait_for(read_request_head(reader), IDLE_TIMEOUT)
                if head is None:
                    break
                body = await asyncio.wait_for(read_body(reader, head), IDLE_TIMEOUT)
                response = self._respond(head, body, scheme, sni)
                writer.write(response)
                await writer.drain()
                if not head.keep_alive:
                    break

    def _respond(self, head: RequestHead, body: bytes, scheme: str, sni: str | None) -> bytes:
        del body  # the lab's answers do not depend on the request body
        host = (head.get("Host") or sni or "").split(":")[0].lower()
        path = head.target.split("?", 1)[0]
        status, content_type, payload, extra = self._answer(scheme, host, head.method, path)
        self.requests.append(SeenRequest(scheme, host, head.method, head.target, sni, status))
        headers = [("Content-Type", content_type), ("Server", SERVER_HEADER), *extra]
        return render_response(status, headers, payload, keep_alive=head.keep_alive, head_only=head.method == "HEAD")

    def _answer(self, scheme: str, host: str, method: str, path: str) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        if scheme == "http" and any(host_matches(p, host) for p in self._ocsp):
            # a real responder: 'unauthorized' for a request about a certificate it does not serve, 'malformed'
            # for a GET without a request in its path
            ocsp = OCSP_UNAUTHORIZED if method == "POST" else OCSP_MALFORMED_REQUEST
            return 200, "application/ocsp-response", ocsp, []
        if scheme == "http" and path.lower().endswith(".crl"):
            return 200, "application/pkix-crl", self._crl, [("Cache-Control", "max-age=3600")]
        values = {"host": host, "url": f"{scheme}://{host}{path}", "request_id": str(uuid.uuid4()),
                  "timestamp": utc_now().replace("Z", "") + "Z"}
        for answer in self._answers:
            if answer.matches(host, method, path):
                extra = [(k, Template(v).safe_substitute(values)) for k, v in answer.headers]
                payload = Template(answer.body).safe_substitute(values).encode("utf-8")
                return answer.status, answer.content_type, payload, extra
        if path == "/":
            page = f"<!DOCTYPE html><html><head><title>{host}</title></head><body></body></html>\n"
            return 200, "text/html; charset=utf-8", page.encode("utf-8"), []
        return 404, "text/html; charset=utf-8", b"<html><body><h1>404 - Not Found</h1></body></html>\n", []
