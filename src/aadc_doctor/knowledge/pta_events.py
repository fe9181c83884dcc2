"""The PTA agent's own log knowledge (data/pta_agent_events.toml): channels, process paths, event IDs.

Both agent generations are described: today's Authentication Agent and the preview agent of the seed
article that ran inside the Application Proxy connector.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aadc_doctor.knowledge import read_toml

_FILE = "pta_agent_events.toml"


@dataclass(frozen=True)
class AgentGeneration:
    """Where one agent generation lives and logs."""

    generation: str
    name: str
    process: str
    trace_folder: str
    admin_channel: str
    session_channel: str
    event_viewer_path: str

    @property
    def exe_name(self) -> str:
        return self.process.rsplit("\\", 1)[-1]


@dataclass(frozen=True)
class AgentEvent:
    """A documented Admin-log event of the agent."""

    channel: str
    event_id: int
    level: str
    match: str
    title: str
    meaning: str
    remedy: str
    source: str


@dataclass(frozen=True)
class FallbackReason:
    """A Win32 reason the shared PTA reason table lacks (domain-controller reachability)."""

    win32_code: int
    title: str
    aadsts_code: int
    user_sees: str
    admin_remedy: str


@dataclass(frozen=True)
class TraceCategory:
    """A group of trace-log errors (bootstrap, trust renewal, connectivity...) and its remedy."""

    id: str
    patterns: tuple[str, ...]
    title: str
    remedy: str

    def matches(self, lowered_message: str) -> bool:
        return any(p in lowered_message for p in self.patterns)


@dataclass(frozen=True)
class BurstRule:
    window_minutes: int
    min_events: int
    reasons: frozenset[int]


def _data() -> dict[str, Any]:
    return read_toml(_FILE)


@cache
def agent_generations() -> tuple[AgentGeneration, ...]:
    """Current generation first, then the seed article's preview agent."""
    return tuple(AgentGeneration(**row) for row in _data()["agent"])


@cache
def agent_channels() -> frozenset[str]:
    """Event-log channels (lower case) that belong to the agent: Admin, Session and Updater."""
    names = {c for g in agent_generations() for c in (g.admin_channel, g.session_channel)}
    names.update(_data()["updater"]["channels"])
    return frozenset(n.lower() for n in names)


@cache
def agent_events() -> tuple[AgentEvent, ...]:
    return tuple(
        AgentEvent(channel=row["channel"], event_id=int(row["id"]), level=row["level"], match=row["match"],
                   title=row["title"], meaning=row["meaning"], remedy=row["remedy"], source=row["source"])
        for row in _data()["event"]
    )


def agent_event(channel: str, event_id: int, message: str = "") -> AgentEvent | None:
    """The documented meaning of an Admin-log event, when its channel, ID and (if given) text agree."""
    lowered_channel = channel.lower()
    lowered = message.lower()
    for event in agent_events():
        if event.event_id != event_id or event.channel.lower() != lowered_channel:
            continue
        if message and event.match and event.match.lower() not in lowered:
            continue
        return event
    return None


@cache
def infrastructure_reasons() -> frozenset[int]:
    """Win32 reasons that break sign-in for everyone using the agent, not one account."""
    return frozenset(int(c) for c in _data()["infrastructure_reasons"]["codes"])


@cache
def fallback_reasons() -> dict[int, FallbackReason]:
    return {
        int(row["win32"]): FallbackReason(win32_code=int(row["win32"]), title=row["title"],
                                          aadsts_code=int(row["aadsts"]), user_sees=row["user_sees"],
                                          admin_remedy=row["admin_remedy"])
        for row in _data()["fallback_reason"]
    }


@cache
def kerberos_to_win32() -> dict[int, int]:
    """4771 failure codes that correspond to one Win32 reason the agent would log."""
    return {int(k, 16): int(v) for k, v in _data()["kerberos_win32"].items()}


@cache
def burst_rule() -> BurstRule:
    row = _data()["bursts"]
    return BurstRule(window_minutes=int(row["window_minutes"]), min_events=int(row["min_events"]),
                     reasons=frozenset(int(r) for r in row["reasons"]))


@cache
def trace_categories() -> tuple[TraceCategory, ...]:
    return tuple(
        TraceCategory(id=row["id"], patterns=tuple(p.lower() for p in row["patterns"]), title=row["title"],
                      remedy=row["remedy"])
        for row in _data()["trace_category"]
    )


def categorize_trace_message(message: str) -> TraceCategory | None:
    """The first trace category whose patterns occur in the message."""
    lowered = message.lower()
    for category in trace_categories():
        if category.matches(lowered):
            return category
    return None
