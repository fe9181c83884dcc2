"""REST over the same proxy, name overrides and trust store as ``check``, for ``account`` and MSAL.

``check`` probes layer by layer with raw sockets; the account checks need whole HTTP exchanges
(user realm, OpenID configuration, token endpoint, Microsoft Graph), so they use a
``requests.Session`` built here. Three things make that session ours rather than a plain one:

- ``--resolve HOST:PORT:ADDRESS`` and ``--connect-to HOST:PORT:HOST2:PORT2`` (curl semantics):
  the TCP connection goes elsewhere while the host name stays in SNI, certificate verification
  and the Host header. Through a proxy the origin is resolved by the proxy, so ``--resolve``
  then only applies to the proxy's own name, while ``--connect-to`` changes the CONNECT target.
- trust: the system store plus ``--ca-file`` (extra roots, e.g. a TLS-inspecting proxy's CA);
- failures become :class:`HttpFailure` with a stable outcome code and a scrubbed message, so no
  proxy password or token can ride out in an exception text.

The proxy is chosen per URL by a callable (``ProxyConfig.proxy_for``), so PAC files and
NO_PROXY apply to every request, including the ones MSAL makes.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from aadc_doctor.errors import UsageError
from aadc_doctor.net.deadline import RequestDeadline, deadline_connection
from aadc_doctor.net.outcome import Outcome
from aadc_doctor.net.trust_context import system_trust_context
from aadc_doctor.secrets import scrub, url_without_password

ProxyChooser = Callable[[str], "str | None"]
_IN_CONNECT = "aadc-doctor: raised while the proxy was asked to CONNECT"


@dataclass(frozen=True)
class Redirect:
    """Where a connection to ``host:port`` really goes (``--resolve`` keeps the port)."""

    host: str
    port: int
    target_host: str
    target_port: int


def _split_host_port(spec: str, text: str) -> tuple[str, str]:
    """``HOST:REST`` with HOST possibly a bracketed IPv6 literal."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise UsageError(f"malformed address in {spec!r}", hint="write IPv6 addresses in brackets: [::1]")
        return text[1:end], text[end + 2 :]
    host, sep, rest = text.partition(":")
    if not sep:
        raise UsageError(f"malformed {spec!r}")
    return host, rest


def _port(spec: str, value: str) -> int:
    # ASCII digits only: "4²3" passes str.isdigit() but not int(), and 5,000 digits exceed int()'s limit
    if not (value.isascii() and value.isdigit() and len(value) <= 5) or not 0 < int(value) < 65536:
        raise UsageError(f"{spec!r}: {value!r} is not a port number")
    return int(value)


def parse_resolve(spec: str) -> Redirect:
    """``HOST:PORT:ADDRESS`` as curl's ``--resolve``: connect to ADDRESS, keep the name.

    The same parser as `check`'s (net.resolve), so one option accepts the same text in both commands; of a
    comma list of addresses the first is used.
    """
    from aadc_doctor.net.resolve import parse_resolve_option

    try:
        override = parse_resolve_option(spec)
    except ValueError as exc:
        raise UsageError(str(exc), hint="e.g. login.microsoftonline.com:443:127.0.0.1") from None
    return Redirect(override.host, override.port, override.addresses[0], override.port)


def parse_connect_to(spec: str) -> Redirect:
    """``HOST:PORT:HOST2:PORT2`` as curl's ``--connect-to``: connect to HOST2:PORT2, keep the name."""
    host, rest = _split_host_port(spec, spec)
    port_text, sep, target = rest.partition(":")
    if not (host and sep and target):
        raise UsageError(f"--connect-to {spec!r}: expected HOST:PORT:HOST2:PORT2",
                         hint="e.g. login.microsoftonline.com:443:127.0.0.1:8443")
    port = _port(spec, port_text)
    target_host, target_port_text = _split_host_port(spec, target)
    return Redirect(host.lower(), port, target_host or host, _port(spec, target_port_text))


@dataclass(frozen=True)
class HttpSettings:
    """Everything that decides how a request leaves this machine."""

    proxy_for: ProxyChooser = field(default=lambda _url: None)
    resolve: tuple[Redirect, ...] = ()
    connect_to: tuple[Redirect, ...] = ()
    ca_file: str | None = None
    timeout: float = 10.0


class HttpFailure(Exception):
    """A request that got no HTTP answer, named with the outcome codes of DESIGN.md (the probes' `Outcome`)."""

    def __init__(self, outcome: Outcome, message: str, url: str) -> None:
        self.outcome = outcome
        self.message = scrub(message)
        self.url = url
        super().__init__(f"{outcome}: {self.message}")


class ProxyRefusedConnect(OSError):
    """The proxy answered CONNECT with a status other than 200: the status as data, for classify_failure."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"Tunnel connection failed: {status} {reason}".rstrip())

    @classmethod
    def from_tunnel_error(cls, exc: OSError) -> ProxyRefusedConnect | None:
        """http.client's _tunnel reports the status only in its message: read it here, once, where it is raised."""
        match = _TUNNEL_STATUS.fullmatch(str(exc))
        return cls(int(match["status"]), match["reason"]) if match and type(exc) is OSError else None


_TUNNEL_STATUS = re.compile(r"Tunnel connection failed: (?P<status>\d{3}) ?(?P<reason>.*)", re.DOTALL)


@dataclass(frozen=True)
class Exchange:
    """One request as it went out: enough to explain a result, never a header or a body."""

    method: str
    url: str
    status: int | None
    via_proxy: str | None
    outcome: str
    elapsed_ms: int


def _trust_context(ca_file: str | None) -> ssl.SSLContext:
    """System roots plus the extra file: a lab CA or the inspecting proxy's root adds, never replaces."""
    try:
        return system_trust_context(*([ca_file] if ca_file else []))
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--ca-file {ca_file}: cannot load certificates: {exc}") from None


def _connection_class(base: type[Any], by_address: Mapping[tuple[str, int], Redirect],
                      by_target: Mapping[tuple[str, int], Redirect]) -> type[Any]:
    """A urllib3 connection that dials the overridden address but keeps the name everywhere else."""

    class RedirectingConnection(base):  # type: ignore[misc]
        def _new_conn(self) -> socket.socket:
            conn: Any = self
            redirect = by_address.get((str(conn._dns_host).rstrip(".").lower(), int(conn.port)))
            if redirect is None:
                return cast(socket.socket, super()._new_conn())
            saved_host, saved_port = conn._dns_host, conn.port
            conn._dns_host, conn.port = redirect.target_host, redirect.target_port
            try:
                return cast(socket.socket, super()._new_conn())
            finally:
                conn._dns_host, conn.port = saved_host, saved_port

        def _tunnel(self) -> None:
            try:
                self._tunnel_redirected()
            except OSError as exc:  # a time-out or a dropped connection here is the proxy's, not the endpoint's
                refused = ProxyRefusedConnect.from_tunnel_error(exc)
                if refused is not None:
                    refused.add_note(_IN_CONNECT)
                    raise refused from exc
                exc.add_note(_IN_CONNECT)
                raise

        def _tunnel_redirected(self) -> None:
            conn: Any = self
            host, port = conn._tunnel_host, conn._tunnel_port
            redirect = by_target.get((str(host or "").lower(), int(port or 443)))
            if redirect is None:
                super()._tunnel()
                return
            conn._tunnel_host, conn._tunnel_port = redirect.target_host, redirect.target_port
            try:
                super()._tunnel()
            finally:
                conn._tunnel_host, conn._tunnel_port = host, port

    return RedirectingConnection


class _DoctorAdapter(HTTPAdapter):
    """Installs the redirecting connections and the trust context in every pool it makes."""

    def __init__(self, settings: HttpSettings) -> None:
        self._settings = settings
        self._context = _trust_context(settings.ca_file)
        # --connect-to wins over --resolve for the same host:port, as in curl
        dial: dict[tuple[str, int], Redirect] = {(r.host, r.port): r for r in settings.resolve}
        dial.update({(r.host, r.port): r for r in settings.connect_to})
        tunnel = {(r.host, r.port): r for r in settings.connect_to}

        class Pool(HTTPConnectionPool):
            ConnectionCls = _connection_class(deadline_connection(urllib3.connection.HTTPConnection), dial, tunnel)

        class TlsPool(HTTPSConnectionPool):
            ConnectionCls = _connection_class(deadline_connection(urllib3.connection.HTTPSConnection), dial, tunnel)

        self._pools = {"http": Pool, "https": TlsPool}
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        pool_kwargs["ssl_context"] = self._context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        fresh = proxy not in self.proxy_manager
        proxy_kwargs["ssl_context"] = self._context
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if fresh:
            manager.pool_classes_by_scheme = self._pools
        return manager

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Keep our context's roots: requests would otherwise add only its own bundle."""
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        if url.lower().startswith("https") and verify is True:
            conn.ca_certs = None
            conn.ca_cert_dir = None


class DoctorSession(requests.Session):
    """A Session whose proxy is chosen per URL and whose every request has a timeout.

    MSAL accepts it as ``http_client=``, so token requests take the same path as ours.
    """

    def __init__(self, settings: HttpSettings) -> None:
        super().__init__()
        self.trust_env = False  # the environment is read once, by proxy selection, not here
        self.settings = settings
        self.exchanges: list[Exchange] = []
        adapter = _DoctorAdapter(settings)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        text_url = url.decode() if isinstance(url, bytes) else str(url)
        text_method = method.decode() if isinstance(method, bytes) else str(method)
        proxy = self.settings.proxy_for(text_url)
        kwargs["proxies"] = {"http": proxy, "https": proxy} if proxy else {}
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.settings.timeout
        kwargs.setdefault("allow_redirects", False)
        shown_url = _url_for_log(text_url)
        shown_proxy = _shown_proxy(proxy) if proxy else None
        timeout = float(self.settings.timeout)
        kwargs["stream"] = True
        watchdog = RequestDeadline(timeout)  # one deadline for the whole exchange, headers included
        try:
            with watchdog:
                response = super().request(method, url, *args, **kwargs)
                read_bounded_body(response, watchdog.at, timeout, text_url)
        except requests.RequestException as exc:
            failure = classify_failure(exc, text_url, proxy)
            if watchdog.expired and failure.outcome is not Outcome.TIMEOUT:
                failure = _cut_by_deadline(text_url, proxy, timeout, watchdog.in_proxy_connect)
            self.exchanges.append(Exchange(text_method, shown_url, None, shown_proxy, failure.outcome, 0))
            raise failure from None
        except HttpFailure as failure:
            self.exchanges.append(Exchange(text_method, shown_url, None, shown_proxy, failure.outcome, 0))
            raise
        elapsed = int(response.elapsed.total_seconds() * 1000)
        self.exchanges.append(Exchange(text_method, shown_url, response.status_code, shown_proxy, "ok", elapsed))
        return response


def _cut_by_deadline(url: str, proxy: str | None, timeout: float, in_proxy_connect: bool) -> HttpFailure:
    """The watchdog shut the socket at the deadline: whatever the read then saw, the cause is the time."""
    host = urlsplit(url).hostname or url
    if proxy and in_proxy_connect:
        return HttpFailure(Outcome.TIMEOUT, f"the proxy {_shown_proxy(proxy)} did not answer CONNECT {host} within "
                                      f"{timeout:g} s (TCP to it worked)", url)
    return HttpFailure(Outcome.TIMEOUT, f"{host} did not send its whole answer within {timeout:g} s", url)


MAX_BODY_BYTES = 8 * 1024 * 1024  # a realm, OpenID or token answer is a few KB; a Graph page well under 1 MB
MAX_JSON_DEPTH = 100  # Microsoft's answers nest a handful of levels; Python's json recurses once per level


def read_bounded_body(response: requests.Response, deadline: float, timeout: float, url: str) -> None:
    """Read the body into the response (``.content``, ``.text``, ``.json()`` then work as usual), bounded.

    A peer that sends forever, or one byte a second, or JSON nested deeper than any real answer, ends as an
    HttpFailure (outcome ``timeout`` or ``http_error``): never unbounded memory, never past the deadline, never
    a RecursionError in MSAL's or our own JSON parsing.
    """
    host = urlsplit(url).hostname or url
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise HttpFailure(Outcome.TIMEOUT, f"{host} did not send its whole answer within {timeout:g} s", url)
            chunk = response.raw.read1(64 * 1024, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise HttpFailure(Outcome.HTTP_ERROR, f"{host} sent an answer larger than "
                                                f"{MAX_BODY_BYTES // (1024 * 1024)} MiB; not read further", url)
            chunks.append(chunk)
    except HttpFailure:
        response.close()
        raise
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        response.close()
        raise requests.exceptions.ConnectionError(exc) from exc
    body = b"".join(chunks)
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        response.close()
        raise HttpFailure(Outcome.HTTP_ERROR, f"{host} sent JSON nested {depth} levels deep; not parsed", url)
    response._content = body
    response._content_consumed = True  # type: ignore[attr-defined]


def json_depth(body: bytes) -> int:
    """The deepest nesting of ``[``/``{`` outside JSON strings (one pass; 0 for a body that is not JSON)."""
    if body.lstrip()[:1] not in (b"[", b"{"):
        return 0
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _shown_proxy(proxy: str) -> str:
    """The proxy URL without its password, also when it is too malformed to parse (``http://[bad``)."""
    try:
        return url_without_password(proxy)
    except ValueError:
        return scrub(proxy)


def _url_for_log(url: str) -> str:
    """Scheme, host and path: query strings may carry codes and are left out."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def make_session(settings: HttpSettings) -> DoctorSession:
    return DoctorSession(settings)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        nxt = current.__cause__ or current.__context__
        if nxt is None and current.args and isinstance(current.args[0], BaseException):
            nxt = current.args[0]
        if nxt is None and hasattr(current, "reason") and isinstance(current.reason, BaseException):
            nxt = current.reason
        current = nxt
    return seen


def classify_failure(exc: BaseException, url: str, proxy: str | None) -> HttpFailure:
    """Name the layer that failed, with the outcome codes ``check`` uses."""
    chain = _chain(exc)
    host = urlsplit(url).hostname or url
    refused = next((e for e in chain if isinstance(e, ProxyRefusedConnect)), None)
    if refused is not None:
        known = {407: Outcome.PROXY_AUTH_REQUIRED, 403: Outcome.PROXY_FORBIDDEN}.get(refused.status)
        if known is not None:
            return HttpFailure(known, f"the proxy answered {refused.status} to CONNECT {host}", url)
        return HttpFailure(Outcome.PROXY_ERROR, f"the proxy refused CONNECT {host}: {refused.status} "
                                                f"{refused.reason}".rstrip(), url)
    if isinstance(exc, requests.exceptions.ProxyError) or any(
        isinstance(e, urllib3.exceptions.ProxyError) for e in chain
    ):
        shown = url_without_password(proxy) if proxy else "the proxy"
        return HttpFailure(Outcome.PROXY_UNREACHABLE, f"cannot reach {shown}: {_last_words(chain)}", url)
    if proxy and any(_IN_CONNECT in getattr(e, "__notes__", ()) for e in chain):
        shown = _shown_proxy(proxy)
        if any(isinstance(e, TimeoutError) for e in chain) or isinstance(exc, requests.exceptions.Timeout):
            return HttpFailure(Outcome.TIMEOUT, f"the proxy {shown} did not answer CONNECT {host} within the "
                                                "timeout (TCP to it worked)", url)
        return HttpFailure(Outcome.PROXY_ERROR, f"the proxy {shown} closed the connection during CONNECT {host}: "
                                                f"{_last_words(chain)}", url)
    if any(isinstance(e, ssl.SSLError) for e in chain) or isinstance(exc, requests.exceptions.SSLError):
        return HttpFailure(Outcome.TLS_FAILURE, f"TLS with {host} failed: {_last_words(chain)}", url)
    if any(isinstance(e, urllib3.exceptions.NameResolutionError | socket.gaierror) for e in chain):
        return HttpFailure(Outcome.DNS_FAILURE, f"cannot resolve {host}", url)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return HttpFailure(Outcome.TCP_TIMEOUT, f"no TCP answer from {host} within the timeout", url)
    if isinstance(exc, requests.exceptions.Timeout):
        return HttpFailure(Outcome.TIMEOUT, f"{host} did not answer within the timeout", url)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return HttpFailure(Outcome.TCP_REFUSED, f"{host} refused the TCP connection", url)
    return HttpFailure(Outcome.HTTP_ERROR, f"request to {host} failed: {_last_words(chain)}", url)


def _last_words(chain: list[BaseException]) -> str:
    """The innermost message: the one that says what really happened."""
    for exc in reversed(chain):
        text = str(exc).strip()
        if text:
            return scrub(text)[:300]
    return type(chain[-1]).__name__
