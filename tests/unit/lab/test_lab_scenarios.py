"""Judging a check report against a scenario's expectation (pure: report dicts in, verdict out)."""

from __future__ import annotations

from typing import Any

import pytest

from aadc_doctor.lab.scenarios import (
    SCENARIOS,
    AccountExpectation,
    Expected,
    judge,
    judge_account,
    select,
)


def _report(*endpoints: tuple[str, str, str], findings: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    return {"results": {"endpoints": [{"url": f"https://{h}/", "host": h, "port": 443, "kind": k, "outcome": o}
                                      for h, k, o in endpoints]},
            "findings": [{"id": fid, "severity": sev} for fid, sev in findings]}


def test_outcomes_by_host_then_kind_then_others() -> None:
    expected = Expected(hosts={"a.example": "proxy_forbidden"}, kinds={"https": "tls_intercepted"}, others="ok",
                        findings=("proxy-forbidden",))
    report = _report(("a.example", "https", "proxy_forbidden"), ("b.example", "https", "tls_intercepted"),
                     ("c.example", "crl", "ok"), findings=(("proxy-forbidden", "error"),))
    verdict = judge(expected, report)
    assert verdict.passed, verdict.problems
    assert verdict.describe() == "1 ok, 1 proxy_forbidden, 1 tls_intercepted; findings proxy-forbidden"


def test_every_mismatch_is_named() -> None:
    expected = Expected(hosts={"gone.example": "proxy_forbidden"}, findings=("proxy-forbidden",), no_errors=True)
    report = _report(("a.example", "https", "tls_intercepted"), findings=(("tls-intercepted", "error"),))
    verdict = judge(expected, report, ["the lab DNS server got no query"])
    assert not verdict.passed
    assert verdict.problems == (
        "the lab DNS server got no query",
        "a.example:443: expected ok, got tls_intercepted",
        "gone.example: not probed",
        "finding proxy-forbidden missing",
        "unexpected error finding(s): tls-intercepted",
    )


def test_an_empty_report_never_passes() -> None:
    assert not judge(Expected(), {"results": {"endpoints": []}, "findings": []}).passed


def test_account_runs() -> None:
    exp = AccountExpectation("pim@contoso.com", (), 1, ("privileged-identity-management",))
    good = {"findings": [{"id": "privileged-identity-management"}]}
    assert judge_account(exp, 1, good, "pim").passed
    assert judge_account(exp, 0, good, "pim").problems == ("pim: exit code 0, expected 1",)
    assert judge_account(exp, 1, {"findings": []}, "pim").problems == ("pim: finding privileged-identity-management "
                                                                       "missing",)
    assert not judge_account(None, 4, {"findings": []}, "x").passed
    assert judge_account(None, 1, {"findings": []}, "x").passed
    assert not judge_account(exp, 1, None, "pim").passed


def test_select_keeps_registry_order_and_rejects_unknown_names() -> None:
    assert [s.name for s in select(["tls-inspection", "healthy"])] == ["healthy", "tls-inspection"]
    assert len(select(None)) == len(SCENARIOS)
    with pytest.raises(ValueError, match="unknown scenario"):
        select(["healthy", "bogus"])


def test_every_check_scenario_declares_what_it_expects() -> None:
    for scenario in SCENARIOS.values():
        assert scenario.mirrors and scenario.setup and scenario.title
        if scenario.kind == "check":
            assert scenario.prepare is not None
        else:
            assert scenario.accounts
