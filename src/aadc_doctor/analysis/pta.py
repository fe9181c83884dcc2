"""PTA sign-in evidence to findings: failed requests by reason and hour, bursts, agent errors, correlation.

Evidence is collected as it streams in (``PtaEvidence``); ``analyse`` then turns it into the JSON results
of ``pta trace`` / ``pta events`` and the findings with remedies. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from aadc_doctor.analysis.security_events import SignInAttempt
from aadc_doctor.logs.event_xml import format_iso_time as iso
from aadc_doctor.model import Finding, Severity

PTA_DOC = "https://learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-pass-through-authentication"
CORRELATION_WINDOW = timedelta(seconds=5)
EQUIVALENT_REASONS = {1317: 1326}  # an unknown user reaches LogonUser callers as 1326 too
SAMPLES = 3
OTHER_SAMPLE = 20


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


@dataclass
class PtaEvidence:
    """Everything read so far; filled while parsers stream, read once by ``analyse``."""

    attempts: list[SignInAttempt] = field(default_factory=list)
    trace_problems: dict[str, _Tally] = field(default_factory=dict)
    agent_events: dict[tuple[str, int], _Tally] = field(default_factory=dict)
    events_by_id: Counter[int] = field(default_factory=Counter)
    files: list[dict[str, Any]] = field(default_factory=list)
    damaged: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # files inside a folder/.zip that are not logs
    trace_entries: int = 0
    security_events: int = 0
    agents_seen: set[str] = field(default_factory=set)

    def merge(self, other: PtaEvidence) -> None:
        """Add the evidence of another file (read elsewhere, for example in a worker process)."""
        self.attempts.extend(other.attempts)
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
        self.attempts.append(attempt)

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


def correlate(attempts: list[SignInAttempt]) -> tuple[list[SignInAttempt], list[dict[str, Any]]]:
    """Merge each trace failure with the agent's own 4625 for it (same reason, within a few seconds).

    The trace log knows the RequestId but not the account; the Security event knows the account. A
    merged request keeps the trace's RequestId and gains the account, so it is counted once.
    """
    trace = sorted((a for a in attempts if a.origin == "trace" and a.failed and a.time is not None),
                   key=lambda a: a.time or datetime.min)
    events = sorted((a for a in attempts if a.origin == "security" and a.failed and a.from_agent
                     and a.time is not None), key=lambda a: a.time or datetime.min)
    if not trace or not events:
        return attempts, []
    used: set[int] = set()
    merged: dict[int, SignInAttempt] = {}
    pairs: list[dict[str, Any]] = []
    start = 0
    for t in trace:
        assert t.time is not None
        earliest = t.time - CORRELATION_WINDOW
        while start < len(events) and (events[start].time or earliest) < earliest:
            start += 1
        best: int | None = None
        best_gap: timedelta | None = None
        j = start
        while j < len(events):
            e = events[j]
            assert e.time is not None
            if e.time > t.time + CORRELATION_WINDOW:
                break
            if id(e) not in used and _same_reason(t.reason, e.reason):
                gap = abs(e.time - t.time)
                if best_gap is None or gap < best_gap:
                    best, best_gap = j, gap
            j += 1
        if best is None:
            continue
        e = events[best]
        used.add(id(e))
        merged[id(t)] = replace(t, account=e.account, status=e.status, substatus=e.substatus,
                                detail_reason=e.detail_reason, computer=e.computer, client=e.client,
                                event_id=e.event_id)
        pairs.append({"request_id": t.request_id, "time": iso(t.time), "reason": t.reason, "account": e.account,
                      "event_time": iso(e.time), "event_id": e.event_id, "computer": e.computer,
                      "status": e.status, "substatus": e.substatus, "record": e.position})
    result = [merged.get(id(a), a) for a in attempts if id(a) not in used]
    return result, pairs


# ---- bursts -----------------------------------------------------------------------------------


def find_burst(failures: list[SignInAttempt], reason: int, window: timedelta, min_events: int) -> Burst | None:
    """The episode around the densest ``window`` of ``reason`` failures, if that window holds ``min_events``."""
    timed = sorted((a for a in failures if a.time is not None and _same_reason(a.reason, reason)),
                   key=lambda a: a.time or datetime.min)
    best = (0, 0, 0)  # count, i, j
    i = 0
    for j, a in enumerate(timed):
        assert a.time is not None
        while timed[i].time < a.time - window:  # type: ignore[operator]
            i += 1
        if j - i + 1 > best[0]:
            best = (j - i + 1, i, j)
    count, i, j = best
    if count < min_events:
        return None
    # widen the densest window to the whole episode: neighbours closer than one window belong to it
    while i > 0 and timed[i].time - timed[i - 1].time <= window:  # type: ignore[operator]
        i -= 1
    while j + 1 < len(timed) and timed[j + 1].time - timed[j].time <= window:  # type: ignore[operator]
        j += 1
    chunk = timed[i:j + 1]
    count = len(chunk)
    accounts = Counter(a.account.lower() for a in chunk if a.account)
    clients = Counter(a.client for a in chunk if a.client)
    assert chunk[0].time is not None and chunk[-1].time is not None
    return Burst(reason=reason, count=count, start=chunk[0].time, end=chunk[-1].time, accounts=len(accounts),
                 top_accounts=tuple(accounts.most_common(5)), clients=tuple(clients.most_common(5)),
                 by_agent=sum(1 for a in chunk if a.from_agent or a.origin == "trace"))


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


def _by_hour(failures: list[SignInAttempt]) -> list[dict[str, Any]]:
    hours: Counter[datetime] = Counter()
    for a in failures:
        if a.time is not None:
            hours[a.time.replace(minute=0, second=0, microsecond=0)] += 1
    # formatted once per hour, not once per failure (a busy log has millions)
    return [{"hour": h.strftime("%Y-%m-%dT%H:00Z"), "count": c} for h, c in sorted(hours.items())]


def _by_reason(failures: list[SignInAttempt]) -> list[dict[str, Any]]:
    tallies: dict[int | None, _Tally] = {}
    agent_counts: Counter[int | None] = Counter()
    for a in failures:
        tally = tallies.get(a.reason)
        if tally is None:  # not setdefault(key, _Tally()): that builds a tally for every failure
            tally = tallies[a.reason] = _Tally()
        tally.add(a.time, "")
        if a.from_agent:
            agent_counts[a.reason] += 1
    rows = []
    for code, tally in sorted(tallies.items(), key=lambda kv: (-kv[1].count, kv[0] or 0)):
        info = reason_info(code) if code is not None else None
        rows.append({
            "reason": code, "name": info.name if info else "", "message": info.message if info else "",
            "title": info.title if info else "unmapped status",
            "aadsts": info.aadsts if info else None, "count": tally.count, "pta_agent_count": agent_counts[code],
            "first_seen": iso(tally.first), "last_seen": iso(tally.last),
        })
    return rows


def _by_status(failures: list[SignInAttempt]) -> list[dict[str, Any]]:
    from aadc_doctor.analysis.security_events import parse_status
    from aadc_doctor.knowledge.codes import kerberos_entry, ntstatus_entry

    counts: Counter[tuple[int | None, str, str, int | None]] = Counter()
    for a in failures:
        if a.origin == "security" and a.status:
            counts[(a.event_id, a.status.lower(), a.substatus.lower(), a.reason)] += 1
    rows = []
    for (event_id, status, substatus, reason), count in sorted(counts.items(), key=lambda kv: -kv[1]):
        code = parse_status(status)
        if event_id in (4768, 4771):
            entry = kerberos_entry(code) if code is not None else None
        else:
            entry = ntstatus_entry(code) if code is not None else None
        sub_code = parse_status(substatus)
        sub_entry = ntstatus_entry(sub_code) if sub_code else None
        rows.append({"event_id": event_id, "status": status, "status_name": entry.name if entry else "",
                     "status_message": entry.message if entry else "", "substatus": substatus,
                     "substatus_name": sub_entry.name if sub_entry else "",
                     "substatus_message": sub_entry.message if sub_entry else "", "reason": reason, "count": count})
    return rows


def _span(first: datetime | None, last: datetime | None) -> str:
    if first is None:
        return "the log records no times"
    if last is None or last == first:
        return f"seen at {iso(first)}"
    return f"seen from {iso(first)} to {iso(last)}"


def _reason_findings(failures: list[SignInAttempt]) -> list[Finding]:
    from aadc_doctor.knowledge.pta_events import infrastructure_reasons

    findings: list[Finding] = []
    infra = infrastructure_reasons()
    groups: dict[tuple[int | None, bool], list[SignInAttempt]] = {}
    for a in failures:
        groups.setdefault((a.reason, a.from_agent or a.origin == "trace"), []).append(a)
    for (code, agent), group in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0][0] or 0)):
        times = [a.time for a in group if a.time is not None]
        span = _span(min(times) if times else None, max(times) if times else None)
        accounts = {a.account.lower() for a in group if a.account}
        who = f", {len(accounts)} account(s)" if accounts else ""
        if code is None:
            statuses = sorted({f"{a.status}/{a.substatus}".rstrip("/") for a in group})
            findings.append(Finding(
                id="logon-status-unmapped", severity=Severity.INFO,
                title=f"{len(group)} failed logon(s) with a status that maps to no Win32 reason",
                detail=f"Statuses: {', '.join(statuses[:10])}; {span}.",
                remedy="Look the status up with `aadc-doctor explain <status>`.", subject="security log"))
            continue
        info = reason_info(code)
        if info.user_sees:
            user = f"User side: {info.user_sees}"
        else:
            user = f"The user most likely saw AADSTS{info.aadsts}." if info.aadsts else ""
        if agent:
            severity = Severity.ERROR if code in infra else Severity.WARNING
            findings.append(Finding(
                id=f"pta-reason-{code}", severity=severity,
                title=f"{len(group)} PTA sign-in(s) failed: {info.title}",
                detail=f"net helpmsg {code} ({info.name or code}): {info.message} {user} "
                       f"{span[0].upper()}{span[1:]}{who}.".replace("  ", " "),
                remedy=info.remedy, subject=f"Reason {code}", references=(PTA_DOC,)))
        else:
            findings.append(Finding(
                id=f"logon-reason-{code}", severity=Severity.INFO,
                title=f"{len(group)} failed logon(s) not made by the PTA agent: {info.title}",
                detail=f"{info.message} {span[0].upper()}{span[1:]}{who}. These come from other processes or from "
                       "domain controller events that name no process; they matter for PTA only if they lock out "
                       "accounts the agent validates.",
                remedy=info.remedy, subject=f"Win32 {code}"))
    return findings


def _burst_findings(failures: list[SignInAttempt]) -> tuple[list[Finding], list[dict[str, Any]]]:
    from aadc_doctor.knowledge.pta_events import burst_rule

    rule = burst_rule()
    window = timedelta(minutes=rule.window_minutes)
    findings: list[Finding] = []
    bursts: list[dict[str, Any]] = []
    for reason in sorted(rule.reasons):
        if reason == 1317:
            continue  # counted together with 1326
        burst = find_burst(failures, reason, window, rule.min_events)
        if burst is None:
            continue
        minutes = max((burst.end - burst.start).total_seconds() / 60, 0.0)
        who = (f"{burst.accounts} distinct account(s)" if burst.accounts else "accounts not recorded "
               "(trace logs name none; add the agent server's Security log to see them)")
        top = ", ".join(f"{name} ({n})" for name, n in burst.top_accounts)
        clients = ", ".join(f"{name} ({n})" for name, n in burst.clients)
        bursts.append({"reason": reason, "count": burst.count, "start": iso(burst.start), "end": iso(burst.end),
                       "minutes": round(minutes, 1), "accounts": burst.accounts,
                       "top_accounts": [list(t) for t in burst.top_accounts],
                       "clients": [list(c) for c in burst.clients], "by_agent": burst.by_agent})
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
            account = burst.top_accounts[0][0]
            findings.append(Finding(
                id="pta-lockout-burst", severity=Severity.WARNING,
                title=f"Repeated sign-ins to a locked-out account ({account}): a device or service with an old "
                      "password?", detail=detail,
                remedy="Find what keeps signing in with the old password (Entra sign-in logs: client app and "
                       "device; 4740 on the PDC emulator names the caller computer for on-premises lockouts): a "
                       "phone's mail app, a mapped drive or a scheduled task. Update or remove it, then unlock "
                       "the account.",
                subject="Reason 1909", references=(PTA_DOC,)))
        elif reason == 1909:
            findings.append(Finding(
                id="pta-lockout-burst", severity=Severity.WARNING,
                title="A burst of locked-out accounts: possibly password spraying", detail=detail,
                remedy="Find the source of the bad passwords (Entra sign-in logs for the cloud side; 4740 on the PDC "
                       "emulator and 4625/4771 on DCs for on-premises). Set Entra Smart Lockout's threshold below "
                       "the AD lockout threshold and its duration above AD's, so cloud attempts are stopped "
                       "before they lock AD accounts.",
                subject="Reason 1909", references=(PTA_DOC,)))
        else:
            spray = burst.accounts >= 5 and burst.top_accounts and burst.top_accounts[0][1] <= 3
            findings.append(Finding(
                id="password-spray-suspected" if spray else "bad-password-burst", severity=Severity.WARNING,
                title=("Many accounts failing with wrong passwords in a short time: password spraying suspected"
                       if spray else "A burst of wrong-password failures"), detail=detail,
                remedy="Check the Entra sign-in logs and Identity Protection for the source IPs; block them, enforce "
                       "MFA, and keep Smart Lockout below the AD lockout threshold. If one account dominates, look "
                       "for a device or service with a stale password.",
                subject=f"Reason {reason}"))
    return findings, bursts


def _trace_problem_findings(evidence: PtaEvidence) -> tuple[list[Finding], list[dict[str, Any]]]:
    from aadc_doctor.knowledge.pta_events import trace_categories

    categories = {c.id: c for c in trace_categories()}
    findings: list[Finding] = []
    rows: list[dict[str, Any]] = []
    for cat_id, tally in sorted(evidence.trace_problems.items(), key=lambda kv: -kv[1].count):
        category = categories.get(cat_id)
        levels = ", ".join(f"{n} {lvl.lower()}" for lvl, n in tally.levels.most_common())
        rows.append({"category": cat_id, "count": tally.count, "levels": dict(tally.levels),
                     "first_seen": iso(tally.first), "last_seen": iso(tally.last), "samples": tally.samples})
        errors = tally.levels.get("Error", 0) + tally.levels.get("Critical", 0)
        severity = Severity.WARNING if errors else Severity.INFO
        sample = tally.samples[0] if tally.samples else ""
        noun = "entry" if tally.count == 1 else "entries"
        summary = f"{tally.count} {noun} ({levels}), {_span(tally.first, tally.last)}. Example: {sample}"
        if category is not None:
            findings.append(Finding(
                id=f"pta-trace-{cat_id}", severity=severity, title=f"{category.title} in the agent trace log",
                detail=summary,
                remedy=category.remedy, subject="trace log", references=(PTA_DOC,)))
        else:
            findings.append(Finding(
                id="pta-trace-other-errors", severity=Severity.INFO,
                title="Other errors and warnings in the agent trace log",
                detail=summary,
                remedy="Read the entries around these times in the trace log; if they repeat, collect the Trace "
                       "folder and the Admin event log for Microsoft Support.", subject="trace log"))
    return findings, rows


def _agent_event_findings(evidence: PtaEvidence) -> tuple[list[Finding], list[dict[str, Any]]]:
    from aadc_doctor.knowledge.pta_events import agent_event

    findings: list[Finding] = []
    rows: list[dict[str, Any]] = []
    unexplained_errors: list[str] = []
    for (channel, event_id), tally in sorted(evidence.agent_events.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        sample = tally.samples[0] if tally.samples else ""
        known = agent_event(channel, event_id, sample)
        level = tally.levels.most_common(1)[0][0] if tally.levels else ""
        rows.append({"channel": channel, "event_id": event_id, "level": level, "count": tally.count,
                     "first_seen": iso(tally.first), "last_seen": iso(tally.last), "samples": tally.samples,
                     "explained": known.title if known else None})
        if known is not None:
            findings.append(Finding(
                id=f"pta-agent-event-{event_id}",
                severity=Severity.ERROR if known.level == "error" else Severity.WARNING,
                title=known.title, detail=f"{known.meaning} Event {event_id} in {channel}: {tally.count} time(s), "
                f"{_span(tally.first, tally.last)}.", remedy=known.remedy, subject=channel))
        elif level in ("Error", "Critical", "Warning"):
            unexplained_errors.append(f"{event_id} ×{tally.count} ({level.lower()}): {sample[:200]}")
    if unexplained_errors:
        findings.append(Finding(
            id="pta-agent-log-errors", severity=Severity.WARNING,
            title="Errors or warnings in the agent's own event log",
            detail="; ".join(unexplained_errors[:8]),
            remedy="Read these events with their full text in Event Viewer on the agent server; connectivity and "
                   "certificate errors usually point to the proxy or firewall (run `aadc-doctor check --profile pta` "
                   "there).", subject="agent Admin log"))
    return findings, rows


def _request_dict(attempt: SignInAttempt) -> dict[str, Any]:
    """A request as JSON, with the AADSTS code the user most likely saw (its message is in by_reason)."""
    data = attempt.to_dict()
    if attempt.failed and attempt.reason is not None:
        data["aadsts"] = reason_info(attempt.reason).aadsts
    return data


def _no_agent_finding(evidence: PtaEvidence) -> Finding:
    """Why no event was the agent's: the wrong server's log, auditing off, or DC events that name no process."""
    from aadc_doctor.analysis.security_events import EXPLICIT_CREDENTIALS, LOGON_FAILURE, LOGON_SUCCESS

    member_events = sum(evidence.events_by_id.get(i, 0) for i in (LOGON_SUCCESS, LOGON_FAILURE, EXPLICIT_CREDENTIALS))
    if member_events == 0:
        return Finding(
            id="pta-no-agent-events", severity=Severity.INFO,
            title="Only domain-controller events (4768/4771/4776): none can be tied to the PTA agent by process",
            detail="Kerberos (4768/4771) and NTLM (4776) events on a domain controller name the client, not the "
                   "process, so these failures are reported as not made by the agent.",
            remedy="Give the agent servers' names or addresses with --agent-host to attribute the DC events they "
                   "caused, or export the Security log of each agent server, where the agent's own 4624/4625 "
                   "events carry its ProcessName (`aadc-doctor pta dc-query` prints the filter).",
            subject="security log")
    return Finding(
        id="pta-no-agent-events", severity=Severity.INFO,
        title="No logon events from the PTA agent process in these Security logs",
        detail=f"None of the {member_events} 4624/4625/4648 events names the agent's executable as ProcessName. The "
               "agent's sign-ins are logged on the server where the agent runs (not on the domain controllers), and "
               "only when logon auditing is on.",
        remedy="Export the Security log of each agent server, with \"Audit Logon\" (success and failure) enabled "
               "by policy; `aadc-doctor pta dc-query` prints the Event Viewer filter for the agent's events. Use "
               "--process for a non-default install path.", subject="security log")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("." if text and not text.endswith(".") else "")


def analyse(evidence: PtaEvidence, *, expect_agent: bool) -> tuple[list[Finding], dict[str, Any]]:
    """Findings and the results dict of DESIGN.md (requests, by_reason, and the rest)."""
    attempts, correlated = correlate(evidence.attempts)
    attempts.sort(key=lambda a: (a.time is None, a.time or datetime.min))
    failures = [a for a in attempts if a.failed]
    findings = _reason_findings(failures)
    burst_findings, bursts = _burst_findings(failures)
    findings += burst_findings
    trace_findings, other_errors = _trace_problem_findings(evidence)
    findings += trace_findings
    event_findings, agent_events = _agent_event_findings(evidence)
    findings += event_findings
    for damaged in evidence.damaged:
        expected = damaged.get("expected_records")
        of = f" of the {expected} its chunk headers claim" if expected else ""
        findings.append(Finding(
            id="evtx-damaged", severity=Severity.ERROR, title="The .evtx file is truncated or damaged",
            detail=f"{damaged['records']} records could still be read{of}. "
                   + _sentence("; ".join(damaged.get("errors", [])[:3])),
            remedy="Export the log again on the server (wevtutil epl <log> <file>.evtx, or Event Viewer > Save All "
                   "Events As) and copy it whole; counts below cover only the records that could be read.",
            subject=str(damaged["name"])))
    for file in evidence.files:
        if file.get("cut_short"):
            findings.append(Finding(
                id="trace-file-cut-short", severity=Severity.WARNING, title="A compressed trace file ends early",
                detail=f"{file['name']}: {file['cut_short']}. The {file['entries']} entries before that point were "
                       "read; failures logged after it are not counted.",
                remedy="Copy the file again from the agent server's Trace folder (or compress it again there).",
                subject=str(file["name"])))
    for skipped in evidence.skipped:
        if skipped.get("kind") == "events":
            findings.append(Finding(
                id="event-file-skipped", severity=Severity.INFO, title="A file in an event-log folder was skipped",
                detail=f"{skipped['reason']}. The other files were read.",
                remedy="Nothing to do if the file was collected by accident (a configuration XML, say); if it should "
                       "be an event log, export it again with wevtutil epl <log> <file>.evtx.",
                subject=skipped["name"]))
            continue
        findings.append(Finding(
            id="trace-file-skipped", severity=Severity.WARNING, title="A file in the trace folder could not be read",
            detail=f"{skipped['reason']}. The other files were read; failures this file may log are not counted.",
            remedy="Copy the file again from the agent server's Trace folder. A file of NUL bytes is what a crash "
                   "or power loss leaves behind while the agent was writing; if that is what it is, nothing "
                   "more can be recovered from it.",
            subject=skipped["name"]))
    if expect_agent and evidence.security_events and not any(a.origin == "security" and a.from_agent for a in attempts):
        findings.append(_no_agent_finding(evidence))
    pta_requests = [a for a in attempts if a.from_agent or a.origin == "trace"]
    others = [a for a in failures if not (a.from_agent or a.origin == "trace")]
    results: dict[str, Any] = {
        # the PTA agent's own requests, all of them; other processes' failures are counted in by_reason,
        # by_status and bursts, and only their latest few are listed (a busy DC log has millions)
        "requests": [_request_dict(a) for a in pta_requests],
        "other_failures": {"count": len(others), "latest": [a.to_dict() for a in others[-OTHER_SAMPLE:]]},
        "by_reason": _by_reason(failures),
        "by_hour": _by_hour(failures),
        "by_status": _by_status(failures),
        "bursts": bursts,
        "other_errors": other_errors,
        "agent_events": agent_events,
        "correlated": correlated,
        "events_by_id": [{"event_id": k, "count": v} for k, v in sorted(evidence.events_by_id.items())],
        "files": evidence.files,
        "summary": {"failed": len(failures),
                    "failed_by_agent": sum(1 for a in failures if a.from_agent or a.origin == "trace"),
                    "succeeded_by_agent": sum(1 for a in attempts if not a.failed),
                    "trace_entries": evidence.trace_entries, "security_events": evidence.security_events,
                    "agents": sorted(evidence.agents_seen)},
    }
    return findings, results
