"""PTA sign-in evidence to findings: failed requests by reason and hour, bursts, agent errors, correlation.

Evidence is collected as it streams in (``PtaEvidence``); ``analyse`` then turns it into the typed results
of ``pta trace`` / ``pta events`` (``results/pta.py``) and the findings with remedies. Pure: no I/O.
"""

from __future__ import annotations

import heapq
from array import array
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aadc_doctor.analysis.security_events import SignInAttempt
from aadc_doctor.knowledge.findings import FindingTemplate, load_finding_templates
from aadc_doctor.logs.event_xml import format_iso_time as iso
from aadc_doctor.model import Finding, Severity
from aadc_doctor.results.pta import (
    AgentEventRow,
    BurstRow,
    CorrelatedPair,
    EventIdCount,
    EvtxFileRead,
    FailedRequest,
    FileRead,
    HourCount,
    HourReasonCount,
    OtherFailures,
    PtaResults,
    PtaSummary,
    ReasonRow,
    StatusRow,
    SuccessCount,
    TraceFileRead,
    TraceProblemRow,
    XmlFileRead,
)

CORRELATION_WINDOW = timedelta(seconds=5)
EQUIVALENT_REASONS = {1317: 1326}  # an unknown user reaches LogonUser callers as 1326 too
SAMPLES = 3
OTHER_SAMPLE = 20
REQUESTS_KEPT = 1000  # the latest PTA failures listed in full; all are counted


@dataclass
class _Tally:
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    samples: list[str] = field(default_factory=list)
    levels: Counter[str] = field(default_factory=Counter)

    def add(self, time: datetime | None, sample: str, level: str = "") -> None:
        self.count += 1
        if time is not None:
            self.first = time if self.first is None or time < self.first else self.first
            self.last = time if self.last is None or time > self.last else self.last
        if sample and len(self.samples) < SAMPLES and sample not in self.samples:
            self.samples.append(sample[:500])
        if level:
            self.levels[level] += 1

    def merge(self, other: _Tally) -> None:
        self.count += other.count
        for time in (other.first, other.last):
            if time is not None:
                self.first = time if self.first is None or time < self.first else self.first
                self.last = time if self.last is None or time > self.last else self.last
        for sample in other.samples:
            if len(self.samples) < SAMPLES and sample not in self.samples:
                self.samples.append(sample)
        self.levels.update(other.levels)


# ---- failures, one compact row each ------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
NO_TIME = -(2**63)  # an attempt without a time
NO_CODE = -1  # no reason (a status that maps to no Win32 code)
AGENT, TRACE, SECURITY, DROPPED = 1, 2, 4, 8  # row flags; DROPPED: an event merged into its trace failure


def _micros(time: datetime | None) -> int:
    if time is None:
        return NO_TIME
    if time.tzinfo is None:
        time = time.replace(tzinfo=UTC)
    return (time - EPOCH) // _MICROSECOND


def _datetime(micros: int) -> datetime | None:
    return None if micros == NO_TIME else EPOCH + timedelta(microseconds=micros)


class _Numbered:
    """Distinct values numbered once (accounts, clients, statuses): the failure rows hold the numbers."""

    def __init__(self, empty: Any) -> None:
        self.values: list[Any] = [empty]
        self.numbers: dict[Any, int] = {empty: 0}

    def number(self, value: Any) -> int:
        found = self.numbers.get(value)
        if found is None:
            found = self.numbers[value] = len(self.values)
            self.values.append(value)
        return found


class FailureRows:
    """Every failed attempt as one row of typed arrays (about 50 bytes), not one object with its strings.

    Counts, first/last seen, bursts, accounts per burst and the trace/event correlation are computed from
    these rows, so they stay exact however many failures a log holds, while only the latest few failures
    are kept whole (for the ``requests`` list). Successes are not rows: they are only counted.
    """

    def __init__(self) -> None:
        self.time = array("q")
        self.reason = array("q")
        self.detail = array("q")
        self.flags = bytearray()
        self.account = array("I")
        self.client = array("I")
        self.computer = array("I")
        self.status = array("I")  # (event_id, Status, SubStatus)
        self.position = array("q")
        self.accounts = _Numbered("")
        self.clients = _Numbered("")
        self.computers = _Numbered("")
        self.statuses = _Numbered((None, "", ""))

    def __len__(self) -> int:
        return len(self.flags)

    def add(self, attempt: SignInAttempt) -> int:
        """Store a failed attempt; returns its row number (also its arrival order)."""
        self.time.append(_micros(attempt.time))
        self.reason.append(NO_CODE if attempt.reason is None else attempt.reason)
        self.detail.append(NO_CODE if attempt.detail_reason is None else attempt.detail_reason)
        self.flags.append((AGENT if attempt.from_agent else 0)
                          | (TRACE if attempt.origin == "trace" else SECURITY if attempt.origin == "security" else 0))
        self.account.append(self.accounts.number(attempt.account))
        self.client.append(self.clients.number(attempt.client))
        self.computer.append(self.computers.number(attempt.computer))
        self.status.append(self.statuses.number((attempt.event_id, attempt.status, attempt.substatus)))
        self.position.append(-1 if attempt.position is None else attempt.position)
        return len(self.flags) - 1

    def extend(self, other: FailureRows) -> int:
        """Append another file's rows (renumbering its values); returns the offset of its first row."""
        offset = len(self)
        self.time.extend(other.time)
        self.reason.extend(other.reason)
        self.detail.extend(other.detail)
        self.flags.extend(other.flags)
        self.position.extend(other.position)
        for mine, theirs, column, their_column in (
                (self.accounts, other.accounts, self.account, other.account),
                (self.clients, other.clients, self.client, other.client),
                (self.computers, other.computers, self.computer, other.computer),
                (self.statuses, other.statuses, self.status, other.status)):
            renumber = [mine.number(v) for v in theirs.values]
            column.extend(renumber[n] for n in their_column)
        return offset

    def live(self, row: int) -> bool:
        return not self.flags[row] & DROPPED

    def by_agent(self, row: int) -> bool:
        """Made by the PTA agent: a trace failure, or an event that names its process or host."""
        return bool(self.flags[row] & (AGENT | TRACE))

    def reason_of(self, row: int) -> int | None:
        code = self.reason[row]
        return None if code == NO_CODE else code

    def account_of(self, row: int) -> str:
        return str(self.accounts.values[self.account[row]])


@dataclass
class SuccessTally:
    """The agent's successful sign-ins: counted (by hour), never kept one by one (a busy server has millions)."""

    count: int = 0
    first: int = NO_TIME
    last: int = NO_TIME
    by_hour: Counter[int] = field(default_factory=Counter)

    def add(self, time: datetime | None) -> None:
        self.count += 1
        micros = _micros(time)
        if micros != NO_TIME:
            self._span(micros, micros)
            self.by_hour[micros // 3_600_000_000] += 1

    def _span(self, first: int, last: int) -> None:
        self.first = first if self.first == NO_TIME or first < self.first else self.first
        self.last = last if self.last == NO_TIME or last > self.last else self.last

    def merge(self, other: SuccessTally) -> None:
        self.count += other.count
        if other.first != NO_TIME:
            self._span(other.first, other.last)
        self.by_hour.update(other.by_hour)

    def counted(self) -> SuccessCount:
        return SuccessCount(self.count, iso(_datetime(self.first)), iso(_datetime(self.last)),
                            tuple(HourCount(_hour_text(h), c) for h, c in sorted(self.by_hour.items())))


def _hour_text(hour: int) -> str:
    return (EPOCH + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:00Z")


_Kept = tuple[tuple[int, int, int], SignInAttempt]  # ((undated, time, row), attempt): latest = largest


def _keep(heap: list[_Kept], limit: int, item: _Kept) -> None:
    """Keep the ``limit`` latest items (a min-heap: the oldest kept is dropped first)."""
    if len(heap) < limit:
        heapq.heappush(heap, item)
    elif item[0] > heap[0][0]:
        heapq.heapreplace(heap, item)


@dataclass
class PtaEvidence:
    """Everything read so far; filled while parsers stream, read once by ``analyse``.

    Memory does not grow with successes (counted) and grows by one compact row per failure; only the
    latest REQUESTS_KEPT PTA failures and OTHER_SAMPLE other failures are kept as whole attempts.
    """

    failures: FailureRows = field(default_factory=FailureRows)
    successes: SuccessTally = field(default_factory=SuccessTally)
    agent_logons_seen: bool = False  # a Security event naming the agent process (or host), success or failure
    latest_requests: list[_Kept] = field(default_factory=list)  # the agent's failures (trace or event)
    latest_others: list[_Kept] = field(default_factory=list)  # failures by other processes
    trace_problems: dict[str, _Tally] = field(default_factory=dict)
    agent_events: dict[tuple[str, int], _Tally] = field(default_factory=dict)
    events_by_id: Counter[int] = field(default_factory=Counter)
    files: list[FileRead] = field(default_factory=list)
    damaged: list[EvtxFileRead] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # files inside a folder/.zip that are not logs
    trace_entries: int = 0
    security_events: int = 0
    agents_seen: set[str] = field(default_factory=set)

    def merge(self, other: PtaEvidence) -> None:
        """Add the evidence of another file (read elsewhere, for example in a worker process)."""
        offset = self.failures.extend(other.failures)
        for heap, limit, theirs in ((self.latest_requests, 2 * REQUESTS_KEPT, other.latest_requests),
                                    (self.latest_others, OTHER_SAMPLE, other.latest_others)):
            for (undated, micros, row), attempt in theirs:
                _keep(heap, limit, ((undated, micros, row + offset), attempt))
        self.successes.merge(other.successes)
        self.agent_logons_seen |= other.agent_logons_seen
        for key, tally in other.trace_problems.items():
            self.trace_problems.setdefault(key, _Tally()).merge(tally)
        for event_key, tally in other.agent_events.items():
            self.agent_events.setdefault(event_key, _Tally()).merge(tally)
        self.events_by_id.update(other.events_by_id)
        self.files.extend(other.files)
        self.damaged.extend(other.damaged)
        self.skipped.extend(other.skipped)
        self.trace_entries += other.trace_entries
        self.security_events += other.security_events
        self.agents_seen.update(other.agents_seen)

    def add_attempt(self, attempt: SignInAttempt) -> None:
        if attempt.origin == "security" and attempt.from_agent:
            self.agent_logons_seen = True
        if not attempt.failed:
            self.successes.add(attempt.time)
            return
        row = self.failures.add(attempt)
        micros = self.failures.time[row]
        key = (1, 0, row) if micros == NO_TIME else (0, micros, row)  # undated ones last, as the list sorts them
        if attempt.from_agent or attempt.origin == "trace":
            # twice the listed number: events merged into their trace failure drop out of the list
            _keep(self.latest_requests, 2 * REQUESTS_KEPT, (key, attempt))
        else:
            _keep(self.latest_others, OTHER_SAMPLE, (key, attempt))

    def add_trace_problem(self, category: str, level: str, message: str, time: datetime | None) -> None:
        tally = self.trace_problems.get(category)
        if tally is None:
            tally = self.trace_problems[category] = _Tally()
        tally.add(time, message, level)

    def add_agent_event(self, channel: str, event_id: int, level: str, message: str, time: datetime | None) -> None:
        key = (channel, event_id)
        tally = self.agent_events.get(key)
        if tally is None:
            tally = self.agent_events[key] = _Tally()
        tally.add(time, message, level)


@dataclass(frozen=True)
class Burst:
    """The densest run of one failure reason: how many, over what time, how many accounts."""

    reason: int
    count: int
    start: datetime
    end: datetime
    accounts: int
    top_accounts: tuple[tuple[str, int], ...]
    clients: tuple[tuple[str, int], ...]
    by_agent: int = 0  # how many of them the PTA agent made (trace entries, or events naming its process)


# ---- correlation ------------------------------------------------------------------------------


def _same_reason(a: int | None, b: int | None) -> bool:
    if a is None or b is None:
        return False
    return EQUIVALENT_REASONS.get(a, a) == EQUIVALENT_REASONS.get(b, b)


def match_rows(rows: FailureRows) -> list[tuple[int, int]]:
    """(trace row, event row) for each trace failure and the agent's own failure event for it.

    Same reason, within CORRELATION_WINDOW, the nearest unused event; trace failures in time order.
    """
    times = rows.time
    trace = sorted((i for i in range(len(rows)) if rows.flags[i] & TRACE and times[i] != NO_TIME),
                   key=times.__getitem__)
    events = sorted((i for i in range(len(rows)) if rows.flags[i] & SECURITY and rows.flags[i] & AGENT
                     and times[i] != NO_TIME), key=times.__getitem__)
    if not trace or not events:
        return []
    window = CORRELATION_WINDOW // _MICROSECOND
    used: set[int] = set()
    pairs: list[tuple[int, int]] = []
    start = 0
    for t in trace:
        t_time = times[t]
        t_reason = rows.reason_of(t)
        while start < len(events) and times[events[start]] < t_time - window:
            start += 1
        best: int | None = None
        best_gap = 0
        j = start
        while j < len(events):
            e = events[j]
            if times[e] > t_time + window:
                break
            if e not in used and _same_reason(t_reason, rows.reason_of(e)):
                gap = abs(times[e] - t_time)
                if best is None or gap < best_gap:
                    best, best_gap = e, gap
            j += 1
        if best is not None:
            used.add(best)
            pairs.append((t, best))
    return pairs


def merge_rows(rows: FailureRows, pairs: list[tuple[int, int]]) -> None:
    """The trace row gains its event's account, status and source; the event row is dropped (counted once)."""
    for t, e in pairs:
        for column in (rows.account, rows.client, rows.computer, rows.status, rows.detail):
            column[t] = column[e]
        rows.flags[e] |= DROPPED


def _merged(attempt: SignInAttempt, rows: FailureRows, e: int) -> SignInAttempt:
    event_id, status, substatus = rows.statuses.values[rows.status[e]]
    detail = rows.detail[e]
    return replace(attempt, account=rows.account_of(e), status=status, substatus=substatus,
                   detail_reason=None if detail == NO_CODE else detail,
                   computer=str(rows.computers.values[rows.computer[e]]),
                   client=str(rows.clients.values[rows.client[e]]), event_id=event_id)


def _pair(trace: SignInAttempt, rows: FailureRows, e: int) -> CorrelatedPair:
    event_id, status, substatus = rows.statuses.values[rows.status[e]]
    position = rows.position[e]
    return CorrelatedPair(request_id=trace.request_id, time=iso(trace.time), reason=trace.reason,
                          account=rows.account_of(e), event_time=iso(_datetime(rows.time[e])), event_id=event_id,
                          computer=str(rows.computers.values[rows.computer[e]]), status=status, substatus=substatus,
                          record=None if position < 0 else position)


@cache
def pta_finding_templates() -> dict[str, FindingTemplate]:
    """pta_findings.toml: every text `pta` reports, strict (a placeholder not filled is a bug)."""
    return load_finding_templates("pta_findings.toml", "finding", PTA_FINDING_KEYS, lenient=False)


PTA_FINDING_KEYS = ("status_unmapped", "agent_reason", "other_reason", "lockout_one_account", "lockout_burst",
                    "password_spray", "bad_password_burst", "trace_category", "trace_other", "agent_event",
                    "agent_log_errors", "no_agent_dc_only", "no_agent_events", "evtx_damaged", "event_xml_cut_short",
                    "trace_cut_short", "event_file_skipped", "trace_file_skipped")


# ---- bursts -----------------------------------------------------------------------------------


def burst_in_rows(rows: FailureRows, reason: int, window: timedelta, min_events: int) -> Burst | None:
    """The episode around the densest ``window`` of ``reason`` failures, if that window holds ``min_events``."""
    times = rows.time
    timed = sorted((i for i in range(len(rows)) if rows.live(i) and times[i] != NO_TIME
                    and _same_reason(rows.reason_of(i), reason)), key=times.__getitem__)
    span = window // _MICROSECOND
    best = (0, 0, 0)  # count, i, j
    i = 0
    for j, row in enumerate(timed):
        while times[timed[i]] < times[row] - span:
            i += 1
        if j - i + 1 > best[0]:
            best = (j - i + 1, i, j)
    count, i, j = best
    if count < min_events:
        return None
    # widen the densest window to the whole episode: neighbours closer than one window belong to it
    while i > 0 and times[timed[i]] - times[timed[i - 1]] <= span:
        i -= 1
    while j + 1 < len(timed) and times[timed[j + 1]] - times[timed[j]] <= span:
        j += 1
    chunk = timed[i:j + 1]
    accounts = Counter(rows.account_of(r).lower() for r in chunk if rows.account[r])
    clients = Counter(str(rows.clients.values[rows.client[r]]) for r in chunk if rows.client[r])
    start, end = _datetime(times[chunk[0]]), _datetime(times[chunk[-1]])
    assert start is not None and end is not None
    return Burst(reason=reason, count=len(chunk), start=start, end=end, accounts=len(accounts),
                 top_accounts=tuple(accounts.most_common(5)), clients=tuple(clients.most_common(5)),
                 by_agent=sum(1 for r in chunk if rows.by_agent(r)))


def find_burst(failures: list[SignInAttempt], reason: int, window: timedelta, min_events: int) -> Burst | None:
    """``burst_in_rows`` for a list of failed attempts."""
    rows = FailureRows()
    for a in failures:
        rows.add(a)
    return burst_in_rows(rows, reason, window, min_events)


# ---- analysis ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonInfo:
    """What one Win32 reason means, from the shared code tables (plus our fallbacks)."""

    code: int
    name: str
    message: str
    title: str
    aadsts: int | None
    user_sees: str
    remedy: str


@cache
def reason_info(code: int) -> ReasonInfo:
    from aadc_doctor.knowledge.codes import pta_reason, win32_entry
    from aadc_doctor.knowledge.pta_events import fallback_reasons

    entry = win32_entry(code)
    name = entry.name if entry else ""
    message = entry.message if entry else "(no Windows message known for this code)"
    known = pta_reason(code)
    if known is not None:
        return ReasonInfo(code, name, message, known.title, known.aadsts_code, known.user_sees, known.admin_remedy)
    fallback = fallback_reasons().get(code)
    if fallback is not None:
        return ReasonInfo(code, name, message, fallback.title, fallback.aadsts_code, fallback.user_sees,
                          fallback.admin_remedy)
    return ReasonInfo(code, name, message, name or f"Win32 error {code}", None, "",
                      f"Look up the code with `aadc-doctor explain {code}` and check the agent server's Security "
                      "log (4625) for the account at that time.")


def _by_hour(rows: FailureRows) -> tuple[HourCount, ...]:
    hours: Counter[int] = Counter()
    for row in range(len(rows)):
        micros = rows.time[row]
        if micros != NO_TIME and rows.live(row):
            hours[micros // 3_600_000_000] += 1
    # formatted once per hour, not once per failure (a busy log has millions)
    return tuple(HourCount(_hour_text(h), c) for h, c in sorted(hours.items()))


def by_hour_and_reason(rows: FailureRows) -> tuple[HourReasonCount, ...]:
    """Failures per hour and reason of the live rows, for the HTML report's heat map (not in the JSON: by_hour and
    by_reason are). ``analyse`` calls it after dropping the event rows a trace row was matched with."""
    cells: Counter[tuple[int, int]] = Counter()
    for row in range(len(rows)):
        micros = rows.time[row]
        if micros != NO_TIME and rows.live(row):
            cells[(micros // 3_600_000_000, rows.reason[row])] += 1
    return tuple(HourReasonCount(_hour_text(hour), None if code == NO_CODE else code, count)
                 for (hour, code), count in sorted(cells.items()))


def _by_reason(rows: FailureRows) -> tuple[ReasonRow, ...]:
    counts: Counter[int] = Counter()
    agent_counts: Counter[int] = Counter()
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for row in range(len(rows)):
        if not rows.live(row):
            continue
        code = rows.reason[row]
        counts[code] += 1
        if rows.flags[row] & AGENT:
            agent_counts[code] += 1
        micros = rows.time[row]
        if micros != NO_TIME:
            if code not in first or micros < first[code]:
                first[code] = micros
            if code not in last or micros > last[code]:
                last[code] = micros
    result: list[ReasonRow] = []
    for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], max(kv[0], 0))):
        info = reason_info(code) if code != NO_CODE else None
        result.append(ReasonRow(
            reason=None if code == NO_CODE else code, name=info.name if info else "",
            message=info.message if info else "", title=info.title if info else "unmapped status",
            aadsts=info.aadsts if info else None, count=count, pta_agent_count=agent_counts[code],
            first_seen=iso(_datetime(first.get(code, NO_TIME))), last_seen=iso(_datetime(last.get(code, NO_TIME)))))
    return tuple(result)


def _by_status(rows: FailureRows) -> tuple[StatusRow, ...]:
    from aadc_doctor.analysis.security_events import parse_status
    from aadc_doctor.knowledge.codes import kerberos_entry, ntstatus_entry

    by_number: Counter[tuple[int, int]] = Counter()  # (status number, reason) -> count
    for row in range(len(rows)):
        if rows.flags[row] & SECURITY and rows.status[row] and rows.live(row):
            by_number[(rows.status[row], rows.reason[row])] += 1
    counts: Counter[tuple[int | None, str, str, int | None]] = Counter()
    for (number, reason_code), count in by_number.items():
        event_id, status, substatus = rows.statuses.values[number]
        if status:
            reason = None if reason_code == NO_CODE else reason_code
            counts[(event_id, status.lower(), substatus.lower(), reason)] += count
    result: list[StatusRow] = []
    for (event_id, status, substatus, reason), count in sorted(counts.items(), key=lambda kv: -kv[1]):
        code = parse_status(status)
        if event_id in (4768, 4771):
            entry = kerberos_entry(code) if code is not None else None
        else:
            entry = ntstatus_entry(code) if code is not None else None
        sub_code = parse_status(substatus)
        sub_entry = ntstatus_entry(sub_code) if sub_code else None
        result.append(StatusRow(event_id=event_id, status=status, status_name=entry.name if entry else "",
                                status_message=entry.message if entry else "", substatus=substatus,
                                substatus_name=sub_entry.name if sub_entry else "",
                                substatus_message=sub_entry.message if sub_entry else "", reason=reason,
                                count=count))
    return tuple(result)


def _span(first: datetime | None, last: datetime | None) -> str:
    if first is None:
        return "the log records no times"
    if last is None or last == first:
        return f"seen at {iso(first)}"
    return f"seen from {iso(first)} to {iso(last)}"


@dataclass
class _Group:
    """Failures of one reason, by the agent or not: what its finding says."""

    count: int = 0
    first: int = NO_TIME
    last: int = NO_TIME
    accounts: set[str] = field(default_factory=set)
    statuses: set[int] = field(default_factory=set)


def _groups(rows: FailureRows) -> dict[tuple[int | None, bool], _Group]:
    groups: dict[tuple[int | None, bool], _Group] = {}
    for row in range(len(rows)):
        if not rows.live(row):
            continue
        key = (rows.reason_of(row), rows.by_agent(row))
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group()
        group.count += 1
        micros = rows.time[row]
        if micros != NO_TIME:
            group.first = micros if group.first == NO_TIME or micros < group.first else group.first
            group.last = micros if group.last == NO_TIME or micros > group.last else group.last
        if rows.account[row]:
            group.accounts.add(rows.account_of(row).lower())
        if key[0] is None:
            group.statuses.add(rows.status[row])
    return groups


def _reason_findings(rows: FailureRows) -> list[Finding]:
    from aadc_doctor.knowledge.pta_events import infrastructure_reasons

    t = pta_finding_templates()
    findings: list[Finding] = []
    infra = infrastructure_reasons()
    for (code, agent), group in sorted(_groups(rows).items(), key=lambda kv: (-kv[1].count, kv[0][0] or 0)):
        span = _span(_datetime(group.first), _datetime(group.last))
        who = f", {len(group.accounts)} account(s)" if group.accounts else ""
        if code is None:
            statuses = sorted({f"{status}/{substatus}".rstrip("/")
                               for _, status, substatus in (rows.statuses.values[n] for n in group.statuses)})
            findings.append(t["status_unmapped"].render("security log", count=group.count,
                                                        statuses=", ".join(statuses[:10]), span=span))
            continue
        info = reason_info(code)
        if info.user_sees:
            user = f"User side: {info.user_sees}"
        else:
            user = f"The user most likely saw AADSTS{info.aadsts}." if info.aadsts else ""
        when = span[0].upper() + span[1:]
        if agent:
            finding = t["agent_reason"].render(
                f"Reason {code}", count=group.count, title=info.title, code=code, name=info.name or code,
                message=info.message, user=user, when=when, who=who, remedy=info.remedy)
            findings.append(replace(finding, detail=finding.detail.replace("  ", " "),  # an empty {user}
                                    severity=Severity.ERROR if code in infra else finding.severity))
        else:
            findings.append(t["other_reason"].render(f"Win32 {code}", count=group.count, title=info.title, code=code,
                                                     message=info.message, when=when, who=who, remedy=info.remedy))
    return findings


def _burst_findings(rows: FailureRows) -> tuple[list[Finding], list[BurstRow]]:
    from aadc_doctor.knowledge.pta_events import burst_rule

    rule = burst_rule()
    t = pta_finding_templates()
    window = timedelta(minutes=rule.window_minutes)
    findings: list[Finding] = []
    bursts: list[BurstRow] = []
    for reason in sorted(rule.reasons):
        if reason == 1317:
            continue  # counted together with 1326
        burst = burst_in_rows(rows, reason, window, rule.min_events)
        if burst is None:
            continue
        minutes = max((burst.end - burst.start).total_seconds() / 60, 0.0)
        who = (f"{burst.accounts} distinct account(s)" if burst.accounts else "accounts not recorded "
               "(trace logs name none; add the agent server's Security log to see them)")
        top = ", ".join(f"{name} ({n})" for name, n in burst.top_accounts)
        clients = ", ".join(f"{name} ({n})" for name, n in burst.clients)
        bursts.append(BurstRow(reason=reason, count=burst.count, start=iso(burst.start), end=iso(burst.end),
                               minutes=minutes, accounts=burst.accounts, top_accounts=burst.top_accounts,
                               clients=burst.clients, by_agent=burst.by_agent))
        if burst.by_agent == burst.count:
            made_by = "All of them by the PTA agent."
        elif burst.by_agent:
            made_by = f"{burst.by_agent} of them by the PTA agent, the others by other processes or DC events."
        else:
            made_by = ("None by the PTA agent: other processes, or domain controller events that name none; they "
                       "matter for PTA when they lock out accounts users sign in with.")
        detail = (f"{burst.count} failures within {minutes:.1f} minutes, {iso(burst.start)} to {iso(burst.end)}; "
                  f"{who}." + (f" Most hit: {top}." if top else "") + (f" Clients: {clients}." if clients else "")
                  + f" {made_by}")
        if reason == 1909 and burst.accounts and burst.top_accounts[0][1] * 2 >= burst.count:
            # one account retried again and again while locked: a client with a stale password, not spraying
            findings.append(t["lockout_one_account"].render("Reason 1909", account=burst.top_accounts[0][0],
                                                            detail=detail))
        elif reason == 1909:
            findings.append(t["lockout_burst"].render("Reason 1909", detail=detail))
        else:
            spray = burst.accounts >= 5 and burst.top_accounts and burst.top_accounts[0][1] <= 3
            findings.append(t["password_spray" if spray else "bad_password_burst"].render(f"Reason {reason}",
                                                                                          detail=detail))
    return findings, bursts


def _trace_problem_findings(evidence: PtaEvidence) -> tuple[list[Finding], list[TraceProblemRow]]:
    from aadc_doctor.knowledge.pta_events import trace_categories

    categories = {c.id: c for c in trace_categories()}
    t = pta_finding_templates()
    findings: list[Finding] = []
    rows: list[TraceProblemRow] = []
    for cat_id, tally in sorted(evidence.trace_problems.items(), key=lambda kv: -kv[1].count):
        category = categories.get(cat_id)
        levels = ", ".join(f"{n} {lvl.lower()}" for lvl, n in tally.levels.most_common())
        rows.append(TraceProblemRow(category=cat_id, count=tally.count, levels=dict(tally.levels),
                                    first_seen=iso(tally.first), last_seen=iso(tally.last),
                                    samples=tuple(tally.samples)))
        errors = tally.levels.get("Error", 0) + tally.levels.get("Critical", 0)
        severity = Severity.WARNING if errors else Severity.INFO
        sample = tally.samples[0] if tally.samples else ""
        noun = "entry" if tally.count == 1 else "entries"
        summary = f"{tally.count} {noun} ({levels}), {_span(tally.first, tally.last)}. Example: {sample}"
        if category is not None:
            finding = t["trace_category"].render("trace log", category=cat_id, title=category.title,
                                                 summary=summary, remedy=category.remedy)
            findings.append(replace(finding, severity=severity))  # a warning when an entry is an error
        else:
            findings.append(t["trace_other"].render("trace log", summary=summary))
    return findings, rows


def _agent_event_findings(evidence: PtaEvidence) -> tuple[list[Finding], list[AgentEventRow]]:
    from aadc_doctor.knowledge.pta_events import agent_event

    t = pta_finding_templates()
    findings: list[Finding] = []
    rows: list[AgentEventRow] = []
    unexplained_errors: list[str] = []
    for (channel, event_id), tally in sorted(evidence.agent_events.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        sample = tally.samples[0] if tally.samples else ""
        known = agent_event(channel, event_id, sample)
        level = tally.levels.most_common(1)[0][0] if tally.levels else ""
        rows.append(AgentEventRow(channel=channel, event_id=event_id, level=level, count=tally.count,
                                  first_seen=iso(tally.first), last_seen=iso(tally.last),
                                  samples=tuple(tally.samples), explained=known.title if known else None))
        if known is not None:
            finding = t["agent_event"].render(channel, event_id=event_id, title=known.title, meaning=known.meaning,
                                              channel=channel, count=tally.count, span=_span(tally.first, tally.last),
                                              remedy=known.remedy)
            findings.append(replace(finding, severity=Severity.ERROR if known.level == "error" else finding.severity))
        elif level in ("Error", "Critical", "Warning"):
            unexplained_errors.append(f"{event_id} ×{tally.count} ({level.lower()}): {sample[:200]}")
    if unexplained_errors:
        findings.append(t["agent_log_errors"].render("agent Admin log", errors="; ".join(unexplained_errors[:8])))
    return findings, rows


def _latest_requests(evidence: PtaEvidence, pairs: list[tuple[int, int]]
                     ) -> tuple[list[SignInAttempt], list[CorrelatedPair]]:
    """The latest REQUESTS_KEPT failed PTA requests, oldest first, merged with their events; their pairs."""
    rows = evidence.failures
    event_of = dict(pairs)
    kept = [(row, attempt) for (_, _, row), attempt in sorted(evidence.latest_requests) if rows.live(row)]
    kept = kept[-REQUESTS_KEPT:]
    requests = [_merged(attempt, rows, event_of[row]) if row in event_of else attempt for row, attempt in kept]
    correlated = [_pair(attempt, rows, event_of[row]) for row, attempt in kept if row in event_of]
    return requests, correlated


def _failed_request(attempt: SignInAttempt) -> FailedRequest:
    """A request with the AADSTS code the user most likely saw (its message is in by_reason)."""
    return FailedRequest(attempt, None if attempt.reason is None else reason_info(attempt.reason).aadsts)


def _no_agent_finding(evidence: PtaEvidence) -> Finding:
    """Why no event was the agent's: the wrong server's log, auditing off, or DC events that name no process."""
    from aadc_doctor.analysis.security_events import EXPLICIT_CREDENTIALS, LOGON_FAILURE, LOGON_SUCCESS

    member_events = sum(evidence.events_by_id.get(i, 0) for i in (LOGON_SUCCESS, LOGON_FAILURE, EXPLICIT_CREDENTIALS))
    t = pta_finding_templates()
    if member_events == 0:
        return t["no_agent_dc_only"].render("security log")
    return t["no_agent_events"].render("security log", member_events=member_events)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("." if text and not text.endswith(".") else "")


def analyse(evidence: PtaEvidence, *, expect_agent: bool) -> tuple[list[Finding], PtaResults]:
    """Findings and the results of DESIGN.md (requests, by_reason, and the rest, with the heat map's cells).

    Merges the matched event rows into their trace rows: call it once per evidence.
    """
    rows = evidence.failures
    pairs = match_rows(rows)
    merge_rows(rows, pairs)
    requests, correlated = _latest_requests(evidence, pairs)
    findings = _reason_findings(rows)
    burst_findings, bursts = _burst_findings(rows)
    findings += burst_findings
    trace_findings, other_errors = _trace_problem_findings(evidence)
    findings += trace_findings
    event_findings, agent_events = _agent_event_findings(evidence)
    findings += event_findings
    t = pta_finding_templates()
    for damaged in evidence.damaged:
        expected = damaged.expected_records
        of = f" of the {expected} its chunk headers claim" if expected else ""
        findings.append(t["evtx_damaged"].render(damaged.name, records=damaged.records, of=of,
                                                 errors=_sentence("; ".join(damaged.errors[:3]))))
    for file in evidence.files:
        match file:
            case XmlFileRead(cut_short=cut_short) if cut_short:
                findings.append(t["event_xml_cut_short"].render(file.name, name=file.name, cut_short=cut_short))
            case TraceFileRead(cut_short=cut_short) if cut_short:
                findings.append(t["trace_cut_short"].render(file.name, name=file.name, cut_short=cut_short,
                                                            entries=file.entries))
    for skipped in evidence.skipped:
        kind = "event_file_skipped" if skipped.get("kind") == "events" else "trace_file_skipped"
        findings.append(t[kind].render(skipped["name"], reason=skipped["reason"]))
    if expect_agent and evidence.security_events and not evidence.agent_logons_seen:
        findings.append(_no_agent_finding(evidence))
    failed = len(rows) - len(pairs)  # each pair drops its event row
    failed_by_agent = sum(1 for row in range(len(rows)) if rows.live(row) and rows.by_agent(row))
    others = sorted(evidence.latest_others)
    results = PtaResults(
        requests=tuple(_failed_request(a) for a in requests),
        requests_total=failed_by_agent,
        requests_truncated=failed_by_agent > len(requests),
        other_failures=OtherFailures(failed - failed_by_agent, tuple(a for _, a in others)),
        by_reason=_by_reason(rows),
        by_hour=_by_hour(rows),
        by_status=_by_status(rows),
        bursts=tuple(bursts),
        other_errors=tuple(other_errors),
        agent_events=tuple(agent_events),
        correlated=tuple(correlated),
        correlated_total=len(pairs),
        successes=evidence.successes.counted(),
        events_by_id=tuple(EventIdCount(k, v) for k, v in sorted(evidence.events_by_id.items())),
        files=tuple(evidence.files),
        summary=PtaSummary(failed=failed, failed_by_agent=failed_by_agent,
                           succeeded_by_agent=evidence.successes.count, trace_entries=evidence.trace_entries,
                           security_events=evidence.security_events, agents=tuple(sorted(evidence.agents_seen))),
        by_hour_reason=by_hour_and_reason(rows),
    )
    return findings, results
