"""The one normalised shape every command reports in: findings plus command-specific results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1


class Severity(StrEnum):
    """How bad a finding is; ordered so --fail-on can compare."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


@dataclass(frozen=True)
class Finding:
    """One diagnosis: a stable kebab-case id scripts can match, and the remedy an admin acts on."""

    id: str
    severity: Severity
    title: str
    detail: str = ""
    remedy: str = ""
    subject: str = ""
    references: tuple[str, ...] = ()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Report:
    """The envelope of DESIGN.md; `results` holds the command's frozen Results dataclass (aadc_doctor.results),
    made JSON by render/json_data.py."""

    command: str
    findings: list[Finding] = field(default_factory=list)
    results: Any = None
    started_at: str = field(default_factory=utc_now)
    finished_at: str = ""

    def worst(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    def has_finding_at_least(self, threshold: Severity) -> bool:
        return any(f.severity.at_least(threshold) for f in self.findings)


def sorted_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; stable within a severity."""
    return sorted(findings, key=lambda f: -f.severity.rank)
