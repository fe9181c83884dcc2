"""The `account` scenarios the demo runs: the real command against the emulator, one exit code each."""

from __future__ import annotations

import io

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
