"""`pta`'s results (see aadc_doctor/results/__init__.py): what ``analysis.pta.analyse`` returns, typed.

Times are the ISO texts of the JSON contract (``logs.event_xml.format_iso_time``), formatted once by the analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aadc_doctor.json_data import json_meta

if TYPE_CHECKING:
    from aadc_doctor.analysis.security_events import SignInAttempt


@dataclass(frozen=True)
class HourReasonCount:
    hour: str  # "2026-12-05T08:00Z"
    reason: int | None  # the Win32 reason; None for a failure without one
    count: int


@dataclass(frozen=True)
class HourCount:
    hour: str  # "2026-12-05T08:00Z"
    count: int


@dataclass(frozen=True)
class FailedRequest:
    """A failed sign-in of the agent, with the AADSTS code the user most likely saw (its message is in by_reason)."""

    attempt: SignInAttempt = field(metadata=json_meta(flatten=True))
    aadsts: int | None = field(default=None, metadata=json_meta(skip=True))

    def json_extra(self) -> dict[str, int | None]:
        if self.attempt.failed and self.attempt.reason is not None:
            return {"aadsts": self.aadsts}
        return {}


@dataclass(frozen=True)
class OtherFailures:
    """Failures by other processes: all counted, the latest OTHER_SAMPLE kept."""

    count: int
    latest: tuple[SignInAttempt, ...]


@dataclass(frozen=True)
class ReasonRow:
    reason: int | None  # None: a Security-event status that maps to no Win32 code
    name: str
    message: str  # the Windows message, as `net helpmsg` prints it
    title: str
    aadsts: int | None
    count: int
    pta_agent_count: int
    first_seen: str | None
    last_seen: str | None


@dataclass(frozen=True)
class StatusRow:
    event_id: int | None
    status: str
    status_name: str
    status_message: str
    substatus: str
    substatus_name: str
    substatus_message: str
    reason: int | None
    count: int


@dataclass(frozen=True)
class BurstRow:
    """A burst of one failure reason as the JSON lists it (``analysis.pta.Burst`` is the analysis's own)."""

    reason: int
    count: int
    start: str | None
    end: str | None
    minutes: float = field(metadata=json_meta(round=1))
    accounts: int
    top_accounts: tuple[tuple[str, int], ...]
    clients: tuple[tuple[str, int], ...]
    by_agent: int


@dataclass(frozen=True)
class TraceProblemRow:
    """Trace entries of one category that are not sign-in failures (connector errors, bootstrap...)."""

    category: str
    count: int
    levels: Mapping[str, int]
    first_seen: str | None
    last_seen: str | None
    samples: tuple[str, ...]


@dataclass(frozen=True)
class AgentEventRow:
    """One event id of the agent's own event log."""

    channel: str
    event_id: int
    level: str
    count: int
    first_seen: str | None
    last_seen: str | None
    samples: tuple[str, ...]
    explained: str | None  # the known event's title


@dataclass(frozen=True)
class CorrelatedPair:
    """A listed trace failure and the agent's Security event for it."""

    request_id: str
    time: str | None
    reason: int | None
    account: str
    event_time: str | None
    event_id: int | None
    computer: str
    status: str
    substatus: str
    record: int | None


@dataclass(frozen=True)
class SuccessCount:
    """The agent's successful sign-ins: counted, never listed."""

    count: int
    first_seen: str | None
    last_seen: str | None
    by_hour: tuple[HourCount, ...]


@dataclass(frozen=True)
class EventIdCount:
    event_id: int
    count: int


_LEADING = json_meta(skip=True)  # written by json_leading, before the format


@dataclass(frozen=True)
class TraceFileRead:
    """A trace file `pta trace` read: its figures once its last entry is in (``logs.pta_trace.TraceFileStats``)."""

    name: str
    encoding: str
    lines: int
    entries: int
    bad_lines: int
    truncated_lines: int  # lines over 1 MiB, cut
    cut_short: str = field(metadata=json_meta(null_empty=True))  # a compressed file that ends early: read up to there
    nul_bytes_skipped: int  # NUL bytes skipped (a crash leaves blocks of them)
    first_seen: str | None
    last_seen: str | None
    agents: tuple[str, ...]

    def json_leading(self) -> dict[str, str]:
        return {"format": "trace"}


@dataclass(frozen=True)
class EvtxFileRead:
    """An .evtx file read, its slices added up (``logs.evtx_reader.EvtxFileStats``, described as a whole)."""

    name: str = field(metadata=_LEADING)
    records: int
    expected_records: int | None  # what the chunk headers claim
    chunks: int
    truncated_bytes: int
    errors: tuple[str, ...]  # the first 20
    error_count: int  # all of them
    damaged: bool
    dirty: bool  # a live log copied while open; wevtutil epl exports are clean

    def json_leading(self) -> dict[str, str]:
        return {"name": self.name, "format": "evtx"}


@dataclass(frozen=True)
class XmlFileRead:
    """An Event Viewer XML export read."""

    name: str = field(metadata=_LEADING)
    records: int
    bad: int
    # the export breaks off: the events before the break were read
    cut_short: str = field(default="", metadata=json_meta(omit_empty=True))

    def json_leading(self) -> dict[str, str]:
        return {"name": self.name, "format": "xml"}


@dataclass(frozen=True)
class SkippedFile:
    """A file found in a folder or .zip that is no log of its kind: listed, not read."""

    name: str
    reason: str

    def json_leading(self) -> dict[str, str]:
        return {"format": "skipped"}


FileRead = TraceFileRead | EvtxFileRead | XmlFileRead | SkippedFile


@dataclass(frozen=True)
class PtaSummary:
    failed: int
    failed_by_agent: int
    succeeded_by_agent: int
    trace_entries: int
    security_events: int
    agents: tuple[str, ...]


@dataclass(frozen=True)
class PtaResults:
    """`pta trace` and `pta events` (the command's docstring lists the keys beyond DESIGN.md's)."""

    # the PTA agent's failed requests, the latest REQUESTS_KEPT of them; every failure is counted in by_reason,
    # by_hour, by_status and bursts, and the agent's successes only in successes
    requests: tuple[FailedRequest, ...]
    requests_total: int
    requests_truncated: bool
    other_failures: OtherFailures
    by_reason: tuple[ReasonRow, ...]
    by_hour: tuple[HourCount, ...]
    by_status: tuple[StatusRow, ...]
    bursts: tuple[BurstRow, ...]
    other_errors: tuple[TraceProblemRow, ...]
    agent_events: tuple[AgentEventRow, ...]
    correlated: tuple[CorrelatedPair, ...]
    correlated_total: int
    successes: SuccessCount
    events_by_id: tuple[EventIdCount, ...]
    files: tuple[FileRead, ...]  # per file read: its format, counts and problems
    summary: PtaSummary
    # failures per hour and reason, for the HTML report's heat map (the JSON has by_hour and by_reason)
    by_hour_reason: tuple[HourReasonCount, ...] = field(default=(), metadata=json_meta(skip=True))


@dataclass(frozen=True)
class PtaAgentGeneration:
    generation: str
    name: str
    process: str


@dataclass(frozen=True)
class PtaDcQueryResults:
    query_xml: str
    processes: tuple[str, ...]
    generations: tuple[PtaAgentGeneration, ...]
    run_on: str
    note: str
