"""Which wizard phases a proxy log shows, matched against the article's reference sequences, and where it stops.

Each phase (Connect to Azure AD, Configure, Initial Sync) is the article's ordered list of destinations. A phase
is reached when the traffic of one client contains its steps in order (other requests in between are fine: real
logs keep the duplicates the article removed) with no gap longer than ``max_step_gap_seconds`` between steps.
Only requests the proxy let through (or a listing's, which records no status) advance a step; a denied request
for the step awaited is remembered, because that is usually why the sequence stops.

Matching is streaming, with a few integers of state per client, so it works on a log of any size. Phases are
matched in wizard order; each is also matched on its own, so a log that starts after the installation (only the
sync's traffic) still shows Initial Sync as reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aadc_doctor.knowledge.communication_pattern import CommunicationPattern, Phase
from aadc_doctor.logs.proxy_record import Verdict, iso


@dataclass(frozen=True)
class NextStep:
    """The step the sequence waits for (1-based) and what the article says it is."""

    step: int
    url: str
    expects: str
    describes: str


@dataclass(frozen=True)
class BlockedStep:
    """The denied (or failed) request for the awaited step: usually why the sequence stops."""

    host: str
    port: int | None
    status: int | None
    action: str
    count: int
    last_seen: str | None


@dataclass(frozen=True)
class PhaseResult:
    """One wizard phase as the log shows it: complete, partial (where it stops) or not seen."""

    id: str
    name: str
    current_name: str
    identity: str
    total_steps: int
    status: str  # "complete" | "partial" | "not_seen"
    matched_steps: int
    in_order: bool | None  # complete: whether in wizard order (after the phase before it); else None
    first_seen: str | None
    last_seen: str | None
    hosts: tuple[str, ...]
    next_step: NextStep | None
    blocked: BlockedStep | None


@dataclass(frozen=True)
class PhaseSummary:
    """The phases reached and the one the sequence stops in, for the client followed (None: none followed)."""

    client: str | None = None
    reached: tuple[str, ...] = ()
    stops_at: str | None = None


@dataclass
class _Blocked:
    step: int  # index of the step the denied request would have been
    host: str
    port: int | None
    status: int | None
    action: str
    time: float | None
    count: int = 1


@dataclass
class _Attempt:
    """A match of one phase in progress: how many steps so far and when."""

    matched: int = 0
    first: float | None = None
    last: float | None = None
    hosts: list[str] = field(default_factory=list)
    blocked: _Blocked | None = None


@dataclass
class _PhaseMatcher:
    phase: Phase
    max_gap: float
    attempt: _Attempt = field(default_factory=_Attempt)
    best: _Attempt = field(default_factory=_Attempt)
    done: _Attempt | None = None

    def _keep_best(self) -> None:
        a = self.attempt
        if a.matched > self.best.matched or (a.matched == self.best.matched and a.blocked and not self.best.blocked):
            self.best = a

    def feed(self, token: str, time: float | None, verdict: Verdict, host: str, port: int | None, status: int | None,
             action: str) -> bool:
        """Advance on one request; True when this completes the phase."""
        if self.done is not None:
            return False
        a = self.attempt
        if a.matched and time is not None and a.last is not None and time - a.last > self.max_gap:
            self._keep_best()
            self.attempt = a = _Attempt()
        steps = self.phase.steps
        step = a.matched
        if token != steps[step].token:
            # A repeated step (the second sign-in) may be missing from a log (a cached token): accept the step
            # after it instead.
            repeat = steps[step].token in {s.token for s in steps[:step]}
            if not (repeat and step + 1 < len(steps) and token == steps[step + 1].token):
                return False
            step += 1
        if verdict in (Verdict.DENIED, Verdict.OTHER):
            if a.blocked and a.blocked.host == host and a.blocked.status == status and a.blocked.step == step:
                a.blocked.count += 1
                a.blocked.time = time
            else:
                a.blocked = _Blocked(step, host, port, status, action, time)
            self._keep_best()
            return False
        a.matched = step + 1
        if time is not None:  # min/max: proxies log at completion, so log order is not quite start order
            a.first = time if a.first is None else min(a.first, time)
            a.last = time if a.last is None else max(a.last, time)
        a.hosts.append(host)
        a.blocked = None
        if a.matched == len(self.phase.steps):
            self.done = a
            self.attempt = _Attempt()
            return True
        self._keep_best()
        return False


@dataclass
class ClientPhases:
    """Phase matching for one client: in wizard order, and each phase on its own."""

    pattern: CommunicationPattern
    events: int = 0
    sequence_index: int = 0
    sequential: list[_PhaseMatcher] = field(default_factory=list)
    independent: list[_PhaseMatcher] = field(default_factory=list)

    def __post_init__(self) -> None:
        gap = self.pattern.max_step_gap_seconds
        self.sequential = [_PhaseMatcher(p, gap) for p in self.pattern.phases]
        self.independent = [_PhaseMatcher(p, gap) for p in self.pattern.phases]

    def feed(self, token: str, time: float | None, verdict: Verdict, host: str, port: int | None,
             status: int | None, action: str) -> None:
        self.events += 1
        args = (token, time, verdict, host, port, status, action)
        for matcher in self.independent:
            matcher.feed(*args)
        if self.sequence_index < len(self.sequential) and self.sequential[self.sequence_index].feed(*args):
            self.sequence_index += 1

    @property
    def progress(self) -> int:
        """Steps matched over all phases (to pick the client that looks most like the Azure AD Connect server)."""
        total = 0
        for seq, ind in zip(self.sequential, self.independent, strict=True):
            total += max(_matched(seq), _matched(ind))
        return total

    def results(self) -> tuple[PhaseResult, ...]:
        out: list[PhaseResult] = []
        for index, (seq, ind) in enumerate(zip(self.sequential, self.independent, strict=True)):
            phase = seq.phase
            if seq.done is not None or ind.done is not None:
                done = seq.done if seq.done is not None else ind.done
                assert done is not None
                out.append(PhaseResult(phase.id, phase.name, phase.current_name, phase.identity, len(phase.steps),
                                       "complete", len(phase.steps), seq.done is not None, iso(done.first),
                                       iso(done.last), tuple(sorted(set(done.hosts))), None, None))
                continue
            # A phase after the one the wizard is on shows no partial progress of its own: its first steps
            # are the same hosts as the current phase's, so any "progress" would be an echo.
            matchers = (seq, ind) if index == self.sequence_index else ()
            candidates = [m.best for m in matchers] + [m.attempt for m in matchers] or [_Attempt()]
            best = max(candidates, key=lambda a: (a.matched, a.blocked is not None))
            at = best.blocked.step if best.blocked is not None else best.matched
            step = phase.steps[at]
            token = self.pattern.token(step.token)
            blocked = None if best.blocked is None else BlockedStep(
                best.blocked.host, best.blocked.port, best.blocked.status, best.blocked.action, best.blocked.count,
                iso(best.blocked.time))
            out.append(PhaseResult(phase.id, phase.name, phase.current_name, phase.identity, len(phase.steps),
                                   "partial" if best.matched else "not_seen", best.matched, None, iso(best.first),
                                   iso(best.last), tuple(sorted(set(best.hosts))),
                                   NextStep(at + 1, step.url, token.label, token.describes), blocked))
        return tuple(out)


def _matched(m: _PhaseMatcher) -> int:
    if m.done is not None:
        return len(m.phase.steps)
    return max(m.best.matched, m.attempt.matched)


def summarise(phases: tuple[PhaseResult, ...], client: str | None = None) -> PhaseSummary:
    """Which phases were reached, and where the sequence stops: the phase after the last complete one, or, when
    none is complete, the one that got furthest. None when nothing of the pattern was seen or all is complete."""
    reached = tuple(p.id for p in phases if p.status == "complete")
    last = max((i for i, p in enumerate(phases) if p.status == "complete"), default=-1)
    stops: PhaseResult | None
    if last >= 0:
        stops = phases[last + 1] if last + 1 < len(phases) else None
    else:
        furthest = max(phases, key=lambda p: p.matched_steps, default=None)
        stops = furthest if furthest is not None and furthest.matched_steps else None
    return PhaseSummary(client, reached, None if stops is None else stops.id)
