"""`pta`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aadc_doctor.json_data import json_meta
from aadc_doctor.results.base import JsonObject


@dataclass(frozen=True)
class HourReasonCount:
    hour: str  # "2026-12-05T08:00Z"
    reason: int | None  # the Win32 reason; None for a failure without one
    count: int


@dataclass(frozen=True)
class PtaResults:
    """`pta trace` and `pta events` (the command's docstring lists the keys beyond DESIGN.md's)."""

    # analysis.pta.analyse(): requests, by_reason, summary...
    analysis: JsonObject = field(metadata=json_meta(flatten=True))
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
