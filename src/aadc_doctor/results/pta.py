"""`pta`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aadc_doctor.json_data import json_meta
from aadc_doctor.results.base import JsonObject

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class PtaResults:
    """`pta trace` and `pta events` (the command's docstring lists the keys beyond DESIGN.md's)."""

    # analysis.pta.analyse(): requests, by_reason, summary...
    analysis: JsonObject = field(metadata=json_meta(flatten=True))


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
