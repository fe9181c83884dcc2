"""The `account` scenarios the demo runs: the real command against the emulator, one exit code each."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from aadc_doctor.lab.tenant import ACCOUNT_DEMO_SCENARIOS, run_account_demo


def test_account_demo_runs_every_scenario() -> None:
    out, err = io.StringIO(), io.StringIO()
    outcomes = run_account_demo(stdout=out, stderr=err, env={"NO_COLOR": "1"})
    codes = {scenario.upn + " ".join(scenario.args): code for scenario, code in outcomes}
    assert len(outcomes) == len(ACCOUNT_DEMO_SCENARIOS)
    assert codes["admin@contoso.com"] == 0
    assert codes["admin@nothere.example"] == 1
    assert codes["admin@tailspintoys.com--this-server AADC01"] == 0  # warnings only
    text = out.getvalue()
    for marker in ("unknown-user-type", "invalid-grant", "mfa-required", "privileged-identity-management",
                   "pta-last-active-agent"):
        assert marker in text
    assert "Lab-Passw0rd!" not in text + err.getvalue()


def test_the_emulator_stops_at_once() -> None:
    """serve_forever's default 0.5 s shutdown poll made every emulator stop cost half a second."""
    import time

    from aadc_doctor.lab.tenant import start_tenant_emulator

    with start_tenant_emulator():
        started = time.monotonic()
    assert time.monotonic() - started < 0.2


def test_demo_account_runs_share_one_emulator(run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from aadc_doctor.lab.tenant import server

    real_start = server.start_tenant_emulator
    starts: list[int] = []

    def counting_start(*args: object, **kwargs: object) -> object:
        starts.append(1)
        return real_start(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(server, "start_tenant_emulator", counting_start)
    result = run_cli("demo", "--scenario", "account")
    assert result.code == 0, result.stdout[-2000:]
    assert len(starts) == 1
    assert "$ aadc-doctor account admin@contoso.com\n" in result.stdout  # no trailing blank when there are no args


def test_account_findings_have_no_singular_plural_hedges() -> None:
    """'1 domain(s) of the tenant are not verified', 'Only 1 active ... agent(s); 3 are recommended'."""
    out, err = io.StringIO(), io.StringIO()
    run_account_demo(stdout=out, stderr=err, env={"NO_COLOR": "1", "COLUMNS": "250"})
    text = out.getvalue()
    assert "(s)" not in text
    assert "Domains of the tenant not verified (1): newbrand.contoso.com" in text
    assert "Active Pass-through Authentication agents: 1, fewer than the 3 recommended" in text
    assert "Inactive Pass-through Authentication agents (1): OLDPTA.contoso.com" in text
