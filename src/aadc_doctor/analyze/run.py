"""Run every offline analyser on the inputs found, and merge their findings into one typed result.

The result (``AnalysisResult``) is plain data: the analysers that ran, on what, with their own results, and the
merged findings (deduplicated by id and subject, the worst severity kept, sorted by severity). Renderers (terminal,
JSON, later HTML) read it; nothing here prints.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aadc_doctor import progress
from aadc_doctor.analyze.inputs import ServerInputs
from aadc_doctor.errors import DoctorError
from aadc_doctor.json_data import json_meta
from aadc_doctor.model import Finding, Severity
from aadc_doctor.results.base import JsonObject

if TYPE_CHECKING:
    from aadc_doctor.results.pta import PtaResults


@dataclass(frozen=True)
class AnalyserRun:
    """One analyser: ``status`` is "ok", "skipped" (no input of its kind) or "failed" (with the reason).

    ``results`` is the analyser's results, with paths made relative to the input root: typed for `pta` (the HTML
    report draws them as `pta` does), JSON data for the analysers whose results are another command's report or
    plain rows.
    """

    name: str
    status: str
    inputs: tuple[str, ...] = ()
    reason: str = field(default="", metadata=json_meta(skip=True))
    findings: tuple[Finding, ...] = field(default=(), metadata=json_meta(skip=True))
    results: JsonObject | PtaResults = field(default_factory=dict)

    def json_extra(self) -> dict[str, Any]:
        return {"reason": self.reason or None, "findings": [f.id for f in self.findings]}


@dataclass(frozen=True)
class AnalysisResult:
    """The merged report of `analyze` (DESIGN.md, "analyze results"): the `results` of its JSON report."""

    source: str
    input_kind: str
    run_date: date
    inputs: Mapping[str, list[str]]
    manifest: Mapping[str, Any] | None = field(metadata=json_meta(skip=True))
    runs: tuple[AnalyserRun, ...] = field(metadata=json_meta(key="analysers"))
    findings: tuple[Finding, ...] = field(metadata=json_meta(skip=True))

    def manifest_summary(self) -> dict[str, Any] | None:
        """manifest.json in short: its header and the number of files."""
        if self.manifest is None:
            return None
        summary = {k: self.manifest.get(k) for k in ("tool_version", "host", "collected_at", "redacted", "absent",
                                                     "not_collected", "trimmed", "withheld")}
        summary["files"] = len(self.manifest.get("files", []))
        return summary

    def json_extra(self) -> dict[str, Any]:
        return {"manifest": self.manifest_summary()}


def analyse_server(found: ServerInputs, source: str, today: date) -> AnalysisResult:
    manifest = _manifest(found)
    runs: list[AnalyserRun] = []
    for analyser in ANALYSERS:
        try:
            run = analyser(found, today)
        except DoctorError as exc:  # one unreadable input must not hide what the others say
            run = AnalyserRun(analyser.__name__.removeprefix("_"), "failed", reason=exc.message)
        runs.append(_relative(run, found.root))
    findings = merge_findings([f for r in runs for f in r.findings] + _manifest_findings(manifest))
    return AnalysisResult(source, found.kind, today, found.by_kind(), manifest, tuple(runs), tuple(findings))


def merge_findings(findings: list[Finding]) -> list[Finding]:
    """One finding per (id, subject), the worst severity kept; errors first, then by id and subject."""
    merged: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        key = (finding.id, finding.subject)
        kept = merged.get(key)
        if kept is None or finding.severity.rank > kept.severity.rank:
            merged[key] = finding
    return sorted(merged.values(), key=lambda f: (-f.severity.rank, f.id, f.subject))


def _manifest(found: ServerInputs) -> dict[str, Any] | None:
    if found.manifest is None:
        return None
    import json

    try:
        data = json.loads(found.manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _manifest_findings(manifest: Mapping[str, Any] | None) -> list[Finding]:
    """What the bundle lacks, said once: items the server could not give, and event logs --redact withheld."""
    if not manifest:
        return []
    from aadc_doctor.knowledge.findings import run_findings

    findings = []
    gaps = _entries(manifest.get("not_collected"))
    if gaps:
        findings.append(run_findings()["collect-gaps"].render(
            "manifest.json", count=len(gaps),
            items="; ".join(f"{g.get('source')}: {g.get('reason')}" for g in gaps[:10])))
    withheld = _entries(manifest.get("withheld"))
    if withheld:
        findings.append(run_findings()["collect-withheld"].render(
            "manifest.json", count=len(withheld),
            items="; ".join(f"{w.get('path')}: {w.get('reason')}" for w in withheld[:10])))
    return findings


def _entries(value: object) -> list[Mapping[str, Any]]:
    """A manifest list, keeping only its well-formed entries (the manifest is a file the user gave us)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _relative(run: AnalyserRun, root: Path) -> AnalyserRun:
    """Paths in texts relative to the input root, so a zip and its unpacked folder give the same report."""
    prefixes = [str(root) + "/", str(root) + "\\", str(root)]

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for prefix in prefixes:
                value = value.replace(prefix, "")
            return value
        if isinstance(value, list | tuple):
            return type(value)(clean(v) for v in value)
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items()}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):  # typed results: rebuilt, still typed
            return dataclasses.replace(value, **{f.name: clean(getattr(value, f.name))
                                                 for f in dataclasses.fields(value) if f.init})
        return value

    findings = tuple(Finding(f.id, f.severity, clean(f.title), clean(f.detail), clean(f.remedy), clean(f.subject),
                             f.references) for f in run.findings)
    return AnalyserRun(run.name, run.status, tuple(clean(list(run.inputs))), clean(run.reason), findings,
                       clean(run.results))


# ---- the analysers ------------------------------------------------------------------------------------


def _proxy(found: ServerInputs, _today: date) -> AnalyserRun:
    from aadc_doctor.commands import RunContext
    from aadc_doctor.commands.proxy import COMMAND as PROXY
    from aadc_doctor.json_data import to_json_data
    from aadc_doctor.pipeline import run_command
    from aadc_doctor.proxyconfig.components import component_for_file

    machine = sorted(found.machine_configs, key=lambda p: "framework64" not in p.as_posix().lower())
    exe: dict[str, Path] = {}
    for path in found.exe_configs:
        component = component_for_file(str(path))
        if component is not None:
            exe.setdefault(component.id, path)
    used = machine[:1] + list(exe.values()) + found.winhttp[:1]
    if not used:
        return AnalyserRun("proxy", "skipped", reason="no machine.config, .exe.config or winhttp output")
    args = argparse.Namespace(machine_config=str(machine[0]) if machine else None,
                              exe_config=[f"{cid}={p}" for cid, p in exe.items()],
                              winhttp=str(found.winhttp[0]) if found.winhttp else None, pac=None,
                              given_files_only=True)
    ctx = RunContext(json_mode=True, stdout=io.StringIO(), stderr=io.StringIO(), env={})
    report = run_command(PROXY, args, ctx).report
    for path in used:
        progress.advance_path(path)
    return AnalyserRun("proxy", "ok", tuple(found.relative(p) for p in used), findings=tuple(report.findings),
                       results=to_json_data(report.results))


def _pta(found: ServerInputs, _today: date) -> AnalyserRun:
    from aadc_doctor.analysis.pta import PtaEvidence, analyse
    from aadc_doctor.logs.pta_event_logs import collect_events
    from aadc_doctor.logs.pta_trace_reader import collect_trace

    if not found.pta_traces and not found.event_logs:
        return AnalyserRun("pta", "skipped", reason="no PTA trace or event log")
    evidence = PtaEvidence()
    problems = []
    if found.event_logs:
        try:
            collect_events([str(p) for p in found.event_logs], ((), ()), None, evidence)
        except DoctorError as exc:
            problems.append(exc.message)
        for path in found.event_logs:
            progress.advance_path(path)
    if found.pta_traces:
        try:
            collect_trace([str(p) for p in found.pta_traces], evidence)
        except DoctorError as exc:
            problems.append(exc.message)
    findings, results = analyse(evidence, expect_agent=bool(found.pta_traces))
    inputs = tuple(found.relative(p) for p in found.event_logs + found.pta_traces)
    return AnalyserRun("pta", "ok", inputs, reason="; ".join(problems), findings=tuple(findings), results=results)


def _provisioning_agent(found: ServerInputs, _today: date) -> AnalyserRun:
    from aadc_doctor.analysis.provisioning_agent import ProvisioningEvidence, provisioning_findings
    from aadc_doctor.json_data import to_json_data
    from aadc_doctor.logs.pta_trace import TraceFileStats, TraceParser, collect_sources, order_sources, read_source

    if not found.provisioning_traces:
        return AnalyserRun("provisioning-agent", "skipped", reason="no provisioning-agent trace")
    evidence = ProvisioningEvidence()
    parser = TraceParser()
    problems = []
    for source in order_sources(collect_sources([str(p) for p in found.provisioning_traces])):
        stats = TraceFileStats(source.name)
        try:
            for entry in read_source(source, stats, parser):
                evidence.take(entry)
        except DoctorError as exc:
            problems.append(exc.message)
            continue
        finally:
            progress.advance_path(source.name)
        evidence.files.append(to_json_data(stats))
    for entry in parser.finish():
        evidence.take(entry)
    findings, results = provisioning_findings(evidence)
    return AnalyserRun("provisioning-agent", "ok", tuple(found.relative(p) for p in found.provisioning_traces),
                       reason="; ".join(problems), findings=tuple(findings), results=results)


def _server_rules(found: ServerInputs, today: date) -> AnalyserRun:
    from aadc_doctor.analysis.server_rules import ServerEvidence, server_findings
    from aadc_doctor.serverfiles.registry_export import read_export

    if not found.registry:
        return AnalyserRun("server-rules", "skipped", reason="no registry export (.reg)")
    evidence = ServerEvidence()
    for path in found.registry:
        evidence.registry.merge(read_export(path))
    findings, results = server_findings(evidence, today)
    return AnalyserRun("server-rules", "ok", tuple(found.relative(p) for p in found.registry),
                       findings=tuple(findings), results=results)


def _saved_checks(found: ServerInputs, _today: date) -> AnalyserRun:
    import json

    if not found.checks:
        return AnalyserRun("check", "skipped", reason="no saved `check --json` report")
    findings: list[Finding] = []
    reports = []
    for path in found.checks:
        data = json.loads(path.read_text(encoding="utf-8"))
        for f in data.get("findings", []):
            findings.append(Finding(f["id"], Severity(f["severity"]), f["title"], f.get("detail", ""),
                                    f.get("remedy", ""), f.get("subject", ""), tuple(f.get("references", []))))
        endpoints = data.get("results", {}).get("endpoints", [])
        outcomes: dict[str, int] = {}
        for endpoint in endpoints:
            outcomes[endpoint.get("outcome", "?")] = outcomes.get(endpoint.get("outcome", "?"), 0) + 1
        reports.append({"file": found.relative(path), "started_at": data.get("started_at"),
                        "proxy": data.get("results", {}).get("proxy"), "outcomes": outcomes,
                        "endpoints": endpoints})
    return AnalyserRun("check", "ok", tuple(found.relative(p) for p in found.checks), findings=tuple(findings),
                       results={"reports": reports})


def _services(found: ServerInputs, _today: date) -> AnalyserRun:
    import json

    if not found.services:
        return AnalyserRun("services", "skipped", reason="no services.json")
    from aadc_doctor.analysis.server_rules import service_findings

    services = json.loads(found.services[0].read_text(encoding="utf-8")).get("services", [])
    return AnalyserRun("services", "ok", (found.relative(found.services[0]),),
                       findings=tuple(service_findings(services)), results={"services": services})


ANALYSERS: tuple[Callable[[ServerInputs, date], AnalyserRun], ...] = (
    _server_rules, _proxy, _saved_checks, _pta, _provisioning_agent, _services)
