"""The Cloud Sync provisioning agent's trace: the same .NET TraceSource format as the PTA agent's (read with
``logs/pta_trace.py``), with its own error codes. Entries in, counts and findings out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aadc_doctor.knowledge.cloudsync import CloudSyncKnowledge, load_cloudsync
from aadc_doctor.logs.event_xml import format_iso_time as iso
from aadc_doctor.logs.pta_trace import TraceEntry
from aadc_doctor.model import Finding

MAX_SAMPLE_CHARS = 300


@dataclass
class CodeCount:
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    sample: str = ""
    where: str = ""

    def add(self, entry: TraceEntry) -> None:
        self.count += 1
        if entry.time is not None:
            self.first = entry.time if self.first is None or entry.time < self.first else self.first
            self.last = entry.time if self.last is None or entry.time > self.last else self.last
        if not self.sample:
            self.sample = (entry.message.splitlines() or [""])[0][:MAX_SAMPLE_CHARS]
            self.where = f"{entry.file}:{entry.line}"


@dataclass
class ProvisioningEvidence:
    """What the provisioning agent's trace says: entries, problems by error code, other problems counted."""

    entries: int = 0
    errors: int = 0
    warnings: int = 0
    by_code: dict[str, CodeCount] = field(default_factory=dict)
    unclassified: CodeCount = field(default_factory=CodeCount)
    files: list[dict[str, Any]] = field(default_factory=list)
    knowledge: CloudSyncKnowledge = field(default_factory=load_cloudsync)

    def take(self, entry: TraceEntry) -> None:
        self.entries += 1
        if entry.level not in ("Error", "Critical", "Warning"):
            return
        if entry.level == "Warning":
            self.warnings += 1
        else:
            self.errors += 1
        known = self.knowledge.classify(entry.message)
        if known is None:
            if entry.level != "Warning":
                self.unclassified.add(entry)
            return
        self.by_code.setdefault(known.code, CodeCount()).add(entry)


def provisioning_findings(evidence: ProvisioningEvidence) -> tuple[list[Finding], dict[str, Any]]:
    findings: list[Finding] = []
    by_code = []
    for error in evidence.knowledge.errors:
        seen = evidence.by_code.get(error.code)
        if seen is None:
            continue
        span = f" from {iso(seen.first)} to {iso(seen.last)}" if seen.first else ""
        findings.append(Finding(
            f"provisioning-{_kebab(error.code)}", error.severity, f"{error.title}: {seen.count}x in the agent's trace",
            detail=f"{error.meaning} Seen{span}; first at {seen.where}: {seen.sample}", remedy=error.remedy,
            subject=error.code, references=error.references))
        by_code.append({"code": error.code, "count": seen.count, "first_seen": iso(seen.first),
                        "last_seen": iso(seen.last), "sample": seen.sample, "where": seen.where})
    other = evidence.unclassified
    if other.count:
        findings.append(Finding(
            "provisioning-agent-errors", _info(), f"{other.count} other error(s) in the provisioning agent's trace",
            detail=f"First at {other.where}: {other.sample}",
            remedy="`aadc-doctor explain` on a pasted line decodes the codes it names.", subject="provisioning agent"))
    results = {"entries": evidence.entries, "errors": evidence.errors, "warnings": evidence.warnings,
               "by_code": by_code, "other_errors": other.count, "files": evidence.files}
    return findings, results


def _info() -> Any:
    from aadc_doctor.model import Severity

    return Severity.INFO


def _kebab(code: str) -> str:
    out = []
    for i, ch in enumerate(code):
        if ch.isupper() and i and (not code[i - 1].isupper() or (i + 1 < len(code) and code[i + 1].islower())):
            out.append("-")
        out.append(ch.lower())
    return "".join(out)
