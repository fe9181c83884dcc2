"""The provisioning agent's trace, read with the PTA trace parser, and its error codes with remedies."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.fixtures.server.fake_server import provisioning_trace_text

from aadc_doctor.analysis.provisioning_agent import ProvisioningEvidence, provisioning_findings
from aadc_doctor.knowledge.cloudsync import load_cloudsync
from aadc_doctor.logs.pta_trace import TraceFileStats, parse_trace_lines
from aadc_doctor.model import Severity


def _findings(text: str) -> tuple[dict[str, Severity], dict[str, object]]:
    evidence = ProvisioningEvidence()
    for entry in parse_trace_lines(iter(text.splitlines()), TraceFileStats("t.log")):
        evidence.take(entry)
    findings, results = provisioning_findings(evidence)
    return {f.id: f.severity for f in findings}, results


def test_error_codes_become_findings_with_remedies() -> None:
    ids, results = _findings(provisioning_trace_text(datetime(2026, 12, 1, tzinfo=UTC)))
    assert ids == {"provisioning-web-socket-failed": Severity.ERROR,
                   "provisioning-hybrid-identity-service-no-active-agents": Severity.ERROR,
                   "provisioning-azure-directory-service-authorization-failed": Severity.ERROR}
    assert results["entries"] == 4 and results["errors"] == 3


def test_every_documented_code_is_known_with_a_remedy_and_a_source() -> None:
    knowledge = load_cloudsync()
    codes = {e.code for e in knowledge.errors}
    assert {"HybridIdentityServiceNoActiveAgents", "HybridIdentityServiceAgentSignalingError", "TimeOut",
            "AzureDirectoryServiceAuthorizationFailed", "AzureDirectoryServiceServerBusy"} <= codes
    for error in knowledge.errors:
        assert error.remedy and error.references and all(r.startswith("https://") for r in error.references)
    assert knowledge.classify("... AgentSignalingError ...").code == "HybridIdentityServiceAgentSignalingError"


def test_unknown_errors_are_counted_not_lost(tmp_path: Path) -> None:
    text = ("AADConnectProvisioningAgent.exe Error: 0 : Something odd happened\n    ThreadId=1\n"
            "    DateTime=2026-12-01T10:00:00.0000000Z\n")
    ids, results = _findings(text)
    assert ids == {"provisioning-agent-errors": Severity.INFO} and results["other_errors"] == 1
