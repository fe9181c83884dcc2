"""The Cloud Sync provisioning agent's trace: the same .NET TraceSource format as the PTA agent's (read with
``logs/pta_trace.py``), with its own error codes. Entries in, counts and findings out."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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
    from aadc_doctor.knowledge.findings import load_prefixed_templates

    texts = load_prefixed_templates("cloudsync.toml", "finding_texts", "")
    findings: list[Finding] = []
    by_code = []
    for error in evidence.knowledge.errors:
        seen = evidence.by_code.get(error.code)
        if seen is None:
            continue
        span = f" from {iso(seen.first)} to {iso(seen.last)}" if seen.first else ""
        finding = texts["known-error"].render(error.code, title=error.title, count=seen.count, meaning=error.meaning,
                                              span=span, where=seen.where, sample=seen.sample, remedy=error.remedy)
        findings.append(replace(finding, id=f"provisioning-{_kebab(error.code)}", severity=error.severity,
                                references=error.references))
        by_code.append({"code": error.code, "count": seen.count, "first_seen": iso(seen.first),
                        "last_seen": iso(seen.last), "sample": seen.sample, "where": seen.where})
    other = evidence.unclassified
    if other.count:
        findings.append(texts["provisioning-agent-errors"].render("provisioning agent", count=other.count,
                                                                  where=other.where, sample=other.sample))
    results = {"entries": evidence.entries, "errors": evidence.errors, "warnings": evidence.warnings,
               "by_code": by_code, "other_errors": other.count, "files": evidence.files}
    return findings, results


def _kebab(code: str) -> str:
    out = []
    for i, ch in enumerate(code):
        if ch.isupper() and i and (not code[i - 1].isupper() or (i + 1 < len(code) and code[i + 1].islower())):
            out.append("-")
        out.append(ch.lower())
    return "".join(out)
