"""`analyze` finds every kind of input by itself and gives the same findings from a `collect` zip, its unpacked
folder, and a plain copy of the server's files laid out as on its drive."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliRun
from tests.fixtures.server import fake_server

from aadc_doctor.commands import RunContext
from aadc_doctor.commands.collect import collect_with, run_check_in_process
from aadc_doctor.serverfiles.registry_export import format_export

CLOSED_PROXY = ("--proxy", "http://127.0.0.1:9", "--timeout", "2")
TODAY = "2026-12-05"
EXPECTED_IDS = {
    "connect-version-sync-stopped", "connect-upgrade-by-2027-04-07", "tls12-enforcement-missing", "tls13-enforced",
    "provisioning-hybrid-identity-service-no-active-agents",
    "provisioning-azure-directory-service-authorization-failed",
    "provisioning-web-socket-failed", "pta-reason-1326", "pta-reason-1328", "pta-reason-1317", "proxy-unreachable",
    "proxy-only-in-miiserver-config", "pta-agent-behind-authenticating-proxy", "adsync-restart-needed",
}


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("analyze")
    system = fake_server.build(tmp / "server", with_admin_log=False)
    out = tmp / "case.zip"
    args = argparse.Namespace(out=str(out), since=None, max_mb=200.0, redact=False, no_check=False)
    collect_with(system, args, RunContext(json_mode=True, stdout=io.StringIO(), stderr=io.StringIO(), env={}),
                 check_args=CLOSED_PROXY)
    unpacked = tmp / "unpacked"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(unpacked)
    # a plain copy, as an admin would make it by hand: the drive's folders, event logs where Windows keeps them,
    # `reg export` files, saved netsh output and a saved `check --json` per profile; no manifest
    plain = tmp / "plain"
    shutil.copytree(tmp / "server", plain)
    logs = plain / "Windows/System32/winevt/Logs"
    logs.mkdir(parents=True)
    shutil.copyfile(fake_server.SECURITY_EVTX, logs / "Security.evtx")
    shutil.copyfile(fake_server.APPLICATION_EVTX, logs / "Application.evtx")
    registry = {k: dict(v) for k, v in fake_server.registry().items() if "Notepad" not in str(v)}
    (plain / "exports").mkdir()
    (plain / "exports" / "hklm.reg").write_bytes(format_export(registry).encode("utf-16"))
    (plain / "exports" / "winhttp.txt").write_text(system.winhttp_text)
    for profile in ("sync", "pta", "cloudsync"):
        report = run_check_in_process(profile, CLOSED_PROXY)
        (plain / "exports" / f"check-{profile}.json").write_text(json.dumps(report))
    return {"zip": out, "unpacked": unpacked, "plain": plain}


def _analyze(run_cli: Any, path: Path) -> CliRun:
    result: CliRun = run_cli("analyze", str(path), "--today", TODAY, "--json")
    assert result.code == 1, result.stderr
    return result


ONLY_FROM_COLLECT = ("collect-gaps", "service-stopped")  # manifest.json and services.json: no plain copy has them


def _keys(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["id"], f["severity"], f["subject"]) for f in report["findings"] if f["id"] not in ONLY_FROM_COLLECT]


def test_zip_folder_and_plain_copy_give_the_same_findings(case: dict[str, Path], run_cli: Any) -> None:
    from_zip = _analyze(run_cli, case["zip"]).json()
    from_folder = _analyze(run_cli, case["unpacked"]).json()
    from_plain = _analyze(run_cli, case["plain"]).json()
    assert from_zip["findings"] == from_folder["findings"]
    assert _keys(from_zip) == _keys(from_plain)
    assert {f["id"] for f in from_zip["findings"]} >= EXPECTED_IDS | {"service-stopped"}
    assert from_zip["results"]["input_kind"] == "zip" and from_plain["results"]["input_kind"] == "folder"
    assert from_plain["results"]["manifest"] is None and from_zip["results"]["manifest"]["host"] == "AADC01"


def test_findings_are_merged_and_sorted_by_severity(case: dict[str, Path], run_cli: Any) -> None:
    report = _analyze(run_cli, case["zip"]).json()
    ranks = [{"error": 0, "warning": 1, "info": 2}[f["severity"]] for f in report["findings"]]
    assert ranks == sorted(ranks)
    keys = [(f["id"], f["subject"]) for f in report["findings"]]
    assert len(keys) == len(set(keys))
    # the three saved checks share one proxy-unreachable finding per subject
    assert sum(1 for f in report["findings"] if f["id"] == "proxy-unreachable") == 1


def test_every_kind_of_input_is_found(case: dict[str, Path], run_cli: Any) -> None:
    results = _analyze(run_cli, case["plain"]).json()["results"]
    inputs = results["inputs"]
    assert inputs["machine_config"] == ["Windows/Microsoft.NET/Framework/v4.0.30319/Config/machine.config",
                                        "Windows/Microsoft.NET/Framework64/v4.0.30319/Config/machine.config"]
    assert inputs["event_log"] == ["Windows/System32/winevt/Logs/Application.evtx",
                                   "Windows/System32/winevt/Logs/Security.evtx"]
    assert inputs["provisioning_trace"] == [
        "ProgramData/Microsoft/Azure AD Connect Provisioning Agent/Trace/ProvisioningAgent_20261204.log"]
    assert len(inputs["pta_trace"]) == 2 and inputs["registry"] == ["exports/hklm.reg"]
    assert inputs["winhttp"] == ["exports/winhttp.txt"] and len(inputs["check"]) == 3
    statuses = {a["name"]: a["status"] for a in results["analysers"]}
    assert statuses == {"server-rules": "ok", "proxy": "ok", "check": "ok", "pta": "ok",
                        "provisioning-agent": "ok", "services": "skipped"}


def test_deadlines_are_judged_as_of_the_run_date(case: dict[str, Path], run_cli: Any) -> None:
    before = run_cli("analyze", str(case["plain"]), "--today", "2026-09-01", "--json").json()
    sev = {f["id"]: f["severity"] for f in before["findings"]}
    assert sev["connect-version-sync-stopped"] == "warning"
    after = run_cli("analyze", str(case["plain"]), "--today", "2027-04-07", "--json").json()
    sev = {f["id"]: f["severity"] for f in after["findings"]}
    assert sev["connect-version-sync-stopped"] == "error" and sev["connect-upgrade-by-2027-04-07"] == "error"


def test_bad_inputs_exit_2_with_one_line(tmp_path: Path, run_cli: Any) -> None:
    missing = run_cli("analyze", str(tmp_path / "nope"))
    assert missing.code == 2 and "no such file or folder" in missing.stderr and "Traceback" not in missing.stderr
    text = tmp_path / "x.txt"
    text.write_text("hello")
    assert run_cli("analyze", str(text)).code == 2
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../outside.txt", "x")
    result = run_cli("analyze", str(evil))
    assert result.code == 2 and "outside the folder" in result.stderr
    assert not (tmp_path / "outside.txt").exists()
    assert run_cli("analyze", str(tmp_path), "--today", "tomorrow").code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("analyze", str(empty))
    assert result.code == 2 and "nothing an analyser reads was found" in result.stderr


def test_a_redacted_collection_is_analysed_too(tmp_path: Path, run_cli: Any) -> None:
    system = fake_server.build(tmp_path / "server", with_admin_log=False)
    out = tmp_path / "red.zip"
    args = argparse.Namespace(out=str(out), since=None, max_mb=200.0, redact=True, no_check=True)
    collect_with(system, args, RunContext(json_mode=True, stdout=io.StringIO(), stderr=io.StringIO(), env={}))
    report = _analyze(run_cli, out).json()
    assert report["results"]["inputs"]["event_log"] == ["collected/eventlogs/Application-components.xml",
                                                        "collected/eventlogs/Security-pta-agent.xml"]
    ids = {f["id"] for f in report["findings"]}
    assert {"connect-version-sync-stopped", "tls12-enforcement-missing", "pta-reason-1328", "logon-reason-1326",
            "provisioning-hybrid-identity-service-no-active-agents"} <= ids
    assert "jdoe" not in json.dumps(report) and "AADC01" not in json.dumps(report)
