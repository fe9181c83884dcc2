"""Probe one endpoint layer by layer (name, TCP, proxy CONNECT and its authentication, TLS, HTTP), timing each.

`probe_endpoint` never raises for anything the network does: it ends in one `EndpointResult` with an `Outcome`
and the layer it stopped at. A bug of ours (any other exception) does propagate: exit 4, never a network outcome.
Connections end politely (TLS close_notify, TCP FIN), so probes leave no aborted tunnels in the proxy's log.
A hard per-probe deadline (`asyncio.timeout`) bounds the whole probe, so a proxy that accepts and
never answers costs `timeout` seconds, not a hung run.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from aadc_doctor.net import tls as tlsmod
from aadc_doctor.net.crl import MAX_CRL_BYTES, inspect_crl
from aadc_doctor.net.http import (
    HttpProtocolError,
    NoAnswer,
    ResponseHead,
    build_request,
    read_body,
    read_head,
)
from aadc_doctor.net.ocsp import MAX_OCSP_BYTES, OCSP_REQUEST_TYPE, inspect_ocsp, ocsp_request
from aadc_doctor.net.outcome import (
    EndpointResult,
    EndpointTarget,
    Outcome,
    Phase,
    PhaseTimings,
    TlsInfo,
)
from aadc_doctor.net.proxy_answer import (
    DENIAL_STATUSES,
    REDIRECT_STATUSES,
    looks_like_html,
    proxy_hops,
    read_answer,
)
from aadc_doctor.net.proxy_auth import (
    AuthUnavailable,
    ProxyAuthSettings,
    challenge_token,
    choose_authenticator,
    offered_schemes,
)
from aadc_doctor.net.resolve import DnsFailure, DnsFiltered, ResolveFailure, Resolver

MAX_ERROR_BODY = 1024 * 1024
MAX_DRAINED_BODY = 256 * 1024  # an ok answer's body is read (up to this) so the connection ends with FIN, not RST
RESERVE_S = 0.05  # seconds kept back from a probe's deadline to record what was found
CLOSE_GRACE_S = 0.5  # how long a probe waits for its connections to close politely (close_notify, FIN)
PROXY_ERROR_HEADERS = ("x-squid-error", "proxy-status")
_PASSWORD_IN_URL = re.compile(r"(//[^/@:]*:)[^/@]*@")


@dataclass(frozen=True)
class ProxyRoute:
    """The proxy one endpoint goes through; `display` is the URL without any password."""

    host: str
    port: int
    scheme: str = "http"
    display: str = ""

    @classmethod
    def from_url(cls, url: str, display: str | None = None) -> ProxyRoute:
        """ValueError with a one-line reason, the URL shown as `display` (by default with its password masked)."""
        shown = display if display is not None else _PASSWORD_IN_URL.sub(r"\1***@", url)
        try:
            parts = urlsplit(url if "://" in url else f"http://{url}")
        except ValueError:
            raise ValueError(f"proxy URL {shown!r} is not a valid URL") from None
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"proxy URL {shown!r}: scheme {parts.scheme!r} is not supported (use http://)")
        if not parts.hostname:
            raise ValueError(f"proxy URL {shown!r} has no host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ValueError(f"proxy URL {shown!r} has an invalid port") from None
        shown = display or f"{parts.scheme}://{parts.hostname}:{port}"
        return cls(parts.hostname, port, parts.scheme, shown)


@dataclass(frozen=True)
class ProbeSettings:
    """Everything probes share; immutable so one instance serves every concurrent probe."""

    resolver: Resolver
    trust: tlsmod.TrustConfig
    auth: ProxyAuthSettings = field(default_factory=ProxyAuthSettings)
    timeout: float = 10.0
    expected_issuer_organizations: frozenset[str] = frozenset()
    # --connect-to, as curl: (host, port) of a URL -> (host, port) the connection really goes to. Direct, that
    # is where TCP goes; through a proxy, it is the CONNECT target (plain http:// is then tunnelled too).
    connect_to: Mapping[tuple[str, int], tuple[str, int]] = field(default_factory=dict)

    def dial_for(self, target: EndpointTarget) -> tuple[str, int] | None:
        """Where --connect-to sends `target`, or None when the URL's own host and port are used."""
        return self.connect_to.get((target.host, target.port))


class _Stop(Exception):
    """Internal: the probe reached its outcome; the state already holds it."""


@dataclass
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        """End the connection as a well-behaved client does: TLS close_notify, then TCP FIN; never a reset.

        An aborted tunnel is what Squid logs as TCP_TUNNEL/500: the tool's own probes must not leave error lines
        in the customer's proxy log.
        """
        if not self.writer.is_closing():
            self.writer.close()


@dataclass
class _State:
    target: EndpointTarget
    proxy: ProxyRoute | None
    phase: Phase = Phase.DNS
    timings: dict[str, float] = field(default_factory=dict)
    addresses: tuple[str, ...] = ()
    conns: list[_Conn] = field(default_factory=list)
    deadline_at: float | None = None  # loop time when the probe's hard limit expires
    dial: tuple[str, int] | None = None  # the --connect-to destination, if one applies
    proxy_tls: bool = False  # in the TLS handshake with an https:// proxy (TCP to it already worked)
    # the evidence so far, in the frozen result itself (no mirror of its fields): `record` adds to it, `fail` ends it
    found: EndpointResult = field(init=False)

    def __post_init__(self) -> None:
        self.found = EndpointResult(self.target, Outcome.OK)

    def record(self, **evidence: Any) -> None:
        self.found = replace(self.found, **evidence)

    @property
    def dial_host(self) -> str:
        return self.dial[0] if self.dial else self.target.host

    @property
    def dial_port(self) -> int:
        return self.dial[1] if self.dial else self.target.port

    @property
    def authority(self) -> str:
        """host:port the connection is for: the CONNECT target through a proxy."""
        host = self.dial_host
        return f"[{host}]:{self.dial_port}" if ":" in host else f"{host}:{self.dial_port}"

    def fail(self, outcome: Outcome, error: str) -> _Stop:
        self.record(outcome=outcome, phase=self.phase, error=error)
        return _Stop()

    def add_time(self, key: str, start: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + (time.monotonic() - start) * 1000

    async def close_all(self) -> None:
        """Close every connection politely and give the peers a moment to answer (bounded, never a hang)."""
        conns, self.conns = self.conns, []
        for conn in conns:
            conn.close()
        waits = [asyncio.ensure_future(conn.writer.wait_closed()) for conn in conns]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=CLOSE_GRACE_S)
            for task in pending:
                task.cancel()
            for task in waits:
                if task.done() and not task.cancelled():
                    task.exception()  # a peer that reset during close: nothing left to do, but retrieve it


async def probe_endpoint(target: EndpointTarget, proxy: ProxyRoute | None, settings: ProbeSettings) -> EndpointResult:
    """Probe `target` directly (proxy None) or through `proxy`; always returns a result, never raises."""
    state = _State(target, proxy, dial=settings.dial_for(target))
    start = time.monotonic()
    deadline = asyncio.timeout(settings.timeout)
    state.deadline_at = asyncio.get_running_loop().time() + settings.timeout
    try:
        async with deadline:
            await _run(state, settings)
    except _Stop:
        pass
    except TimeoutError:
        if deadline.expired():
            _timed_out(state, settings.timeout)
        else:
            state.fail(Outcome.TIMEOUT if state.proxy else Outcome.TCP_TIMEOUT, "the operation timed out")
    except (OSError, EOFError, asyncio.IncompleteReadError, HttpProtocolError) as exc:
        # a network failure no layer named: reported on the endpoint. Anything else is a bug of ours and
        # propagates (exit 4 with the internal-error hint), never disguised as a network outcome.
        outcome = _outcome_for_unexpected(state)
        state.fail(outcome, f"{type(exc).__name__}: {exc}")
    finally:
        await state.close_all()
    return _result(state, (time.monotonic() - start) * 1000)


def _timed_out(state: _State, timeout: float) -> None:
    """Name the layer that swallowed the time: that is what the admin has to look at."""
    limit = f"{timeout:g} s"
    via = state.proxy is not None
    if state.phase is Phase.DNS:
        name = state.proxy.host if state.proxy else state.dial_host
        outcome = Outcome.PROXY_UNREACHABLE if via else Outcome.DNS_FAILURE
        if state.found.dns is not None:
            state.record(dns=replace(state.found.dns, failure=DnsFailure.TIMEOUT.value))
        state.fail(outcome, f"resolving {name} did not finish within {limit}")
    elif state.phase is Phase.TCP:
        if via and state.proxy_tls:
            assert state.proxy is not None
            state.fail(Outcome.PROXY_UNREACHABLE,
                       f"the TLS handshake with the https:// proxy {state.proxy.host}:{state.proxy.port} did not "
                       f"finish within {limit} (TCP to it worked). {_plain_proxy_hint(state.proxy)}")
        elif via:
            assert state.proxy is not None
            state.fail(Outcome.PROXY_UNREACHABLE,
                       f"no TCP connection to the proxy {state.proxy.host}:{state.proxy.port} within {limit}")
        else:
            state.fail(Outcome.TCP_TIMEOUT, f"no TCP connection to {state.authority} within {limit}")
    elif state.phase is Phase.CONNECT:
        state.fail(Outcome.TIMEOUT, f"the proxy accepted the connection but did not answer CONNECT within {limit}")
    elif state.phase is Phase.TLS:
        state.fail(Outcome.TIMEOUT, f"the TLS handshake with {state.target.host} did not finish within {limit}")
    else:
        who = "the proxy or the endpoint" if via else "the endpoint"
        state.fail(Outcome.TIMEOUT, f"{who} did not answer the HTTP request within {limit}")


def _outcome_for_unexpected(state: _State) -> Outcome:
    via = state.proxy is not None
    return {
        Phase.DNS: Outcome.PROXY_UNREACHABLE if via else Outcome.DNS_FAILURE,
        Phase.TCP: Outcome.PROXY_UNREACHABLE if via else Outcome.TCP_REFUSED,
        Phase.CONNECT: Outcome.PROXY_ERROR,
        Phase.TLS: Outcome.TLS_FAILURE,
        Phase.HTTP: Outcome.HTTP_ERROR,
    }[state.phase]


def _result(state: _State, elapsed_ms: float) -> EndpointResult:
    t = state.timings
    found = state.found
    return replace(
        found, phase=found.phase if found.outcome is not Outcome.OK else None,
        via_proxy=state.proxy.display if state.proxy else None, connect_to=state.authority if state.dial else None,
        phases=PhaseTimings(t.get("dns"), t.get("tcp"), t.get("connect"), t.get("tls"), t.get("http")),
        elapsed_ms=elapsed_ms,
    )


# -- the layers -----------------------------------------------------------------------------------------------

async def _run(state: _State, settings: ProbeSettings) -> None:
    target = state.target
    await _resolve(state, settings.resolver)
    conn = await _open(state, settings)
    if target.scheme == "https" or (state.proxy is not None and state.dial is not None):
        # curl tunnels plain http:// too when --connect-to applies through a proxy: only CONNECT names a target
        if state.proxy is not None:
            conn = await _connect_tunnel(state, settings, conn)
        if target.scheme == "https":
            conn = await _tls(state, settings, conn)
        await _http(state, conn)
    else:
        await _http_maybe_via_proxy(state, settings, conn)


async def _resolve(state: _State, resolver: Resolver) -> None:
    state.phase = Phase.DNS
    host, port = (state.proxy.host, state.proxy.port) if state.proxy else (state.dial_host, state.dial_port)
    start = time.monotonic()
    state.record(dns=resolver.pending(host, port))
    try:
        # a sinkhole answer counts only for the endpoint's own name: not for a proxy, nor a --connect-to target
        dns = await resolver.resolve(host, port, check_filter=state.proxy is None and state.dial is None)
        state.record(dns=dns)
    except ResolveFailure as exc:
        state.add_time("dns", start)
        state.record(dns=exc.dns)
        if state.proxy:
            raise state.fail(Outcome.PROXY_UNREACHABLE, f"the proxy's name does not resolve: {exc}") from None
        if isinstance(exc, DnsFiltered):
            raise state.fail(Outcome.DNS_FILTERED, str(exc)) from None
        raise state.fail(Outcome.DNS_FAILURE, str(exc)) from None
    state.add_time("dns", start)
    state.addresses = dns.addresses


async def _open(state: _State, settings: ProbeSettings, *, record: bool = True) -> _Conn:
    """TCP to the proxy or the endpoint (each resolved address in turn); TLS to an https:// proxy."""
    state.phase = Phase.TCP
    port = state.proxy.port if state.proxy else state.dial_port
    start = time.monotonic()
    errors: list[str] = []
    refused = True
    for address in state.addresses:
        try:
            reader, writer = await asyncio.open_connection(address, port, limit=256 * 1024)
        except ConnectionRefusedError:
            errors.append(f"{address}:{port} refused the connection")
            continue
        except OSError as exc:
            refused = False
            errors.append(f"{address}:{port}: {exc.strerror or exc}")
            continue
        conn = _Conn(reader, writer)
        state.conns.append(conn)
        if record:
            state.add_time("tcp", start)
        if state.proxy is not None and state.proxy.scheme == "https":
            await _tls_to_proxy(state, settings, conn)
        return conn
    if record:
        state.add_time("tcp", start)
    detail = "; ".join(errors) or "no address to connect to"
    if state.proxy is not None:
        raise state.fail(Outcome.PROXY_UNREACHABLE,
                         f"cannot connect to the proxy {state.proxy.host}:{state.proxy.port}: {detail}")
    raise state.fail(Outcome.TCP_REFUSED if refused else Outcome.TCP_TIMEOUT, detail)


async def _tls_to_proxy(state: _State, settings: ProbeSettings, conn: _Conn) -> None:
    assert state.proxy is not None
    state.proxy_tls = True
    try:
        await conn.writer.start_tls(await settings.trust.verifying_context(), server_hostname=state.proxy.host)
    except ssl.SSLCertVerificationError as exc:
        raise state.fail(Outcome.PROXY_UNREACHABLE,
                         f"the https:// proxy {state.proxy.host}:{state.proxy.port} presented a certificate this "
                         f"machine does not trust ({tlsmod.verify_message(exc)}); add its CA with --ca-file") from None
    except (ssl.SSLError, OSError, asyncio.IncompleteReadError, EOFError) as exc:
        raise state.fail(Outcome.PROXY_UNREACHABLE,
                         f"the TLS handshake with the https:// proxy {state.proxy.host}:{state.proxy.port} failed: "
                         f"{_ssl_reason(exc)}. {_plain_proxy_hint(state.proxy)}") from None
    state.proxy_tls = False


def _plain_proxy_hint(proxy: ProxyRoute) -> str:
    """https:// in a proxy URL means TLS to the proxy itself; most proxies speak plain HTTP on their port."""
    host = f"[{proxy.host}]" if ":" in proxy.host else proxy.host
    return (f"Most proxies take plain HTTP even for https:// traffic: try --proxy http://{host}:{proxy.port}")


async def _send_and_read(conn: _Conn, request: bytes) -> ResponseHead:
    conn.writer.write(request)
    await conn.writer.drain()
    return await read_head(conn.reader)


async def _proxy_exchange(state: _State, settings: ProbeSettings, conn: _Conn, method: str, target: str,
                          host_header: str, headers: Sequence[tuple[str, str]],
                          body: bytes = b"") -> tuple[_Conn, ResponseHead]:
    """Send one request to the proxy, answering 407 challenges (Basic, or NTLM/Negotiate on one connection).

    The first attempt carries no credentials, so the report can say whether the proxy demands sign-in at all
    (the PTA agent cannot sign in to a proxy).
    """
    assert state.proxy is not None
    base = [*headers, ("Proxy-Connection", "Keep-Alive")]

    async def send(c: _Conn, auth_header: str | None) -> ResponseHead:
        extra = [*base, ("Proxy-Authorization", auth_header)] if auth_header else base
        return await _send_and_read(c, build_request(method, target, host_header, extra) + body)

    head = await send(conn, None)
    if head.status != 407:
        return conn, head
    state.record(proxy_auth_challenged=True, proxy_authenticate=offered_schemes(head.get_all("proxy-authenticate")))
    try:
        auth = choose_authenticator(settings.auth, state.found.proxy_authenticate, state.proxy.host)
        first = auth.first_header()
    except AuthUnavailable as exc:
        state.record(error=str(exc))
        return conn, head
    reused = await _reuse_or_reopen(state, settings, conn, head, method)
    state.record(proxy_auth_scheme=auth.scheme)
    try:
        try:
            head = await send(reused, first)
        except (NoAnswer, ConnectionError):
            if reused is not conn:
                raise
            # the proxy closed the kept-alive connection after its 407 without saying so (HTTP allows it):
            # send the credentials once more on a new connection, as curl does
            reused = await _reopen(state, settings, reused)
            head = await send(reused, first)
        conn = reused
        rounds = 0
        while head.status == 407 and auth.connection_bound and rounds < 3:
            rounds += 1
            token = challenge_token(head.get_all("proxy-authenticate"), auth.scheme)
            answer = auth.next_header(token)
            if answer is None:
                break
            await read_body(conn.reader, head, method, MAX_ERROR_BODY)
            if not head.keeps_alive:
                state.record(error=f"the proxy closed the connection in the middle of the {auth.scheme} handshake")
                return conn, head
            head = await send(conn, answer)
    except AuthUnavailable as exc:
        state.record(error=str(exc))
        return conn, head
    if head.status == 407:
        offered = offered_schemes(head.get_all("proxy-authenticate")) or state.found.proxy_authenticate
        state.record(proxy_authenticate=offered,
                     error=state.found.error or f"the proxy rejected the {auth.scheme} credentials")
    return conn, head


async def _reuse_or_reopen(state: _State, settings: ProbeSettings, conn: _Conn, head: ResponseHead,
                           method: str) -> _Conn:
    """Keep the connection for the next leg when the proxy allows it, else open a fresh one."""
    if head.keeps_alive:
        try:
            await read_body(conn.reader, head, method, MAX_ERROR_BODY)
            return conn
        except HttpProtocolError:
            pass
    return await _reopen(state, settings, conn)


async def _reopen(state: _State, settings: ProbeSettings, conn: _Conn) -> _Conn:
    """Drop `conn` (politely) and connect to the proxy again, staying in the current phase."""
    conn.close()
    phase = state.phase
    new = await _open(state, settings, record=False)
    state.phase = phase
    return new


def _proxy_error_tag(head: ResponseHead) -> str | None:
    for name in PROXY_ERROR_HEADERS:
        value = head.get(name)
        if value:
            return value
    return None


def _host_header(target: EndpointTarget) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


async def _connect_tunnel(state: _State, settings: ProbeSettings, conn: _Conn) -> _Conn:
    state.phase = Phase.CONNECT
    authority = state.authority
    start = time.monotonic()
    try:
        conn, head = await _proxy_exchange(state, settings, conn, "CONNECT", authority, authority, ())
    except NoAnswer:
        state.add_time("connect", start)
        raise state.fail(Outcome.PROXY_FORBIDDEN, _silent_denial("CONNECT")) from None
    except HttpProtocolError as exc:
        state.add_time("connect", start)
        raise state.fail(Outcome.PROXY_ERROR, f"the proxy's answer to CONNECT: {exc}") from None
    except ConnectionResetError:
        state.add_time("connect", start)
        raise state.fail(Outcome.PROXY_FORBIDDEN, _silent_denial("CONNECT", reset=True)) from None
    except OSError as exc:
        state.add_time("connect", start)
        raise state.fail(Outcome.PROXY_ERROR, f"the proxy dropped the connection during CONNECT: {exc}") from None
    state.add_time("connect", start)
    state.record(connect_status=head.status)
    if 200 <= head.status < 300:
        return conn
    body = await _refusal_body(state, conn, head, "CONNECT")
    _proxy_refusal(state, head, "CONNECT", body)
    raise _Stop()  # unreachable: _proxy_refusal always raises


def _silent_denial(what: str, *, reset: bool = False) -> str:
    how = "reset the connection" if reset else "closed the connection"
    return (f"the proxy {how} right after the {what} request, without answering: that is how some proxies deny a "
            "host (Squid's deny_info TCP_RESET, firewalls in proxy mode)")


async def _refusal_body(state: _State, conn: _Conn, head: ResponseHead, method: str) -> bytes:
    """The proxy's error page (bounded in size and time): it may name the proxy that generated it."""
    loop = asyncio.get_running_loop()
    budget = max(0.0, min(1.0, (state.deadline_at or loop.time() + 1.0) - loop.time() - RESERVE_S))
    try:
        async with asyncio.timeout(budget):
            return await read_body(conn.reader, head, method, MAX_ERROR_BODY)
    except (TimeoutError, HttpProtocolError, OSError):
        return b""


def _proxy_refusal(state: _State, head: ResponseHead, what: str, body: bytes = b"") -> None:
    """Classify a proxy's refusal (407, any denial, 5xx) and stop the probe."""
    tag = _proxy_error_tag(head)
    state.record(proxy_error=tag)
    answer = read_answer(head, head.status, body, state.target.host)
    state.record(answered_by=answer.answered_by, proxy_hops=proxy_hops(head))
    said = f"{head.status} {head.reason}".strip() + (f" ({tag})" if tag else "")
    by = f", answered by the upstream proxy {answer.answered_by}" if answer.answered_by else ""
    if head.status == 407:
        schemes = ", ".join(state.found.proxy_authenticate) or "none"
        answered = f"the proxy answered {what} with {said}{by}; it offers {schemes}"
        # the cause first: a short view (the terminal table) keeps it, the proxy's own wording follows
        cause = state.found.error
        raise state.fail(Outcome.PROXY_AUTH_REQUIRED, f"{cause}: {answered}" if cause else answered)
    if answer.denial:
        if answer.redirect_to:
            raise state.fail(Outcome.PROXY_FORBIDDEN, f"the proxy answered {what} with {said}{by}, a redirect to "
                                                      f"{answer.redirect_to}: a block page")
        if answer.proxy_status_error and head.status not in DENIAL_STATUSES:
            raise state.fail(Outcome.PROXY_FORBIDDEN, f"the proxy answered {what} with {said}{by}; its "
                                                      f"Proxy-Status says {answer.proxy_status_error}")
        raise state.fail(Outcome.PROXY_FORBIDDEN, f"the proxy answered {what} with {said}{by}")
    if answer.proxy_status_error:
        said += f"; its Proxy-Status says {answer.proxy_status_error}"
    raise state.fail(Outcome.PROXY_ERROR, f"the proxy answered {what} with {said}{by}")


async def _tls(state: _State, settings: ProbeSettings, conn: _Conn) -> _Conn:
    state.phase = Phase.TLS
    start = time.monotonic()
    host = state.target.host
    try:
        await conn.writer.start_tls(await settings.trust.verifying_context(), server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        state.add_time("tls", start)
        await _judge_unverified(state, settings, exc)
        raise _Stop() from None
    except (ssl.SSLError, OSError, asyncio.IncompleteReadError, EOFError) as exc:
        state.add_time("tls", start)
        raise state.fail(Outcome.TLS_FAILURE, f"TLS handshake with {host} failed: {_ssl_reason(exc)}") from None
    state.add_time("tls", start)
    ssl_object = conn.writer.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    version = ssl_object.version() if ssl_object is not None else None
    if not der:
        state.record(tls=TlsInfo(version=version, verified=True, trust="system"))
        return conn
    facts = tlsmod.cert_facts(der)
    verdict = tlsmod.judge_chain(tlsmod.verified_chain(ssl_object), settings.trust)
    if verdict is None:  # this Python cannot show the verified chain: judge by the issuing CA's organization
        trust = "ca-file" if tlsmod.issued_by_ca_file(der, settings.trust) else "system"
        state.record(tls=_tls_info(facts, version, verified=True, trust=trust))
        org = (facts.issuer_organization or "").lower()
        expected = settings.expected_issuer_organizations
        if state.target.rule_id and expected and org not in expected:
            raise state.fail(Outcome.TLS_INTERCEPTED, _trusted_interception_text(state, settings, facts, None))
        return conn
    state.record(tls=_tls_info(facts, version, verified=True, trust=verdict.trusted_by,
                               root=tlsmod.ca_label(verdict.anchor), root_sha256=verdict.anchor_sha256,
                               microsoft_chain=verdict.microsoft))
    if state.target.rule_id and not verdict.microsoft:
        raise state.fail(Outcome.TLS_INTERCEPTED, _trusted_interception_text(state, settings, facts, verdict))
    return conn


def _trusted_interception_text(state: _State, settings: ProbeSettings, facts: tlsmod.CertFacts,
                               verdict: tlsmod.ChainVerdict | None) -> str:
    """A chain this machine trusts that is not Microsoft's: name the CA and where the trust comes from."""
    host = state.target.host
    if verdict is None:
        return (f"the certificate for {host} is trusted by this machine but was issued by "
                f"{tlsmod.issuer_label(facts)}, not by a public CA Microsoft uses: an inspection CA this machine "
                "trusts")
    root = tlsmod.ca_label(verdict.anchor)
    chain = (f"issued by {tlsmod.ca_label(verdict.issuing)} under the root {root}" if verdict.issuing is not None
             else f"issued by {root}")
    where = {"ca-file": f"--ca-file {settings.trust.ca_file}", "lab-root": "--lab-microsoft-root"}.get(
        verdict.trusted_by, "this machine's trusted root store")
    return (f"the certificate for {host} is {chain} (SHA-256 {verdict.anchor_sha256}), which is not one of the roots "
            f"Microsoft's endpoints chain to; this machine trusts that CA ({where}): an inspecting proxy re-signs "
            "the traffic with a CA deployed on purpose")


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    if isinstance(exc, asyncio.IncompleteReadError | EOFError):
        return "the peer closed the connection during the handshake"
    return str(exc) or type(exc).__name__


def _tls_info(facts: tlsmod.CertFacts, version: str | None, *, verified: bool, trust: str,
              verify_error: str | None = None, root: str | None = None, root_sha256: str | None = None,
              microsoft_chain: bool | None = None) -> TlsInfo:
    return TlsInfo(version=version, issuer=facts.issuer, issuer_organization=facts.issuer_organization,
                   subject=facts.subject, names=facts.names, not_after=facts.not_after, verified=verified,
                   trust=trust, verify_error=verify_error, root=root, root_sha256=root_sha256,
                   microsoft_chain=microsoft_chain)


async def _judge_unverified(state: _State, settings: ProbeSettings, exc: ssl.SSLCertVerificationError) -> None:
    """Verification failed: read the refused certificate on a second, unverified connection and decide."""
    category = tlsmod.verify_category(exc)
    message = tlsmod.verify_message(exc)
    host = state.target.host
    # leave a little of the probe's time for the verdict: a slow second look must not hide the first one
    loop = asyncio.get_running_loop()
    budget = max(0.0, (state.deadline_at or loop.time() + settings.timeout) - loop.time() - RESERVE_S)
    try:
        async with asyncio.timeout(budget):
            der, version, presented = await _fetch_unverified(state, settings)
    except TimeoutError:
        der, version, presented = None, None, []
    state.phase = Phase.TLS
    if der is None:
        intercepted = category in ("untrusted-issuer", "hostname-mismatch")
        outcome = Outcome.TLS_INTERCEPTED if intercepted else Outcome.TLS_FAILURE
        state.record(tls=TlsInfo(verified=False, trust=category, verify_error=message))
        raise state.fail(outcome, f"certificate verification for {host} failed: {message}")
    facts = tlsmod.cert_facts(der)
    top = tlsmod.cert_facts(presented[-1]) if len(presented) > 1 else None  # the CA chain the peer sent, if any
    state.record(tls=_tls_info(facts, version, verified=False, trust=category, verify_error=message,
                          root=tlsmod.ca_label(top) if top is not None else None,
                          root_sha256=tlsmod.fingerprint_text(presented[-1]) if top is not None else None,
                          microsoft_chain=_presented_is_microsofts(presented, settings) if presented else None))
    issuer = tlsmod.issuer_label(facts)
    org = (facts.issuer_organization or "").lower()
    if (category == "untrusted-issuer" and state.target.rule_id and facts.covers(host)
            and org in settings.expected_issuer_organizations):
        # Microsoft's own chain, but this machine lacks its root (automatic root updates off, an old server)
        raise state.fail(Outcome.TLS_FAILURE,
                         f"the certificate for {host} is issued by {issuer}, a public CA Microsoft uses, but this "
                         f"machine does not trust its root ({message}): its trusted root certificates are out of "
                         "date (install the current roots, e.g. DigiCert Global Root G2, or allow Windows' "
                         "automatic root update); an inspecting device that copies Microsoft's issuer name would "
                         "look the same")
    if category == "untrusted-issuer":
        names_it = "issued for" if facts.covers(host) else "not even issued for"
        raise state.fail(Outcome.TLS_INTERCEPTED,
                         f"the certificate presented for {host} is {names_it} {host} and signed by {issuer}, "
                         f"a CA this machine does not trust ({message})")
    if category == "hostname-mismatch":
        shown = ", ".join(facts.names[:4]) or facts.subject
        raise state.fail(Outcome.TLS_INTERCEPTED,
                         f"the certificate presented for {host} is issued for {shown} by {issuer}, "
                         "not for the endpoint: something else answered in its place")
    raise state.fail(Outcome.TLS_FAILURE, f"certificate verification for {host} failed: {message} "
                                          f"(issuer {issuer}, valid until {facts.not_after})")


def _presented_is_microsofts(presented: list[bytes], settings: ProbeSettings) -> bool:
    verdict = tlsmod.judge_chain(presented, settings.trust)
    return verdict is not None and verdict.microsoft


async def _fetch_unverified(state: _State, settings: ProbeSettings) -> tuple[bytes | None, str | None, list[bytes]]:
    """Re-open the same path and handshake without verification, only to read the leaf certificate."""
    saved_phase, saved_timings, saved = state.phase, dict(state.timings), state.found
    try:
        conn = await _open(state, settings, record=False)
        if state.proxy is not None:
            state.phase = Phase.CONNECT
            authority = state.authority
            conn, head = await _proxy_exchange(state, settings, conn, "CONNECT", authority, authority, ())
            if not 200 <= head.status < 300:
                return None, None, []
        await conn.writer.start_tls(settings.trust.unverified, server_hostname=state.target.host)
        ssl_object = conn.writer.get_extra_info("ssl_object")
        if ssl_object is None:
            return None, None, []
        der: bytes | None = ssl_object.getpeercert(binary_form=True)
        return der, ssl_object.version(), tlsmod.unverified_chain(ssl_object)
    except (_Stop, HttpProtocolError, ssl.SSLError, OSError, asyncio.IncompleteReadError):
        return None, None, []
    finally:
        state.phase, state.timings = saved_phase, saved_timings
        # what this second look found about the proxy stays; its failure and its answers to CONNECT do not
        state.record(outcome=Outcome.OK, phase=None, error=saved.error, connect_status=saved.connect_status,
                     proxy_error=saved.proxy_error)


def _origin_request(target: EndpointTarget,
                    extra: Sequence[tuple[str, str]] = ()) -> tuple[str, list[tuple[str, str]], bytes]:
    """Method, headers and body for the endpoint: a real OCSP request to an OCSP responder, else a GET."""
    if target.kind == "ocsp":
        body = ocsp_request()
        return "POST", [*extra, ("Accept", "*/*"), ("Content-Type", OCSP_REQUEST_TYPE),
                        ("Content-Length", str(len(body)))], body
    return "GET", [*extra, ("Accept", "*/*")], b""


async def _http(state: _State, conn: _Conn) -> None:
    """Ask the endpoint on an open connection (direct or tunnelled) and judge its answer."""
    state.phase = Phase.HTTP
    target = state.target
    method, headers, body = _origin_request(target)
    request = build_request(method, target.path, _host_header(target), [*headers, ("Connection", "close")]) + body
    start = time.monotonic()
    try:
        head = await _send_and_read(conn, request)
        await _judge_origin_answer(state, conn, head, method, via_proxy=False)
    except HttpProtocolError as exc:
        raise state.fail(Outcome.HTTP_ERROR, f"{target.host} answered, but not with valid HTTP: {exc}") from None
    except (ConnectionError, OSError, ssl.SSLError) as exc:
        raise state.fail(Outcome.HTTP_ERROR, f"the connection to {target.host} broke during the request: {exc}") \
            from None
    finally:
        state.add_time("http", start)


async def _http_maybe_via_proxy(state: _State, settings: ProbeSettings, conn: _Conn) -> None:
    """Plain http:// (CRL, OCSP): an absolute-URI request to the proxy, as .NET sends it, or a direct one."""
    if state.proxy is None:
        await _http(state, conn)
        return
    state.phase = Phase.HTTP
    target = state.target
    absolute = f"http://{_host_header(target)}{target.path}"
    method, headers, body = _origin_request(target)
    start = time.monotonic()
    try:
        conn, head = await _proxy_exchange(state, settings, conn, method, absolute, _host_header(target), headers,
                                           body)
        if _proxy_said_no(head):
            _proxy_refusal(state, head, f"the {method}", await _refusal_body(state, conn, head, method))
        state.record(proxy_hops=proxy_hops(head))  # names the proxy itself: tells its own answers from an upstream's
        await _judge_origin_answer(state, conn, head, method, via_proxy=True)
    except NoAnswer:
        raise state.fail(Outcome.PROXY_FORBIDDEN, _silent_denial(method)) from None
    except ConnectionResetError:
        raise state.fail(Outcome.PROXY_FORBIDDEN, _silent_denial(method, reset=True)) from None
    except HttpProtocolError as exc:
        raise state.fail(Outcome.PROXY_ERROR, f"the proxy's answer to the {method}: {exc}") from None
    except OSError as exc:
        raise state.fail(Outcome.PROXY_ERROR, f"the proxy dropped the connection during the {method}: {exc}") \
            from None
    finally:
        state.add_time("http", start)


def _proxy_said_no(head: ResponseHead) -> bool:
    """A proxy's own answer to a plain request: 407, a denial status, a redirect away, an error it tagged."""
    if head.status == 407 or head.status in DENIAL_STATUSES:
        return True
    if head.status in REDIRECT_STATUSES and head.get("location"):
        return True
    return head.status >= 400 and _proxy_error_tag(head) is not None


async def _judge_origin_answer(state: _State, conn: _Conn, head: ResponseHead, method: str, *,
                               via_proxy: bool) -> None:
    """Any answer from the endpoint proves connectivity, except a server error, or a CRL/OCSP answer that is not
    one: a page in its place is the proxy's block page (through a proxy) or an error (direct)."""
    state.record(http_status=head.status)
    target = state.target
    if target.kind in ("crl", "ocsp"):
        what = "CRL download" if target.kind == "crl" else "OCSP request"
        if head.status != 200:
            raise state.fail(Outcome.HTTP_ERROR, f"the {what} answered {head.status} {head.reason}".rstrip())
        limit = MAX_CRL_BYTES if target.kind == "crl" else MAX_OCSP_BYTES
        try:
            body = await read_body(conn.reader, head, method, limit)
        except HttpProtocolError as exc:
            raise state.fail(Outcome.HTTP_ERROR, f"the {what} answer could not be read: {exc}") from None
        if target.kind == "crl":
            crl = inspect_crl(body, head.get("content-type"))
            state.record(crl=crl)
            parsed, error = crl.parsed, crl.error
        else:
            ocsp = inspect_ocsp(body)
            parsed, error = ocsp.parsed, ocsp.error
        if parsed:
            return
        if via_proxy and looks_like_html(body):
            raise state.fail(Outcome.PROXY_FORBIDDEN, f"the proxy answered the {what} with 200 and a page of its own "
                                                      f"({error}): a block page served in place of the file")
        raise state.fail(Outcome.HTTP_ERROR, f"the {what} did not return "
                                             f"{'a CRL' if target.kind == 'crl' else 'an OCSP response'}: {error}")
    if head.status >= 500:
        raise state.fail(Outcome.HTTP_ERROR, f"{target.host} answered {head.status} {head.reason}".rstrip())
    await _drain(state, conn, head, method)


async def _drain(state: _State, conn: _Conn, head: ResponseHead, method: str) -> None:
    """Read the rest of an ok answer (bounded), then, when the peer said it closes, wait for it to close.)

    Closing first while the endpoint's close_notify is still on its way makes our side answer it with a reset,
    and Squid then logs the tunnel as TCP_TUNNEL/500: a probe must leave no error line in the proxy's log.
    """
    loop = asyncio.get_running_loop()
    budget = max(0.0, min(1.0, (state.deadline_at or loop.time() + 1.0) - loop.time() - RESERVE_S))
    try:
        async with asyncio.timeout(budget):
            await read_body(conn.reader, head, method, MAX_DRAINED_BODY)
            while not head.keeps_alive and await conn.reader.read(64 * 1024):
                pass  # the peer closes next: let its close_notify and FIN arrive before ours
    except (TimeoutError, HttpProtocolError, OSError):
        pass
