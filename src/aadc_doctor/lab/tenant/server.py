"""A local TLS server that answers as login.microsoftonline.com and graph.microsoft.com do.

One port serves every host name (the Host header picks the service), with a certificate from a
throw-away CA that names the real hosts. Clients reach it with the same options as a real run:
``--connect-to login.microsoftonline.com:443:127.0.0.1:PORT`` (or through a proxy that maps the names
to 127.0.0.1) and ``--ca-file`` for the lab CA, so the code under test is the production code path.

The device-code flow needs a person at a browser; here "the person" signs in as ``device_login_as``
or, by default, as the UPN last looked up at the user realm endpoint (what an admin running
``aadc-doctor account UPN`` then does at microsoft.com/devicelogin).
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from aadc_doctor.lab.tenant import responses as R
from aadc_doctor.lab.tenant.directory import CONSUMER_TENANT, Directory, LabTenant, LabUser, default_directory

LOGIN_HOSTS = ("login.microsoftonline.com", "login.windows.net", "login.microsoftonline.us", "login.chinacloudapi.cn")
GRAPH_HOSTS = ("graph.microsoft.com", "graph.microsoft.us", "microsoftgraph.chinacloudapi.cn")
ALL_HOSTS = LOGIN_HOSTS + GRAPH_HOSTS
ELIGIBLE_ROUTE = "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# How often serve_forever looks for shutdown(): the default 0.5 s made every emulator stop cost half a second.
SHUTDOWN_POLL_S = 0.02


@dataclass
class _DeviceCode:
    user_code: str
    tenant_segment: str
    client_id: str
    scope: str
    polls: int = 0


@dataclass
class EmulatorState:
    """Mutable state shared by the request threads (guarded by ``lock``)."""

    directory: Directory
    token_prefix: str
    pending_polls: int
    device_login_as: str | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, tuple[LabUser, LabTenant]] = field(default_factory=dict)
    device_codes: dict[str, _DeviceCode] = field(default_factory=dict)
    last_realm_upn: str | None = None
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, host, path)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aadc-doctor-lab-tenant"
    state: EmulatorState  # set on the subclass made per emulator

    def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002 (BaseHTTPRequestHandler's signature)
        return None

    # ---- plumbing --------------------------------------------------------------------------------

    def _host(self) -> str:
        return (self.headers.get("Host") or "").split(":")[0].lower()

    def _send(self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store, no-cache")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        return {k: v[0] for k, v in parse_qs(raw).items()}

    def _record(self) -> tuple[str, str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        with self.state.lock:
            self.state.requests.append((self.command, self._host(), parts.path))
        return unquote(parts.path), self._host(), parse_qs(parts.query)

    def do_GET(self) -> None:
        path, host, query = self._record()
        if host in GRAPH_HOSTS:
            self._graph(path)
        elif host in LOGIN_HOSTS:
            self._login_get(path, query)
        else:
            self._send(421, {"error": "misdirected_request", "error_description": f"no lab service for {host}"})

    def do_POST(self) -> None:
        path, host, _ = self._record()
        if host not in LOGIN_HOSTS:
            self._send(405, R.graph_error(405, "Request_BadRequest", "Method not allowed."))
            return
        form = self._form()
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[1:3] == ["oauth2", "v2.0"] and parts[3] == "devicecode":
            self._device_code(parts[0], form)
        elif len(parts) == 4 and parts[1:3] == ["oauth2", "v2.0"] and parts[3] == "token":
            self._token(parts[0], form)
        else:
            self._send(404, {"error": "not_found", "error_description": f"no such endpoint: {path}"})

    # ---- login.microsoftonline.com ---------------------------------------------------------------

    def _tenant_for_segment(self, segment: str) -> LabTenant | None:
        return self.state.directory.tenant_by_id_or_domain(segment)

    def _login_get(self, path: str, query: dict[str, list[str]]) -> None:
        parts = path.strip("/").split("/")
        directory = self.state.directory
        if len(parts) == 3 and parts[0] == "common" and parts[1] == "userrealm":
            upn = parts[2]
            domain = upn.rpartition("@")[2].lower()
            with self.state.lock:
                self.state.last_realm_upn = upn.lower()
            tenant = directory.tenant_of_domain(domain)
            federated = directory.federated.get(domain) if tenant else None
            version = (query.get("api-version") or ["1.0"])[0]
            build = R.user_realm_v2 if version == "2.1" else R.user_realm_v1
            body = build(upn, tenant, federated)
            self._send(200, body)
            return
        if len(parts) >= 3 and parts[-2:] == [".well-known", "openid-configuration"]:
            segment = parts[0]
            if segment in ("organizations", "common"):
                self._send(200, R.openid_configuration(None, segment))
                return
            tenant = self._tenant_for_segment(segment)
            if tenant is None:
                self._send(400, R.aadsts_error(90002, tenant=segment))
                return
            self._send(200, R.openid_configuration(tenant, segment))
            return
        self._send(404, {"error": "not_found", "error_description": f"no such endpoint: {path}"})

    def _device_code(self, segment: str, form: dict[str, str]) -> None:
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        device_code = secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.device_codes[device_code] = _DeviceCode(user_code, segment, form.get("client_id", ""),
                                                               form.get("scope", ""))
            signs_in = self.state.device_login_as or self.state.last_realm_upn or "the last user looked up"
        # Microsoft's text, then what the lab does instead: nobody watching the demo is asked to open a browser.
        self._send(200, {
            "user_code": user_code, "device_code": device_code,
            "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 1,
            "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and "
                       f"enter the code {user_code} to authenticate. [aadc-doctor lab: nothing to do, the tenant "
                       f"emulator completes this sign-in by itself as {signs_in}]",
        })

    def _issue(self, user: LabUser, client_id: str, scope: str) -> None:
        tenant = self.state.directory.tenants[user.tenant]
        access = f"{self.state.token_prefix}{secrets.token_urlsafe(32)}"
        refresh = f"{self.state.token_prefix}rt-{secrets.token_urlsafe(32)}"
        with self.state.lock:
            self.state.tokens[access] = (user, tenant)
        self._send(200, R.token_answer(user, tenant, client_id, scope, access, refresh))

    def _error(self, code: int, **values: str) -> None:
        self._send(400, R.aadsts_error(code, **values))

    def _check_account(self, user: LabUser | None, upn: str, segment: str) -> bool:
        """False (and the error answered) when the account itself cannot sign in."""
        if user is None:
            self._error(50034, upn=upn, tenant=segment)
            return False
        tenant = self.state.directory.tenants[user.tenant]
        if segment not in ("organizations", "common") and self._tenant_for_segment(segment) != tenant:
            self._error(50034, upn=upn, tenant=segment)
            return False
        if tenant.id == CONSUMER_TENANT and segment in ("organizations", tenant.id) and user.sign_in_error is None:
            self._error(50059)
            return False
        return True

    def _token(self, segment: str, form: dict[str, str]) -> None:
        grant = form.get("grant_type", "")
        if segment != "organizations" and segment != "common" and self._tenant_for_segment(segment) is None:
            self._error(90002, tenant=segment)
            return
        if grant == "password":
            upn = form.get("username", "").lower()
            user = self.state.directory.users.get(upn)
            if not self._check_account(user, upn, segment):
                return
            assert user is not None
            if form.get("password") != user.password:
                self._error(50126)
            elif user.sign_in_error is not None:
                self._error(user.sign_in_error, upn=upn, tenant=segment)
            elif user.mfa:
                self._error(50076)
            else:
                self._issue(user, form.get("client_id", ""), form.get("scope", ""))
            return
        if grant == DEVICE_GRANT:
            self._device_poll(segment, form)
            return
        self._send(400, {"error": "unsupported_grant_type",
                         "error_description": f"AADSTS70003: The app requested an unsupported grant type '{grant}'."})

    def _device_poll(self, segment: str, form: dict[str, str]) -> None:
        with self.state.lock:
            pending = self.state.device_codes.get(form.get("device_code", ""))
            if pending is not None:
                pending.polls += 1
            upn = (self.state.device_login_as or self.state.last_realm_upn or "").lower()
        if pending is None:
            self._send(400, {"error": "bad_verification_code", "error_codes": [70000], "error_description":
                             "AADSTS70000: The provided value for the 'device_code' is not valid."})
            return
        if pending.polls <= self.state.pending_polls:
            self._error(70016)
            return
        user = self.state.directory.users.get(upn)
        if user is not None and user.device_outcome == "declined":
            self._error(70000)
        elif user is not None and user.device_outcome == "expired":
            self._error(70019)
        elif not self._check_account(user, upn, segment):
            return
        elif user is not None and user.sign_in_error is not None:
            self._error(user.sign_in_error, upn=upn, tenant=segment)
        elif user is not None:
            self._issue(user, form.get("client_id", ""), pending.scope)

    # ---- graph.microsoft.com ---------------------------------------------------------------------

    def _graph(self, path: str) -> None:
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self.state.lock:
            owner = self.state.tokens.get(token)
        if owner is None:
            self._graph_error(401)
            return
        user, tenant = owner
        for prefix, status in user.graph_failures:
            if path.startswith(prefix):
                self._graph_error(status)
                return
        route = path.rstrip("/")
        if route == "/v1.0/me":
            self._send(200, R.me(user))
        elif route == "/v1.0/me/memberOf/microsoft.graph.directoryRole":
            self._send(200, {"value": [R.directory_role(r) for r in user.roles]})
        elif route == "/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole":
            self._send(200, {"value": [R.directory_role(r) for r in user.roles + user.group_roles]})
        elif route == ELIGIBLE_ROUTE:
            self._send(200, {"value": [R.eligibility_instance(user, r) for r in user.eligible_roles]})
        elif route == "/v1.0/organization":
            self._send(200, R.organization(tenant))
        elif route == "/v1.0/domains":
            self._send(200, R.domains(tenant))
        elif route == "/beta/onPremisesPublishingProfiles/authentication/agents":
            self._send(200, R.agents(tenant))
        else:
            self._graph_error(404)

    def _graph_error(self, status: int) -> None:
        code, message = R.GRAPH_ERRORS[status]
        self._send(status, R.graph_error(status, code, message))


class _TlsServer(ThreadingHTTPServer):
    """TLS handshakes happen in the request threads, so one stalled client never blocks accept()."""

    daemon_threads = True
    context: ssl.SSLContext

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        sock.settimeout(30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go out as two writes
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002 (the server's signature)
        return None  # a client that hangs up or rejects our certificate is not the lab's problem


class TenantEmulator:
    """A running emulator: its port, its CA file, and the command-line options that reach it."""

    def __init__(self, server: ThreadingHTTPServer, state: EmulatorState, ca_file: Path) -> None:
        self._server = server
        self.state = state
        self.ca_file = ca_file
        self.host: str = str(server.server_address[0])
        self.port: int = int(server.server_address[1])

    @property
    def requests(self) -> list[tuple[str, str, str]]:
        with self.state.lock:
            return list(self.state.requests)

    def connect_to_args(self, hosts: tuple[str, ...] = ALL_HOSTS, *, keep_names: bool = False) -> list[str]:
        """``--connect-to`` options: straight to 127.0.0.1, or (keep_names) by name for a proxy to resolve."""
        args: list[str] = []
        for host in hosts:
            target = host if keep_names else str(self.host)
            args += ["--connect-to", f"{host}:443:{target}:{self.port}"]
        return args

    def cli_args(self, *, keep_names: bool = False) -> list[str]:
        return [*self.connect_to_args(keep_names=keep_names), "--ca-file", str(self.ca_file)]


def _certificate(workdir: Path) -> tuple[Path, Path]:
    import trustme

    ca = trustme.CA(organization_name="aadc-doctor lab tenant CA")
    cert = ca.issue_cert(*ALL_HOSTS)
    ca_file, chain = workdir / "lab-tenant-ca.pem", workdir / "lab-tenant-server.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    return ca_file, chain


@contextmanager
def start_tenant_emulator(directory: Directory | None = None, *, host: str = "127.0.0.1", port: int = 0,
                          token_prefix: str = "lab-at-", pending_polls: int = 0, device_login_as: str | None = None,
                          workdir: Path | None = None) -> Iterator[TenantEmulator]:
    """Run the emulator in a thread for the duration of the ``with`` block."""
    with tempfile.TemporaryDirectory(prefix="aadc-doctor-tenant-") as tmp:
        base = workdir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        ca_file, chain = _certificate(base)
        state = EmulatorState(directory=directory or default_directory(), token_prefix=token_prefix,
                              pending_polls=pending_polls, device_login_as=device_login_as)
        handler = type("LabTenantHandler", (_Handler,), {"state": state})
        server = _TlsServer((host, port), handler)
        server.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.context.load_cert_chain(str(chain))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S},
                                  name="lab-tenant", daemon=True)
        thread.start()
        try:
            yield TenantEmulator(server, state, ca_file)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
