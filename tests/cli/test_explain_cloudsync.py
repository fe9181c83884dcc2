"""Issue 15: `explain` finds and explains the Cloud Sync provisioning agent's error codes in pasted text, from the
same knowledge `analyze` reads the agent's trace with (``knowledge/data/cloudsync.toml``, no copy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aadc_doctor.knowledge.cloudsync import load_cloudsync

ERRORS = load_cloudsync().errors


def _entries(run_cli: Callable[..., Any], *texts: str) -> list[dict[str, Any]]:
    result = run_cli("explain", *texts, "--json")
    assert result.code in (0, 1), result.stderr
    return list(result.json()["results"]["entries"])


@pytest.mark.parametrize("error", ERRORS, ids=[e.code for e in ERRORS])
def test_every_provisioning_error_is_explained_by_its_code(run_cli: Callable[..., Any], error: Any) -> None:
    entries = [e for e in _entries(run_cli, error.code) if e["kind"] == "cloudsync"]
    assert [e["code"] for e in entries] == [error.code]
    entry = entries[0]
    assert (entry["message"], entry["cause"], entry["remedy"]) == (error.title, error.meaning, error.remedy)
    assert list(error.references) == [s for s in entry["see_also"] if s.startswith("https://")]


def test_codes_in_a_pasted_portal_error_and_trace_line(run_cli: Callable[..., Any]) -> None:
    text = ("2026-11-30 10:12:13Z Error: 1 : Provisioning failed. Error code: AgentSignalingError; "
            "Details: HybridIdentityServiceNoActiveAgents. Inner: AzureDirectoryServiceAuthorizationFailed, "
            "HRESULT 0x80072EE2")
    codes = [e["code"] for e in _entries(run_cli, text)]
    assert {"HybridIdentityServiceAgentSignalingError", "HybridIdentityServiceNoActiveAgents",
            "AzureDirectoryServiceAuthorizationFailed"} <= set(codes), codes
    assert "12002" in codes  # the other codes of the line are still read


def test_human_output_names_the_agent(run_cli: Callable[..., Any]) -> None:
    result = run_cli("explain", "hybrididentityservicenoactiveagents")  # any case, as typed
    assert result.code == 0
    assert "HybridIdentityServiceNoActiveAgents  [Cloud Sync provisioning agent error]" in result.stdout
    assert "*.servicebus.windows.net" in result.stdout


@pytest.mark.parametrize("text", ["connection timeout 12002", "The operation has timed out", "Timeout", "TIMEOUT",
                                  "HybridIdentityServiceNoActiveAgentsX", "xAgentSignalingError"])
def test_common_words_and_longer_names_are_not_these_codes(run_cli: Callable[..., Any], text: str) -> None:
    assert not [e for e in _entries(run_cli, text) if e["kind"] == "cloudsync" and e.get("why") != "matched by "
                "relevance"], text


def test_timeout_in_its_exact_spelling_is_the_provisioning_error(run_cli: Callable[..., Any]) -> None:
    entries = _entries(run_cli, "Status: Failed (TimeOut)")
    assert [e["code"] for e in entries if e["kind"] == "cloudsync"] == ["TimeOut"]


def test_a_misspelt_code_is_suggested() -> None:
    from aadc_doctor.explain.matcher import suggest

    assert "HybridIdentityServiceNoActiveAgents" in suggest("HybridIdentityServiceNoActiveAgent")
