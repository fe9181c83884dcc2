"""`demo`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aadc_doctor.json_data import json_meta
from aadc_doctor.results.base import JsonObject

# A scenario's expectation, what it got and the reports it judged are JSON: the verdict compares JSON reports.

@dataclass(frozen=True)
class DemoScenario:
    name: str
    title: str
    setup: str
    mirrors: str
    kind: str  # "check" or "account"
    expected: JsonObject


@dataclass(frozen=True)
class DemoListResults:
    scenarios: tuple[DemoScenario, ...]
    listed: bool = True


@dataclass(frozen=True)
class DemoAccountRun:
    title: str
    upn: str
    args: tuple[str, ...]
    got: JsonObject
    passed: bool
    report: JsonObject | None


@dataclass(frozen=True)
class DemoScenarioRun:
    name: str
    title: str
    kind: str
    argv: tuple[str, ...]
    expected: JsonObject
    got: JsonObject
    passed: bool
    problems: tuple[str, ...]
    report: JsonObject | None  # the `check` report judged (JSON, schema 1); None for the account scenario
    runs: tuple[DemoAccountRun, ...] | None = field(default=None, metadata=json_meta(omit_none=True))
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class DemoResults:
    scenarios: tuple[DemoScenarioRun, ...]
    wall_s: float
