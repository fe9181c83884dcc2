"""From proxy log records to what an admin needs: which required endpoints were denied, by whom, since when.

``ProxyLogAnalysis`` is fed one record at a time and keeps only counters, a per-minute denial timeline and a few
integers of state per client, so its memory does not grow with the log. ``results()`` gives the JSON-ready
report and ``findings()`` the diagnoses (denied endpoints with the remedy `explain 403/407` gives, 407 runs, never
seen endpoints, tunnels cut short, where the wizard's reference sequence stops). No I/O here.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aadc_doctor.analysis.phases import ClientPhases, PhaseResult, PhaseSummary, summarise
from aadc_doctor.analysis.proxylog_summary import (
    AuthRun,
    ClientRow,
    EndpointSummary,
    FilterSummary,
    HostTimeline,
    IgnorableSummary,
    LineBreakdown,
    ProxyLogSummary,
    RuleRef,
    TimelinePoint,
    TunnelSummary,
)
from aadc_doctor.knowledge import read_toml
from aadc_doctor.knowledge.communication_pattern import CommunicationPattern
from aadc_doctor.knowledge.endpoints import EndpointCatalog, EndpointRule, IgnorableHost
from aadc_doctor.knowledge.findings import TEXT, load_prefixed_templates
from aadc_doctor.logs.proxy_record import ProxyRecord, Verdict, iso, verdict_of
from aadc_doctor.model import Finding, Severity

MAX_CLIENTS = 200_000
MAX_CLIENT_SET = 1_000
MAX_TIMELINE_POINTS = 240
MAX_RUNS_KEPT = 50
# Tokens of the reference pattern that only Azure AD Connect calls (browsers sign in at login.* too).
AADC_ONLY_TOKENS = frozenset({"adminwebservice", "provisioningapi", "anchor", "relay"})
REPLAY_EVENTS = 8
# A connectivity probe (aadc-doctor check, Test-NetConnection loops, a monitoring job) asks many different endpoints
# at once; the wizard and the sync service call a handful one after the other. A client that started this many
# distinct catalog hosts within PROBE_WINDOW_SECONDS of log time is a probe run, not an Azure AD Connect server.
PROBE_DISTINCT_HOSTS = 8
PROBE_WINDOW_SECONDS = 10.0
MAX_HELD_EVENTS = 10_000  # per Azure AD Connect-like client, waiting to be put in start order
HANDSHAKE_LEGS = 2  # an NTLM/Negotiate handshake: at most two 407 answers before the request that goes through
PENDING_407_PER_DESTINATION = 16
CLOCK_SLACK_SECONDS = 1.0  # log times are rounded (W3C: whole seconds)
_Event = tuple[str, float | None, Verdict, str, int | None, int | None, str]
_BUCKETS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)


# ---- what to search for ----------------------------------------------------------------------------------------

def catalog_needles(catalog: EndpointCatalog) -> list[str]:
    """Substrings every line about a catalog host must contain (hosts as logged, in lower case).

    The tuned list in ``proxylog_findings.toml`` [scan] first; then the domain of any catalog or ignorable pattern
    it does not cover (``*.microsoftonline.com`` matches only names ending in ``.microsoftonline.com``, and an exact
    host contains itself), so a line without any of them cannot concern the catalog.
    """
    needles = [n.lower() for n in read_toml("proxylog_findings.toml")["scan"]["needles"]]
    domains = sorted({p.lower().removeprefix("*.") for p in
                      [r.pattern for r in catalog.rules] + [i.pattern for i in catalog.ignorable]})
    for domain in domains:
        if not any(n in domain for n in needles):
            needles.append(domain)
    return needles


def is_failure(record: ProxyRecord) -> bool:
    """Whether a request the proxy neither let through nor denied failed at the proxy (5xx, no answer at all).

    A 4xx to a request the proxy forwarded (a GET of a login page answered 400, a 404) is the endpoint's own
    answer, which a healthy client meets every day; to a CONNECT it can only come from the proxy.
    """
    status = record.status
    if status is None:
        return False
    if status == 0 or status >= 500:
        return True
    return 400 <= status < 500 and record.method.upper() == "CONNECT"


# ---- classification --------------------------------------------------------------------------------------------



@dataclass(frozen=True)
class Classification:
    kind: str  # "required" | "optional" | "ignorable" | "unrelated"
    rules: tuple[EndpointRule, ...] = ()
    ignorable: IgnorableHost | None = None
    port_mismatch: bool = False

    def required_by(self) -> tuple[RuleRef, ...]:
        return tuple(RuleRef(r.id, r.pattern, r.port, r.profiles, r.purpose, r.required, r.is_current)
                     for r in self.rules)

    def required_by_text(self, phrases: Mapping[str, str]) -> str:
        """Which profiles need the host and why, from proxylog_findings.toml [phrases]."""
        if not self.rules:
            return TEXT.format(phrases["not_in_catalog"])
        profiles = sorted({p for r in self.rules for p in r.profiles})
        purposes = list(dict.fromkeys(r.purpose.rstrip(".") for r in self.rules))
        return TEXT.format(phrases["needed_by"], profiles=", ".join(profiles), purposes="; ".join(purposes))


class Classifier:
    """Catalog lookups, cached per (host, port): a log repeats the same few destinations millions of times."""

    def __init__(self, catalog: EndpointCatalog) -> None:
        self.catalog = catalog
        self._cache: dict[tuple[str, int | None], Classification] = {}

    def classify(self, host: str, port: int | None) -> Classification:
        key = (host, port)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if len(self._cache) > 100_000:
            self._cache.clear()
        ignorable = self.catalog.ignorable_reason(host)
        if ignorable is not None:
            result = Classification("ignorable", ignorable=ignorable)
        else:
            rules = tuple(self.catalog.match(host, port))
            mismatch = False
            if not rules:
                rules = tuple(self.catalog.match(host))
                mismatch = bool(rules)
            if not rules:
                result = Classification("unrelated")
            elif any(r.required for r in rules) and not mismatch:
                result = Classification("required", rules)
            else:
                result = Classification("optional", rules, port_mismatch=mismatch)
        self._cache[key] = result
        return result


# ---- filters ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordFilter:
    """--client (addresses or networks), --since, --until (epoch seconds, inclusive, compared with the start)."""

    clients: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    client_names: tuple[str, ...] = ()  # non-IP client values (host names) compared as text
    since: float | None = None
    until: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.clients or self.client_names or self.since is not None or self.until is not None)

    def accepts(self, record: ProxyRecord) -> bool:
        if (self.clients or self.client_names) and (
                record.client.lower() not in self.client_names and not self._client_in_networks(record.client)):
            return False
        if self.since is not None or self.until is not None:
            when = record.start_time  # the time the report shows: a tunnel is logged when it closes
            if when is None:
                return False
            if self.since is not None and when < self.since:
                return False
            if self.until is not None and when > self.until:
                return False
        return True

    def _client_in_networks(self, client: str) -> bool:
        if not self.clients:
            return False
        try:
            address = ipaddress.ip_address(client.strip("[]"))
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            # a dual-stack listener (IIS, some proxies) logs an IPv4 client as ::ffff:10.1.2.3
            return any(address in net or address.ipv4_mapped in net for net in self.clients)
        return any(address in net for net in self.clients)

    def describe(self) -> FilterSummary:
        return FilterSummary(tuple([str(c) for c in self.clients] + list(self.client_names)), iso(self.since),
                             iso(self.until))


# ---- accumulation ----------------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Endpoint:
    host: str
    port: int | None
    cls: Classification
    token: str | None = None  # the communication pattern's name for this host, if it is one of its steps
    requests: int = 0
    allowed: int = 0
    denied: int = 0
    other: int = 0
    unknown: int = 0
    auth_challenges: int = 0
    cut_short: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    denied_statuses: Counter[str] = field(default_factory=Counter)
    other_statuses: Counter[str] = field(default_factory=Counter)
    first: float | None = None
    last: float | None = None
    clients: set[str] = field(default_factory=set)
    clients_over: bool = False
    denials: Counter[tuple[int, str]] = field(default_factory=Counter)  # (minute, status) -> count
    longest_tunnel_ms: int = 0
    failed: int = 0  # of ``other``: the proxy could not complete it (5xx, no answer), not an origin's own 4xx
    failed_statuses: Counter[str] = field(default_factory=Counter)
    denied_by_parent: Counter[str] = field(default_factory=Counter)  # parent proxy -> denials it gave
    decrypted: int = 0  # requests the proxy logged from inside the tunnel (TLS inspection)
    decrypted_clients: set[str] = field(default_factory=set)
    closed_500: int = 0  # of ``allowed``: tunnels that carried data, logged as /500 (ProxyRecord.spurious_500)
    required: bool = False  # cls.kind == "required", read once per record


@dataclass(slots=True)
class _Ignorable:
    host: str
    kind: IgnorableHost
    requests: int = 0
    denied: int = 0


@dataclass(slots=True)
class _Run:
    """A client's 407 answers that no successful request of the same host followed (handshake legs leave it)."""

    client: str
    count: int = 0
    answered: int = 0  # of them, handshake legs: followed within seconds by a success to the same destination
    first: float | None = None
    last: float | None = None
    hosts: dict[str, None] = field(default_factory=dict)
    ended_with_success: bool = False

    @property
    def unanswered(self) -> int:
        return self.count - self.answered


@dataclass(slots=True)
class _Pending407:
    """A client's 407 answers for one destination that no success has followed yet (the latest few kept)."""

    legs: deque[tuple[float | None, _Run]] = field(default_factory=deque)
    older: int = 0  # earlier ones pushed out of ``legs``


@dataclass(slots=True)
class _Client:
    requests: int = 0
    denied: int = 0
    auth_407: int = 0
    tokens: dict[str, int] = field(default_factory=dict)  # pattern token -> requests (Counter() is slow to make)
    phases: ClientPhases | None = None
    run: _Run | None = None  # the open run of 407 answers
    # per destination, the 407 answers no success has followed yet: (when, the run that counts it)
    pending_407: dict[tuple[str, int | None], _Pending407] = field(default_factory=dict)
    recent: deque[_Event] = field(default_factory=lambda: deque(maxlen=REPLAY_EVENTS))
    held: list[tuple[float, int, _Event]] = field(default_factory=list)  # a heap, by start time
    log_now: float = float("-inf")  # the latest log time of this client's pattern requests
    burst: deque[tuple[float, str]] = field(default_factory=deque)  # (log time, host) within the probe window
    burst_hosts: dict[str, int] = field(default_factory=dict)  # host -> its entries in ``burst``
    probe_like: bool = False  # asked many endpoints at once: a probe run (see PROBE_DISTINCT_HOSTS)

    def note_burst(self, when: float | None, host: str) -> None:
        """Track catalog hosts asked within PROBE_WINDOW_SECONDS; mark the client as a probe run on a burst."""
        if when is None or self.probe_like:
            return
        burst, hosts = self.burst, self.burst_hosts
        burst.append((when, host))
        hosts[host] = hosts.get(host, 0) + 1
        oldest = when - PROBE_WINDOW_SECONDS
        while burst[0][0] < oldest or len(burst) > 4 * PROBE_DISTINCT_HOSTS:
            _, gone = burst.popleft()
            left = hosts[gone] - 1
            if left:
                hosts[gone] = left
            else:
                del hosts[gone]
        if len(hosts) >= PROBE_DISTINCT_HOSTS:
            self.probe_like = True
            burst.clear()
            hosts.clear()

    @property
    def aadc_like(self) -> bool:
        """Calls only Azure AD Connect makes, and not as part of a probe run of every endpoint."""
        return not self.probe_like and any(t in AADC_ONLY_TOKENS for t in self.tokens)


@dataclass
class LineCounts:
    """What happened to every line read: the numbers add up to ``lines``."""

    lines: int = 0
    not_candidate: int = 0  # named no catalog domain: counted, never parsed (the fast path)
    no_request: int = 0  # parsed, but not a request: W3C directives, blank lines, prose around a listing
    bad: int = 0
    overlong: int = 0
    filtered_out: int = 0
    records: int = 0


class ProxyLogAnalysis:
    """Feed records with ``add``; read ``results()`` and ``findings()`` at the end."""

    def __init__(self, catalog: EndpointCatalog, pattern: CommunicationPattern,
                 record_filter: RecordFilter | None = None, thresholds: Mapping[str, float] | None = None) -> None:
        self.catalog = catalog
        self.pattern = pattern
        self.filter = record_filter or RecordFilter()
        self.classifier = Classifier(catalog)
        cfg = read_toml("proxylog_findings.toml")
        self.texts: dict[str, Any] = cfg
        self.phrases: dict[str, str] = cfg["phrases"]
        self.templates = load_prefixed_templates("proxylog_findings.toml", "finding", "proxylog-")
        self.t: dict[str, float] = {k: float(v) for k, v in cfg["thresholds"].items()}
        unknown = set(thresholds or ()) - set(self.t)
        if unknown:
            raise ValueError(f"unknown thresholds: {sorted(unknown)}")
        self.t.update(thresholds or {})
        self.counts = LineCounts()
        self.endpoints: dict[tuple[str, int | None], _Endpoint] = {}
        self.ignorable: dict[str, _Ignorable] = {}
        self.unrelated = 0
        self.clients: dict[str, _Client] = {}
        self.clients_overflow = 0
        self.runs: list[_Run] = []
        self.runs_total = 0
        self.runs_dropped = 0  # runs beyond the MAX_RUNS_KEPT worst, counted in runs_total only
        self.tunnel_seconds: Counter[int] = Counter()  # allowed CONNECTs to required endpoints, by whole seconds
        self.tunnels_measured = 0
        self.tunnel_max_ms = 0
        self.explicit_timeouts = 0
        self._sequence = 0  # keeps held events with the same start in log order
        self._filtering = self.filter.active
        # (status, action) -> (verdict_of(...), the status's text in the counters: "-" for none)
        self._verdicts: dict[tuple[int | None, str], tuple[Verdict, str]] = {}
        self._idle_evidence_ms = self.t["min_idle_evidence_seconds"] * 1000

    # -- feeding -------------------------------------------------------------------------------------------------
    def add(self, record: ProxyRecord) -> None:
        """Count one record. The hot path of `proxylog` (once per line naming a catalog domain): everything a record
        needs is unpacked once and kept in locals; what repeats (verdicts, status texts) is computed once."""
        if self._filtering and not self.filter.accepts(record):
            self.counts.filtered_out += 1
            return
        self.counts.records += 1
        (logged, client_name, host, port, method, status, action, elapsed, _user, _stage, _line, peer, decrypted,
         spurious_500) = record
        key = (host, port)
        ep = self.endpoints.get(key)
        if ep is None:
            cls = self.classifier.classify(host, port)
            if cls.kind == "unrelated":
                self.unrelated += 1
                return
            if cls.kind == "ignorable":
                self._add_ignorable(record, cls)
                return
            ep = self.endpoints[key] = _Endpoint(host, port, cls, token=self.pattern.token_for(host, port),
                                                 required=cls.kind == "required")
        known = self._verdicts.get((status, action))
        if known is None:
            known = self._verdicts[(status, action)] = (verdict_of(status, action),
                                                        "-" if status is None else str(status))
        verdict, status_key = known
        if spurious_500:
            verdict = Verdict.ALLOWED
        when = logged if logged is None or elapsed is None else logged - elapsed / 1000.0
        ep.requests += 1
        ep.statuses[status_key] += 1
        if when is not None:
            if ep.first is None or when < ep.first:
                ep.first = when
            if ep.last is None or when > ep.last:
                ep.last = when
        if not ep.clients_over and client_name not in ep.clients:
            ep.clients.add(client_name)
            ep.clients_over = len(ep.clients) >= MAX_CLIENT_SET
        client = self.clients.get(client_name)
        if client is None:
            client = self._client(client_name)
        client.requests += 1
        if logged is not None and not client.probe_like:
            burst = client.burst
            if len(burst) == 1 and burst[0][0] < logged - PROBE_WINDOW_SECONDS:
                # the usual case, what note_burst would do in short: the one call held is out of the window
                burst[0] = (logged, host)
                client.burst_hosts.clear()
                client.burst_hosts[host] = 1
            else:
                client.note_burst(logged, host)
        if verdict is Verdict.ALLOWED:
            ep.allowed += 1
            if spurious_500:
                ep.closed_500 += 1
            if client.run is not None or (client.pending_407 and key in client.pending_407):
                self._success(client, record, ep)
        elif verdict is Verdict.DENIED:
            ep.denied += 1
            ep.denied_statuses[status_key] += 1
            if peer:
                ep.denied_by_parent[peer] += 1
            client.denied += 1
            if when is not None:
                ep.denials[(int(when // 60), status_key)] += 1
            if status == 407:
                self._auth_required(client, record)
        elif verdict is Verdict.OTHER:
            ep.other += 1
            ep.other_statuses[status_key] += 1
            if is_failure(record):
                ep.failed += 1
                ep.failed_statuses[status_key] += 1
        else:
            ep.unknown += 1
        if decrypted:
            ep.decrypted += 1
            if len(ep.decrypted_clients) < MAX_CLIENT_SET:
                ep.decrypted_clients.add(client_name)
        if "_TIMEOUT" in action:  # ProxyRecord.cut_short
            ep.cut_short += 1
            self.explicit_timeouts += ep.required
        if (elapsed is not None and verdict is Verdict.ALLOWED and ep.required
                and (method == "CONNECT" or method.upper() == "CONNECT")):
            self.tunnels_measured += 1
            if elapsed > self.tunnel_max_ms:
                self.tunnel_max_ms = elapsed
            if elapsed > ep.longest_tunnel_ms:
                ep.longest_tunnel_ms = elapsed
            if elapsed >= self._idle_evidence_ms:
                self.tunnel_seconds[elapsed // 1000] += 1
        token = ep.token
        if token is not None:
            tokens = client.tokens
            tokens[token] = tokens.get(token, 0) + 1
            event = (token, when, verdict, host, port, status, action)
            if client.phases is not None:
                self._hold(client, event, logged)
            elif token in AADC_ONLY_TOKENS:
                # Phase matching starts with the first request only Azure AD Connect makes; the client's recent
                # requests before it (the sign-in that opens each phase) are replayed, so browsers cost nothing.
                client.phases = ClientPhases(self.pattern)
                for earlier in client.recent:
                    self._hold(client, earlier, None)
                client.recent.clear()
                self._hold(client, event, logged)
            else:
                client.recent.append(event)

    def _add_ignorable(self, record: ProxyRecord, cls: Classification) -> None:
        entry = self.ignorable.get(record.host)
        if entry is None:
            assert cls.ignorable is not None
            entry = self.ignorable[record.host] = _Ignorable(record.host, cls.ignorable)
        entry.requests += 1
        if record.verdict is Verdict.DENIED:
            entry.denied += 1

    def _client(self, name: str) -> _Client:
        client = self.clients.get(name)
        if client is None:
            if len(self.clients) >= MAX_CLIENTS:
                self.clients_overflow += 1
                name = "(other clients)"
                client = self.clients.get(name)
                if client is not None:
                    return client
            client = self.clients[name] = _Client()
        return client

    def _hold(self, client: _Client, event: _Event, logged: float | None) -> None:
        """Hand a client's pattern events to its phase matching in the order the requests started.

        Proxies log a request when it ends, and .NET keeps a tunnel open for 100 s after its last use, so in the
        log the sign-in that opened a phase often comes after the steps that followed it. Events wait here until
        the client's log has moved ``reorder_seconds`` past their start (or too many wait, or the log ends).
        """
        assert client.phases is not None
        held = client.held
        if event[1] is None:  # no time to order by (a listing without times): keep the log's order
            self._release(client)
            client.phases.feed(*event)
            return
        self._sequence += 1
        heapq.heappush(held, (event[1], self._sequence, event))
        if logged is not None and logged > client.log_now:
            client.log_now = logged
        horizon = client.log_now - self.t["reorder_seconds"]
        while held and (held[0][0] <= horizon or len(held) > MAX_HELD_EVENTS):
            client.phases.feed(*heapq.heappop(held)[2])

    @staticmethod
    def _release(client: _Client) -> None:
        """Match every event the client still holds back."""
        held = client.held
        while held:
            assert client.phases is not None
            client.phases.feed(*heapq.heappop(held)[2])

    def _auth_required(self, client: _Client, record: ProxyRecord) -> None:
        client.auth_407 += 1
        run = client.run
        if run is None:
            run = client.run = _Run(record.client, first=record.time)
        run.count += 1
        run.last = record.time
        if len(run.hosts) < 5:
            run.hosts[f"{record.host}:{record.port}"] = None
        key = (record.host, record.port)
        pending = client.pending_407.get(key)
        if pending is None and len(client.pending_407) < 1000:
            pending = client.pending_407[key] = _Pending407()
        if pending is not None:
            if len(pending.legs) == PENDING_407_PER_DESTINATION:
                pending.legs.popleft()
                pending.older += 1
            pending.legs.append((record.start_time, run))

    def _success(self, client: _Client, record: ProxyRecord, ep: _Endpoint) -> None:
        """A request that went through answers the 407s just before it started, and ends the run before it.

        Proxies log a request when it ends (a tunnel when it closes, minutes later), so the 407s of other
        connections opened meanwhile come first in the log: the comparison is with the request's start.
        """
        pending = client.pending_407.get((record.host, record.port)) if client.pending_407 else None
        if pending is None and client.run is None:
            return  # the common case: nothing to answer, no run to end
        start = record.start_time
        if pending is not None:
            before: list[tuple[float | None, _Run]] = []
            after: deque[tuple[float | None, _Run]] = deque()
            for leg in pending.legs:  # a 407 after this request began belongs to another connection
                late = start is not None and leg[0] is not None and leg[0] > start + CLOCK_SLACK_SECONDS
                (after if late else before).append(leg)
            if before or pending.older:
                latest = before[-1][0] if before else None
                if start is None or latest is None or latest >= start - self.t["handshake_window_seconds"]:
                    ep.auth_challenges += len(before) + pending.older
                    for _, run in before[-HANDSHAKE_LEGS:]:
                        run.answered += 1
                pending.legs, pending.older = after, 0
            if not pending.legs:
                del client.pending_407[(record.host, record.port)]
        open_run = client.run
        if open_run is None:
            return
        if open_run.unanswered <= 0:
            client.run = None  # every 407 of it was a handshake leg
        elif start is None or open_run.last is None or start >= open_run.last - CLOCK_SLACK_SECONDS:
            self._close_run(client, ended_with_success=True)

    def _close_run(self, client: _Client, *, ended_with_success: bool) -> None:
        run = client.run
        client.run = None
        if run is None or run.unanswered < self.t["auth_run_min"]:
            return
        run.ended_with_success = ended_with_success
        self.runs.append(run)
        if len(self.runs) > MAX_RUNS_KEPT * 2:
            self._keep_worst_runs()

    def _keep_worst_runs(self) -> None:
        """Drop runs that later successes reduced to handshake legs, then keep the worst few."""
        minimum = self.t["auth_run_min"]
        self.runs = [r for r in self.runs if r.unanswered >= minimum]
        self.runs.sort(key=lambda r: (r.ended_with_success, -r.count))
        self.runs_dropped += max(len(self.runs) - MAX_RUNS_KEPT, 0)
        del self.runs[MAX_RUNS_KEPT:]

    def finish(self) -> None:
        """Match the events still held back; close the open 407 runs (one still open at the end never succeeded)."""
        for client in self.clients.values():
            self._release(client)
        for client in self.clients.values():
            if client.run is not None:
                self._close_run(client, ended_with_success=False)
        self._keep_worst_runs()
        self.runs_total = len(self.runs) + self.runs_dropped

    # -- reading out ---------------------------------------------------------------------------------------------
    def primary_client(self) -> str | None:
        """The client whose traffic looks most like the Azure AD Connect server (furthest in the pattern)."""
        best: tuple[int, int, int] | None = None
        name: str | None = None
        for client_name, client in self.clients.items():
            if client.phases is None or client.probe_like:
                continue
            aadc_only = sum(n for t, n in client.tokens.items() if t in AADC_ONLY_TOKENS)
            score = (client.phases.progress, aadc_only, client.phases.events)
            if best is None or score > best:
                best, name = score, client_name
        return name

    @staticmethod
    def _endpoint_summary(ep: _Endpoint) -> EndpointSummary:
        unresolved_407 = max(ep.denied_statuses.get("407", 0) - ep.auth_challenges, 0)
        return EndpointSummary(
            ep.host, ep.port, ep.cls.kind, ep.cls.port_mismatch, ep.cls.required_by(), ep.requests, ep.allowed,
            ep.denied, unresolved_407, ep.auth_challenges, ep.other, ep.unknown, dict(sorted(ep.statuses.items())),
            iso(ep.first), iso(ep.last), len(ep.clients), ep.clients_over,
            round(ep.longest_tunnel_ms / 1000, 1) if ep.longest_tunnel_ms else None, ep.cut_short, ep.failed,
            ep.decrypted, ep.closed_500, dict(ep.denied_by_parent))

    def _timeline(self) -> tuple[HostTimeline, ...]:
        out = []
        for ep in self._sorted_endpoints():
            if not ep.denials:
                continue
            minutes = [m for m, _ in ep.denials]
            span = (max(minutes) - min(minutes) + 1) * 60
            bucket = next((b for b in _BUCKETS if span / b <= MAX_TIMELINE_POINTS), _BUCKETS[-1])
            points: dict[int, Counter[str]] = {}
            for (minute, status), n in ep.denials.items():
                start = (minute * 60 // bucket) * bucket
                points.setdefault(start, Counter())[status] += n
            rows = tuple(TimelinePoint(iso(float(s)), sum(c.values()), dict(sorted(c.items())))
                         for s, c in sorted(points.items()))
            out.append(HostTimeline(ep.host, ep.port, bucket, rows))
        return tuple(out)

    def _sorted_endpoints(self) -> list[_Endpoint]:
        order = {"required": 0, "optional": 1}
        return sorted(self.endpoints.values(),
                      key=lambda e: (order.get(e.cls.kind, 2), -e.denied, -e.requests, e.host, e.port or 0))

    def _idle_timeout(self) -> TunnelSummary:
        measured = TunnelSummary(self.tunnels_measured, round(self.tunnel_max_ms / 1000, 1) if self.tunnels_measured
                                 else None, self.explicit_timeouts, None)
        if not self.tunnel_seconds or self.tunnel_max_ms >= self.t["required_idle_seconds"] * 1000:
            return measured
        top = self.tunnel_max_ms // 1000
        tolerance = max(1, int(top * self.t["idle_tolerance_fraction"]))
        at_top = sum(n for s, n in self.tunnel_seconds.items() if s >= top - tolerance)
        return replace(measured, ending_at_longest=at_top,
                       suspected_seconds=top if at_top >= self.t["idle_cluster_min"] else None)

    def results(self, *, top_clients: int = 20) -> ProxyLogSummary:
        primary = self.primary_client()
        phases: tuple[PhaseResult, ...] = ()
        summary = PhaseSummary(primary)
        if primary is not None:
            primary_phases = self.clients[primary].phases
            assert primary_phases is not None
            phases = primary_phases.results()
            summary = summarise(phases, primary)
        clients = sorted(self.clients.items(), key=lambda kv: (-kv[1].requests, kv[0]))
        client_rows = []
        for name, cl in clients[:top_clients]:
            reached = summarise(cl.phases.results()).reached if cl.phases is not None else ()
            client_rows.append(ClientRow(name, cl.requests, cl.denied, cl.auth_407, cl.aadc_like, cl.probe_like,
                                         reached))
        c = self.counts
        ignorable = sorted(self.ignorable.values(), key=lambda i: (-i.requests, i.host))
        return ProxyLogSummary(
            lines=c.lines, records=c.records, skipped=c.lines - c.records,
            line_counts=LineBreakdown(c.not_candidate, c.no_request, c.bad, c.overlong, c.filtered_out, c.records),
            filters=self.filter.describe() if self.filter.active else None,
            endpoints=tuple(self._endpoint_summary(e) for e in self._sorted_endpoints()),
            ignorable=tuple(IgnorableSummary(i.host, i.requests, i.denied, i.kind.pattern, i.kind.reason,
                                             i.kind.source) for i in ignorable),
            unrelated_count=self.unrelated, phases=phases, phase_summary=summary, clients=tuple(client_rows),
            clients_total=len(self.clients) + self.clients_overflow,
            auth_runs=tuple(AuthRun(r.client, r.count, iso(r.first), iso(r.last), tuple(r.hosts), r.ended_with_success)
                            for r in self.runs),
            auth_runs_total=self.runs_total, tunnels=self._idle_timeout(), timeline=self._timeline())

    # -- findings ------------------------------------------------------------------------------------------------
    def _text(self, kind: str, subject: str = "", *, remedy: str = "", **values: Any) -> Finding:
        """The finding ``[finding.<kind>]`` describes, filled in strictly; ``remedy`` replaces the template's."""
        finding = self.templates[kind].render(subject, **values)
        return replace(finding, remedy=remedy) if remedy else finding

    def _phrase(self, kind: str, key: str, **values: Any) -> str:
        """A text of ``[finding.<kind>]`` besides title, detail and remedy (a note, an alternative), filled in."""
        return TEXT.format(self.texts["finding"][kind][key], **values)

    def _status_text(self, status: int, host: str = "", port: int | None = None) -> tuple[str, str]:
        """(the article's text, the remedy) for 403/407: the remedy `check` gives for the same answer to CONNECT,
        the text `explain 403/407` prints; the seed's table if either is missing."""
        from aadc_doctor.knowledge.codes import http_entry

        fallback = self.texts.get(f"fallback_{status}", self.texts["fallback_403"])
        entry = http_entry(status)
        message = f"{entry.name}: {entry.message}" if entry is not None else fallback["message"]
        remedy = entry.remedy if entry is not None and entry.remedy else fallback["remedy"]
        try:
            from aadc_doctor.knowledge.connectivity_findings import load_connectivity_knowledge

            outcome = "proxy_forbidden" if status != 407 else "proxy_auth_required"
            template = load_connectivity_knowledge().outcome[outcome]
        except (ImportError, KeyError, ValueError):
            return message, remedy
        rendered = template.render(allow=host or self.phrases["any_url"], port=port or "", proxy="").remedy
        return message, " ".join(rendered.replace("(port )", "").split()).replace(" :", ":")

    def findings(self, results: ProxyLogSummary, *, fast_path: bool = False) -> list[Finding]:
        """The diagnoses; ``fast_path``: only candidate lines were parsed (the bad-lines finding says so)."""
        out: list[Finding] = []
        required = [e for e in self._sorted_endpoints() if e.cls.kind == "required"]
        for ep in required:
            out.extend(self._denial_findings(ep))
            if ep.failed:
                summary = ", ".join(f"{n}x {s}" for s, n in sorted(ep.failed_statuses.items()))
                out.append(self._text("required-failed", f"{ep.host}:{ep.port}", host=ep.host, port=ep.port,
                                      summary=summary, required_by=ep.cls.required_by_text(self.phrases),
                                      first_seen=iso(ep.first), last_seen=iso(ep.last)))
        for run in self.runs[:5]:
            ending = self._phrase("auth-failing", "ending_success" if run.ended_with_success else "ending_failure")
            _, remedy = self._status_text(407)
            out.append(self._text("auth-failing", run.client or self._phrase("auth-failing", "unknown_client_subject"),
                                  client=run.client or self._phrase("auth-failing", "unknown_client"), count=run.count,
                                  first_seen=iso(run.first), last_seen=iso(run.last),
                                  hosts=", ".join(run.hosts), ending=ending, remedy=remedy))
        out.extend(self._decrypted_findings())
        out.extend(self._coverage_findings(results))
        out.extend(self._phase_findings(results))
        tunnels = results.tunnels
        if tunnels.suspected_seconds is not None or self.explicit_timeouts:
            seconds = tunnels.suspected_seconds or tunnels.longest_seconds
            evidence = []
            if tunnels.suspected_seconds is not None:
                evidence.append(self._phrase("idle-timeout", "cluster_evidence", seconds=seconds,
                                             count=tunnels.ending_at_longest))
            if self.explicit_timeouts:
                evidence.append(self._phrase("idle-timeout", "timeout_evidence", n=self.explicit_timeouts))
            finding = self._text("idle-timeout", "proxy", seconds=seconds, evidence=" ".join(evidence))
            close = self.t["client_idle_close_seconds"]
            suspected = tunnels.suspected_seconds
            if (not self.explicit_timeouts and suspected is not None
                    and close <= suspected <= close + self.t["client_idle_close_margin_seconds"]):
                finding = replace(finding, severity=Severity.INFO,
                                  title=self._phrase("idle-timeout", "client_close_title", seconds=seconds),
                                  detail=f"{finding.detail} {self._phrase('idle-timeout', 'client_close_note')}")
            out.append(finding)
        for item in results.ignorable:
            if item.denied:
                out.append(self._text("ignorable-denied", item.host, host=item.host, count=item.denied,
                                      reason=item.reason))
        counts = self.counts
        if counts.bad or counts.overlong:
            explain = self._phrase("bad-lines", "fast_path_note" if fast_path else "full_parse_note")
            finding = self._text("bad-lines", "", count=counts.bad + counts.overlong, explain=explain)
            parsed = counts.records + counts.filtered_out + counts.bad
            if parsed and counts.bad > self.t["bad_line_warning_fraction"] * parsed:
                finding = Finding(finding.id, Severity.WARNING, finding.title, finding.detail, finding.remedy,
                                  finding.subject, finding.references)
            out.append(finding)
        return out

    def _decrypted_findings(self) -> list[Finding]:
        """TLS inspection of Microsoft traffic: the proxy logged requests it could only see by decrypting."""
        inspected = [e for e in self._sorted_endpoints() if e.decrypted and e.cls.kind in ("required", "optional")]
        if not inspected:
            return []
        hosts = list(dict.fromkeys(e.host for e in inspected))
        count = sum(e.decrypted for e in inspected)
        clients = len(set().union(*(e.decrypted_clients for e in inspected)))
        shown = ", ".join(hosts[:8])
        named = (self._phrase("tls-decrypted", "more_hosts", hosts=shown, more=len(hosts) - 8) if len(hosts) > 8
                 else shown)
        return [self._text("tls-decrypted", shown, hosts=named, count=count, clients=clients, host_count=len(hosts))]

    def _denial_findings(self, ep: _Endpoint) -> list[Finding]:
        out = []
        forbidden = {s: n for s, n in ep.denied_statuses.items() if s != "407"}
        unresolved_407 = max(ep.denied_statuses.get("407", 0) - ep.auth_challenges, 0)
        groups = [(403, sum(forbidden.values()), "/".join(sorted(forbidden))), (407, unresolved_407, "407")]
        clients = len(ep.clients) if not ep.clients_over else f"{MAX_CLIENT_SET}+"
        for status, count, label in groups:
            if count <= 0:
                continue
            message, remedy = self._status_text(status, ep.host, ep.port)
            finding = self._text("required-denied", f"{ep.host}:{ep.port}", host=ep.host, port=ep.port,
                                 count=count, status=label, required_by=ep.cls.required_by_text(self.phrases),
                                 clients=clients,
                                 first_seen=iso(ep.first), last_seen=iso(ep.last), message=message,
                                 remedy=remedy)
            if ep.denied_by_parent and status == 403:
                parents = ", ".join(sorted(ep.denied_by_parent))
                note = self._phrase("required-denied", "parent_note", parents=parents,
                                    n=sum(ep.denied_by_parent.values()))
                finding = replace(finding, detail=f"{finding.detail} {note}",
                                  remedy=self._phrase("required-denied", "parent_remedy", parents=parents,
                                                      host=ep.host, port=ep.port))
            out.append(finding)
        return out

    def _coverage_findings(self, results: ProxyLogSummary) -> list[Finding]:
        if not self.endpoints:
            filters = within = ""
            if self.filter.active:
                filters = self._phrase("no-azure-traffic", "filters_note", n=self.counts.filtered_out)
                if self.counts.filtered_out:  # there is Azure AD traffic: the filters left none of it
                    within = self._phrase("no-azure-traffic", "within_note")
            return [self._text("no-azure-traffic", "", lines=self.counts.lines, filters=filters, within=within)]
        primary = results.phase_summary.client
        pattern_clients = {n: c for n, c in self.clients.items() if c.tokens}
        if not pattern_clients:
            return []
        aadc_like = [n for n, c in pattern_clients.items() if c.aadc_like]
        if not aadc_like:
            # Browsers and one-off probes sign in at login.* too: without Azure AD Connect's own calls the log is
            # simply not about it, which is only worth saying when --client named the server
            if not (self.filter.clients or self.filter.client_names):
                return []
            seen = sorted({f"{e.host}:{e.port}" for e in self.endpoints.values()
                           if self.pattern.token_for(e.host, e.port)})
            return [self._text("server-not-seen", "", clients=len(pattern_clients), seen=", ".join(seen[:5]),
                               client_note=self._phrase("server-not-seen", "client_note"))]
        assert primary is not None
        tokens = self.clients[primary].tokens
        missing = [self.pattern.token(t).label for t in self._skipped_tokens(results, tokens)]
        if not missing:
            return []
        seen_labels = [self.pattern.token(t).label for t in tokens]
        scope = (self._phrase("never-seen", "scope_client", client=primary) if primary
                 else self._phrase("never-seen", "scope_traffic"))
        return [self._text("never-seen", ", ".join(missing), missing=", ".join(missing), count=len(missing),
                           scope=scope, seen=", ".join(seen_labels))]

    def _skipped_tokens(self, results: ProxyLogSummary, seen: Mapping[str, int]) -> list[str]:
        """Where the sequence stops at a step that never appears at all while later steps of the same phase do:
        that call went around the proxy (the later steps did not)."""
        summary = results.phase_summary
        if summary.stops_at is None:
            return []
        phase = next(p for p in self.pattern.phases if p.id == summary.stops_at)
        result = next(p for p in results.phases if p.id == phase.id)
        if result.blocked is not None or result.next_step is None:
            return []
        index = result.next_step.step - 1
        awaited = phase.steps[index].token
        earlier = {s.token for s in phase.steps[:index + 1]}
        later = {s.token for s in phase.steps[index + 1:]} - earlier
        if awaited in seen or not later & set(seen):
            return []
        return [awaited]

    def _phase_findings(self, results: ProxyLogSummary) -> list[Finding]:
        summary = results.phase_summary
        phases = results.phases
        if not phases:
            return []
        client_note = self._phrase("phase-stops", "client_note", client=summary.client) if summary.client else ""
        names = {p.id: p.name for p in phases}
        reached = ", ".join(names[i] for i in summary.reached) or self._phrase("phase-stops", "none_reached")
        if summary.stops_at is None:
            return []  # every phase reached (the report shows them): nothing to diagnose
        phase = next(p for p in phases if p.id == summary.stops_at)
        step = phase.next_step
        blocked = phase.blocked
        if blocked is None:
            # The wizard was not run further in this period, or the log ends: a healthy server's log looks so
            # (only a denial or failure at the next step is evidence; a call that went around the proxy is
            # never-seen's case)
            return []
        assert step is not None  # a phase that is not complete waits for a step
        status = blocked.status
        what = self._phrase("phase-stops", "what_happened", answer=status if status is not None else blocked.action,
                            count=blocked.count, last_seen=blocked.last_seen, host=blocked.host, port=blocked.port)
        finding = self._text("phase-stops", phase.name, phase=phase.name, matched=phase.matched_steps,
                             total=phase.total_steps, reached=reached, expects=step.expects,
                             describes=step.describes, what_happened=what, identity=phase.identity,
                             client_note=client_note)
        if blocked.status in (403, 407):
            _, remedy = self._status_text(blocked.status, blocked.host, blocked.port)
            finding = Finding(finding.id, Severity.ERROR, finding.title, finding.detail, remedy, finding.subject,
                              finding.references)
        return [finding]
