"""What one endpoint probe found: a stable outcome code plus the evidence behind it (sslyze-style taxonomy).

Every probe ends in exactly one `Outcome`; the layer it stopped at (`Phase`) and the timings of the layers it
passed travel with it, so the diagnosis can tell "the proxy said 403" from "the proxy never answered".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aadc_doctor.json_data import json_meta

MAX_NAMES_SHOWN = 10  # a CDN certificate can name hundreds of hosts; the report needs the first few


class Outcome(StrEnum):
    """The stable outcome codes of DESIGN.md; scripts branch on these strings."""

    OK = "ok"
    DNS_FAILURE = "dns_failure"
    DNS_FILTERED = "dns_filtered"
    TCP_REFUSED = "tcp_refused"
    TCP_TIMEOUT = "tcp_timeout"
    PROXY_UNREACHABLE = "proxy_unreachable"
    PROXY_FORBIDDEN = "proxy_forbidden"
    PROXY_AUTH_REQUIRED = "proxy_auth_required"
    PROXY_ERROR = "proxy_error"
    TLS_FAILURE = "tls_failure"
    TLS_INTERCEPTED = "tls_intercepted"
    HTTP_ERROR = "http_error"
    TIMEOUT = "timeout"


class Phase(StrEnum):
    """The layers of one probe, in the order they run."""

    DNS = "dns"
    TCP = "tcp"
    CONNECT = "connect"
    TLS = "tls"
    HTTP = "http"


@dataclass(frozen=True)
class EndpointTarget:
    """One concrete URL to probe, and the catalog row (if any) it stands for."""

    url: str
    host: str
    port: int
    scheme: str  # "https" or "http"
    path: str  # request target as sent to the origin: path plus query, percent-encoded
    kind: str  # "https", "http", "crl" or "ocsp"
    profiles: tuple[str, ...] = ()
    rule_id: str | None = None
    rule_pattern: str | None = None

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class PhaseTimings:
    """Milliseconds spent in each layer; None for a layer that did not run."""

    dns_ms: float | None = field(default=None, metadata=json_meta(round=1))
    tcp_ms: float | None = field(default=None, metadata=json_meta(round=1))
    connect_ms: float | None = field(default=None, metadata=json_meta(round=1))
    tls_ms: float | None = field(default=None, metadata=json_meta(round=1))
    http_ms: float | None = field(default=None, metadata=json_meta(round=1))


@dataclass(frozen=True)
class TlsInfo:
    """The TLS session as seen by the client: negotiated version and the leaf certificate's names.

    `verified` is whether the chain verified against the system store plus --ca-file; `trust` says which
    store anchored it ("system", "ca-file", "lab-root") or why it did not ("untrusted-issuer", "expired", ...).
    `root` is the top of the chain (the trust anchor when verified, else the last certificate presented) and
    `microsoft_chain` whether the chain holds one of the roots Microsoft's endpoints use (None: not judged).
    """

    version: str | None = None
    issuer: str | None = None
    issuer_organization: str | None = None
    subject: str | None = None
    names: tuple[str, ...] = field(default=(), metadata=json_meta(limit=MAX_NAMES_SHOWN))
    not_after: str | None = None
    verified: bool = False
    trust: str | None = None
    verify_error: str | None = None
    root: str | None = None
    root_sha256: str | None = None
    microsoft_chain: bool | None = None

    def json_extra(self) -> dict[str, Any]:
        return {"names_total": len(self.names)}


@dataclass(frozen=True)
class CrlInfo:
    """A downloaded certificate revocation list: whether it parsed, who issued it and until when it is valid."""

    parsed: bool
    size: int
    issuer: str | None = None
    last_update: str | None = None
    next_update: str | None = None
    revoked: int | None = None
    stale: bool = False
    error: str | None = None



@dataclass(frozen=True)
class DnsInfo:
    """Where a name pointed: the addresses, and the CNAME chain when the resolver reports it.

    When resolution failed or was filtered, `failure` names why (a DnsFailure code of net/resolve.py),
    `server` the DNS server(s) that said so, and `sinkhole` what each sinkhole answer is.
    """

    name: str
    addresses: tuple[str, ...] = ()
    cname_chain: tuple[str, ...] = ()
    source: str = "system"  # "system", "dns-server ADDR:PORT", "--resolve" or "literal"
    failure: str | None = None
    server: str | None = None
    sinkhole: tuple[str, ...] = ()



@dataclass(frozen=True)
class EndpointResult:
    """The frozen outcome of one probe: the code, the layer it stopped at, the evidence. Never an exception."""

    target: EndpointTarget = field(metadata=json_meta(skip=True))  # its url, host, port... lead the JSON
    outcome: Outcome
    phase: Phase | None = None  # the layer that failed; None when the probe succeeded
    via_proxy: str | None = None  # proxy URL without password, None for a direct connection
    connect_to: str | None = None  # host:port --connect-to sent the connection to (directly or as CONNECT target)
    http_status: int | None = None
    connect_status: int | None = None
    proxy_authenticate: tuple[str, ...] = ()  # schemes the proxy offered in its (last) 407
    proxy_auth_scheme: str | None = None  # the scheme this tool authenticated with, if any
    proxy_auth_challenged: bool = False  # the proxy asked for authentication (even if we then succeeded)
    proxy_error: str | None = None  # the proxy's own error tag, e.g. Squid's X-Squid-Error
    answered_by: str | None = None  # an upstream proxy (behind the one used) that generated the proxy's answer
    proxy_hops: tuple[str, ...] = ()  # proxies named by the answer's Via (or X-Cache), closest to the origin first
    phases: PhaseTimings = field(default_factory=PhaseTimings)
    tls: TlsInfo | None = None
    crl: CrlInfo | None = None
    dns: DnsInfo | None = None
    error: str | None = None
    elapsed_ms: float = field(default=0.0, metadata=json_meta(round=1))

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def json_leading(self) -> dict[str, Any]:
        t = self.target
        return {"url": t.url, "host": t.host, "port": t.port,
                "profile": t.profiles[0] if t.profiles else "custom", "profiles": list(t.profiles) or ["custom"],
                "rule": {"id": t.rule_id, "pattern": t.rule_pattern} if t.rule_id else None, "kind": t.kind}
