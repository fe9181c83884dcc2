"""`explain` covers the Seamless SSO codes AADSTS81001-81013, each with a remedy (issue 14)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.conftest import CliRun

SSO_CODES = [81001, 81002, 81003, 81004, 81005, 81006, 81007, 81008, 81009, 81010, 81011, 81012, 81013]


@pytest.mark.parametrize("code", SSO_CODES)
def test_sso_code_explained(run_cli: Callable[..., CliRun], code: int) -> None:
    run = run_cli("explain", f"AADSTS{code}", "--json")
    assert run.code == 0
    entries = run.json()["results"]["entries"]
    assert [e["code"] for e in entries] == [f"AADSTS{code}"]
    assert entries[0]["message"] and entries[0]["cause"].startswith("Seamless SSO")
    assert entries[0]["remedy"]


def test_sso_code_names_the_command(run_cli: Callable[..., CliRun]) -> None:
    assert "aadc-doctor ad sso" in run_cli("explain", "AADSTS81001").stdout
