"""`aadc-doctor demo` end to end: the real lab, the real `check` (and `account`), judged per scenario."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import pytest

from aadc_doctor.errors import ExitCode
from aadc_doctor.lab import scenarios as scenario_registry
from aadc_doctor.lab.scenarios import Expected, Scenario

pytestmark = pytest.mark.integration

CHECK_SCENARIOS = ["healthy", "url-not-opened", "proxy-auth-required", "proxy-auth-credentials", "direct-no-proxy",
                   "dns-filtered", "tls-inspection"]


def _by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in doc["results"]["scenarios"]}


def test_list_names_every_scenario(run_cli) -> None:
    result = run_cli("demo", "--list", "--json")
    assert result.code == ExitCode.OK
    names = [s["name"] for s in result.json()["results"]["scenarios"]]
    assert names[: len(CHECK_SCENARIOS)] == CHECK_SCENARIOS
    human = run_cli("demo", "--list")
    assert "url-not-opened" in human.stdout and "Mirrors" in human.stdout


def test_unknown_scenario_is_a_usage_error(run_cli) -> None:
    result = run_cli("demo", "--scenario", "no-such-thing")
    assert result.code == ExitCode.USAGE_OR_INPUT
    assert "unknown scenario(s): no-such-thing" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_scenario_is_diagnosed_as_expected_within_30_seconds(run_cli, monkeypatch) -> None:
    password = "Lab-Secret-4711"
    monkeypatch.setattr(scenario_registry.secrets, "token_urlsafe", lambda _n: password)
    before = set(threading.enumerate())
    started = time.monotonic()
    result = run_cli("demo", "--json")
    elapsed = time.monotonic() - started
    assert result.code == ExitCode.OK, result.stdout[-3000:]
    assert elapsed < 30
    doc = result.json()
    assert doc["command"] == "demo"
    assert doc["findings"] == []
    got = _by_name(doc)
    assert all(s["passed"] for s in got.values())
    forbidden = got["url-not-opened"]["report"]
    denied = [e for e in forbidden["results"]["endpoints"] if e["outcome"] == "proxy_forbidden"]
    assert [e["host"] for e in denied] == ["secure.aadcdn.microsoftonline-p.com"]
    assert denied[0]["proxy_error"] == "ERR_ACCESS_DENIED 0"
    assert {f["id"] for f in got["proxy-auth-required"]["report"]["findings"]} >= {"proxy-auth-required"}
    assert got["proxy-auth-credentials"]["report"]["results"]["auth"]["user"] == "svc-aadsync"
    direct = got["direct-no-proxy"]["report"]["results"]
    assert direct["proxy"]["source"] == "--direct"
    assert all("NXDOMAIN" in e["error"] and "from 127.0.0.1:" in e["error"] for e in direct["endpoints"])
    filtered = got["dns-filtered"]["report"]
    assert [f["id"] for f in filtered["findings"]] == ["dns-filtered"]
    assert all(e["dns"]["failure"] == "filtered" and e["phases"]["tcp_ms"] is None
               for e in filtered["results"]["endpoints"])  # never connected to the sinkhole
    intercepted = [e for e in got["tls-inspection"]["report"]["results"]["endpoints"]
                   if e["outcome"] == "tls_intercepted"]
    assert intercepted and all("Fabrikam TLS Inspection CA" in e["tls"]["issuer"] for e in intercepted)
    if "account" in got:
        assert len(got["account"]["runs"]) == len(scenario_registry.SCENARIOS["account"].accounts)
    assert password not in result.stdout
    assert not set(threading.enumerate()) - before  # the lab's loop thread is gone


def test_human_output_shows_header_table_findings_and_summary(run_cli) -> None:
    result = run_cli("demo", "--scenario", "url-not-opened", "--scenario", "direct-no-proxy")
    assert result.code == ExitCode.OK
    out = result.stdout
    assert "1/2 url-not-opened: One required URL not opened on the proxy" in out
    assert "Mirrors: Troubleshoot connectivity issues with Azure AD Connect > 403 Forbidden" in out
    flat = " ".join(out.split())  # the command line wraps at the console width
    if sys.platform == "win32":  # what an admin types in cmd
        assert "> aadc-doctor.cmd check --profile sync --timeout 5 --lab-microsoft-root %LAB%\\lab-root-ca.pem " \
            "--proxy http://fabrikamproxy:" in flat
    else:
        assert "$ aadc-doctor check --profile sync --timeout 5 --lab-microsoft-root $LAB/lab-root-ca.pem --proxy " \
            "http://fabrikamproxy:" in flat
    assert "--resolve fabrikamproxy:" in flat
    assert "proxy_forbidden" in out and "The MFA endpoint cannot be reached" in out
    assert "--direct --dns-server 127.0.0.1:" in flat
    assert "Diagnosis as expected" in out
    assert "2 of 2 scenarios diagnosed as expected" in out


def test_the_printed_command_line_is_what_the_user_types_on_each_platform() -> None:
    from pathlib import PurePosixPath, PureWindowsPath
    from types import SimpleNamespace

    from aadc_doctor.commands.demo import _command_line

    win = SimpleNamespace(workdir=PureWindowsPath(r"C:\Users\Jo Admin\AppData\Local\Temp\aadc-lab-1"))
    argv = ["check", "--lab-microsoft-root", str(win.workdir / "lab-root-ca.pem"), "--proxy", "http://p:8080"]
    assert _command_line(argv, win, "win32") == (  # type: ignore[arg-type]
        r'> aadc-doctor.cmd check --lab-microsoft-root "%LAB%\lab-root-ca.pem" --proxy http://p:8080')
    posix = SimpleNamespace(workdir=PurePosixPath("/tmp/aadc-lab-1"))
    argv = ["check", "--lab-microsoft-root", str(posix.workdir / "lab-root-ca.pem"), "--proxy", "http://p:8080"]
    assert _command_line(argv, posix, "linux") == (  # type: ignore[arg-type]
        "$ aadc-doctor check --lab-microsoft-root $LAB/lab-root-ca.pem --proxy http://p:8080")


def test_a_wrong_diagnosis_fails_the_demo(run_cli, monkeypatch) -> None:
    healthy = scenario_registry.SCENARIOS["healthy"]
    wrong = Scenario(name="healthy", title=healthy.title, setup=healthy.setup, mirrors=healthy.mirrors,
                     expected=Expected(others="proxy_forbidden", findings=("proxy-forbidden",)),
                     prepare=healthy.prepare)
    monkeypatch.setitem(scenario_registry.SCENARIOS, "healthy", wrong)
    result = run_cli("demo", "--scenario", "healthy", "--json")
    assert result.code == ExitCode.PROBLEMS_FOUND
    doc = result.json()
    assert [f["id"] for f in doc["findings"]] == ["demo-unexpected-diagnosis"]
    entry = doc["results"]["scenarios"][0]
    assert not entry["passed"]
    assert "finding proxy-forbidden missing" in entry["problems"]
    human = run_cli("demo", "--scenario", "healthy")
    assert human.code == ExitCode.PROBLEMS_FOUND
    assert "Diagnosis NOT as expected" in human.stdout and "FAIL" in human.stdout


def test_ctrl_c_stops_the_lab_and_exits_130(run_cli, monkeypatch) -> None:
    from aadc_doctor.commands import check

    real_collect = check.CheckCommand.collect
    calls = {"n": 0}

    def interrupted_second_time(self: Any, args: Any, ctx: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_collect(self, args, ctx)

    monkeypatch.setattr(check.CheckCommand, "collect", interrupted_second_time)
    before = set(threading.enumerate())
    result = run_cli("demo", "--scenario", "healthy", "--scenario", "url-not-opened")
    assert result.code == ExitCode.INTERRUPTED
    assert "interrupted" in result.stderr
    assert "1/2 healthy" in result.stdout
    assert not set(threading.enumerate()) - before
