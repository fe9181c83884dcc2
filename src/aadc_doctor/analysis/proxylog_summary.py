"""What `proxylog` reports about a log, as frozen dataclasses: built once by ``ProxyLogAnalysis.results()``, read
by its findings and by the terminal and HTML renderers, turned into the JSON ``results`` by ``to_json_data`` (the
field order is the JSON key order; tests/golden holds the contract)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aadc_doctor.analysis.phases import PhaseResult, PhaseSummary
from aadc_doctor.json_data import json_meta


@dataclass(frozen=True)
class RuleRef:
    """A catalog row that names the endpoint: which profiles need it and why."""

    rule: str
    pattern: str
    port: int
    profiles: tuple[str, ...]
    purpose: str
    required: bool
    current: bool


@dataclass(frozen=True)
class EndpointSummary:
    """One destination (host, port) of the catalog and what the proxy did with its requests."""

    host: str
    port: int | None
    classification: str  # "required" | "optional"
    port_mismatch: bool
    required_by: tuple[RuleRef, ...]
    requests: int
    allowed: int
    denied: int
    denied_unresolved_407: int  # 407 answers no successful retry followed (not handshake legs)
    auth_challenges: int
    other: int
    no_status: int
    statuses: Mapping[str, int]
    first_seen: str | None
    last_seen: str | None
    clients: int
    clients_capped: bool
    longest_tunnel_seconds: float | None
    cut_short: int
    failed: int
    decrypted: int
    tunnels_logged_500_after_transfer: int
    denied_by_parent: Mapping[str, int]


@dataclass(frozen=True)
class IgnorableSummary:
    """Requests to a host the articles say can be ignored (denials there break nothing)."""

    host: str
    requests: int
    denied: int
    pattern: str
    reason: str
    source: str


@dataclass(frozen=True)
class LineBreakdown:
    """What became of the lines read (ProxyLogAnalysis.counts at the end, without the total)."""

    not_candidate: int
    no_request: int
    bad: int
    overlong: int
    filtered_out: int
    records: int


@dataclass(frozen=True)
class FilterSummary:
    """The --client, --since and --until filters as given (times in ISO 8601)."""

    client: tuple[str, ...]
    since: str | None
    until: str | None


@dataclass(frozen=True)
class ClientRow:
    """One of the busiest clients: its requests and whether it looks like an Azure AD Connect server."""

    client: str
    requests: int
    denied: int
    auth_407: int
    azure_ad_connect_like: bool
    probe_run: bool
    phases_reached: tuple[str, ...]


@dataclass(frozen=True)
class AuthRun:
    """A client's 407 answers in a row that no successful request answered."""

    client: str
    count: int
    first_seen: str | None
    last_seen: str | None
    hosts: tuple[str, ...]
    ended_with_success: bool


@dataclass(frozen=True)
class TunnelSummary:
    """How long tunnels to required endpoints lasted: a cluster at one duration suggests an idle timeout."""

    tunnels_measured: int
    longest_seconds: float | None
    explicit_timeouts: int
    suspected_seconds: int | None
    ending_at_longest: int | None = field(default=None, metadata=json_meta(omit_none=True))


@dataclass(frozen=True)
class TimelinePoint:
    start: str | None
    denied: int
    statuses: Mapping[str, int]


@dataclass(frozen=True)
class HostTimeline:
    """Denials of one destination per time bucket (the bucket grows with the span, at most 240 points)."""

    host: str
    port: int | None
    bucket_seconds: int
    points: tuple[TimelinePoint, ...]


@dataclass(frozen=True)
class ProxyLogSummary:
    """Everything `proxylog` reports about the log besides the files read and the findings."""

    lines: int
    records: int
    skipped: int
    line_counts: LineBreakdown
    filters: FilterSummary | None
    endpoints: tuple[EndpointSummary, ...]
    ignorable: tuple[IgnorableSummary, ...]
    unrelated_count: int
    phases: tuple[PhaseResult, ...]
    phase_summary: PhaseSummary
    clients: tuple[ClientRow, ...]
    clients_total: int
    auth_runs: tuple[AuthRun, ...]
    auth_runs_total: int
    tunnels: TunnelSummary
    timeline: tuple[HostTimeline, ...]
