"""`demo` (every scenario) and `pta trace|events` run by Windows CPython: spawned helpers, drive letters, UTF-16."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import time
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from tests.infra.spinning_evtx import write_spinning_evtx
from tests.infra.wine import WindowsRelease, helper_pids, wait_until

from aadc_doctor.lab.scenarios import SCENARIOS

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
BIG = CORPUS / "evtx" / "omerbenamram-evtx_security.evtx"  # 33 chunks, 2,261 records, 2.1 MB

_spec = importlib.util.spec_from_file_location("tracegen", Path(__file__).parents[1] / "fixtures/pta/tracegen.py")
assert _spec and _spec.loader
tg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tg)


def test_demo_runs_every_scenario_as_expected(release: WindowsRelease) -> None:
    run = release.cli("demo", "--json", timeout=300)
    assert run.code == 0, run.stderr[-3000:]
    doc = json.loads(run.stdout)
    got = {s["name"]: s for s in doc["results"]["scenarios"]}
    assert set(got) == set(SCENARIOS)
    assert [name for name, s in got.items() if not s["passed"]] == []
    intercepted = [e for e in got["tls-inspection"]["report"]["results"]["endpoints"]
                   if e["outcome"] == "tls_intercepted"]
    assert intercepted and all("Fabrikam TLS Inspection CA" in e["tls"]["issuer"] for e in intercepted)


def _trace_folder(root: Path) -> Path:
    folder = root / "Trace logs"
    folder.mkdir()
    older = "".join(tg.failure_entry(tg.LEGACY_EXE, tg.request_id(i), 1328, tg.T0 + tg.minutes(i)) for i in range(3))
    newer = "".join(tg.failure_entry(tg.CURRENT_EXE, tg.request_id(10 + i), 1311, tg.T0 + timedelta(hours=1, minutes=i))
                    for i in range(2))
    tg.write_trace(folder / "AzureADConnectAuthenticationAgent_1.log", older, "utf-16", "\r\n")
    tg.write_trace(folder / "AzureADConnectAuthenticationAgent_0.log", newer, "utf-8")
    return folder


def test_pta_trace_on_a_folder_and_a_zip_with_utf16(release: WindowsRelease, tmp_path: Path,
                                                   win: Callable[[Path], str]) -> None:
    folder = _trace_folder(tmp_path)
    archive = tmp_path / "Trace logs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"Trace/{path.name}")
    direct = release.cli("pta", "trace", win(folder), "--json")
    assert direct.code == 1, direct.stderr  # 1311: the agent cannot reach a DC
    results = json.loads(direct.stdout)["results"]
    assert [r["reason"] for r in results["requests"]] == [1328, 1328, 1328, 1311, 1311]
    assert sorted(f["encoding"] for f in results["files"]) == ["utf-16", "utf-8"]
    zipped = release.cli("pta", "trace", win(archive), "--json")
    assert zipped.code == 1, zipped.stderr
    assert json.loads(zipped.stdout)["results"]["by_reason"] == results["by_reason"]
    assert {r["reason"]: r["count"] for r in results["by_reason"]} == {1328: 3, 1311: 2}


def _big_logs(folder: Path, megabytes: int) -> list[Path]:
    """Copies of a real 2.1 MB Security log, `megabytes` in all (a file named twice would be read once)."""
    data = BIG.read_bytes()
    folder.mkdir()
    paths = []
    for n in range(-(-megabytes * 1024 * 1024 // len(data))):
        path = folder / f"Security {n:02d}.evtx"
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_pta_events_with_spawned_helpers_equals_one_process(release: WindowsRelease, tmp_path: Path,
                                                            win: Callable[[Path], str]) -> None:
    logs = _big_logs(tmp_path / "event logs", 64)
    assert sum(p.stat().st_size for p in logs) >= 64 * 1024 * 1024
    serial = release.cli("pta", "events", win(logs[0].parent), "--jobs", "1", "--json", timeout=600)
    parallel = release.cli("pta", "events", win(logs[0].parent), "--jobs", "2", "--json", timeout=600)
    assert serial.code in (0, 1), serial.stderr
    assert parallel.code == serial.code, parallel.stderr
    one, two = json.loads(serial.stdout), json.loads(parallel.stdout)
    assert two["results"] == one["results"] and two["findings"] == one["findings"]
    assert len(one["results"]["files"]) == len(logs)
    assert all(f["records"] == 2261 and not f["damaged"] for f in one["results"]["files"])


def test_a_log_the_evtx_package_loops_on_ends_as_damaged(release: WindowsRelease, tmp_path: Path,
                                                        win: Callable[[Path], str]) -> None:
    """The win_amd64 evtx build loops forever on this log (it hung this lane's fuzz run): the guarded reader's
    spawned helper is stopped after 10 s without progress; the other log is read in full; no helper is left."""
    folder = tmp_path / "logs with a looping one"
    folder.mkdir()
    write_spinning_evtx(CORPUS, folder / "spins.evtx")
    (folder / "intact.evtx").write_bytes(BIG.read_bytes())
    started = time.monotonic()
    run = release.cli("pta", "events", win(folder), "--json", timeout=180)
    took = time.monotonic() - started
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    files = {Path(f["name"].replace("\\", "/")).name: f for f in report["results"]["files"]}
    assert files["spins.evtx"]["damaged"]
    assert "made no progress for 10 s on damaged data in chunk 0 and was stopped" in files["spins.evtx"]["errors"][-1]
    assert files["intact.evtx"]["records"] == 2261 and not files["intact.evtx"]["damaged"]
    assert any(f["id"] == "evtx-damaged" for f in report["findings"])
    assert took < 120, took
    assert wait_until(lambda: not helper_pids(), timeout=30), f"helpers left behind: {helper_pids()}"


def test_terminating_a_parallel_read_leaves_no_helper(release: WindowsRelease, tmp_path: Path,
                                                      win: Callable[[Path], str]) -> None:
    logs = _big_logs(tmp_path / "many logs", 256)
    assert helper_pids() == []
    proc = release.prefix.popen(release.python_argv("-m", "aadc_doctor", "pta", "events", "--jobs", "2", "--json",
                                                    win(logs[0].parent)))
    try:
        assert wait_until(lambda: bool(helper_pids()), timeout=60), "no spawned helper was seen"
        time.sleep(0.3)  # mid-read
        assert proc.poll() is None, "the read ended before it could be interrupted"
        [main] = [pid for pid in helper_pids("-m aadc_doctor pta events") if pid not in helper_pids()]
        os.kill(main, signal.SIGKILL)  # the Windows process dies at once, as with TerminateProcess
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert wait_until(lambda: not helper_pids(), timeout=30), f"helpers left behind: {helper_pids()}"


def test_proxy_reads_the_servers_own_files_at_their_default_paths(release: WindowsRelease) -> None:
    """machine.config of Framework64 and Framework, and each component's .exe.config, where Windows has them."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "machine_config"
    drive_c = release.prefix.drive_c
    placed: list[Path] = []
    try:
        for bits, source in (("Framework64", "authenticated.config"), ("Framework", "valid.config")):
            target = drive_c / "windows" / "Microsoft.NET" / bits / "v4.0.30319" / "Config" / "machine.config"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((fixtures / source).read_bytes())
            placed.append(target)
        exe_source = (fixtures / "valid.config").read_bytes()
        for folder, name in (("Microsoft Azure AD Connect Authentication Agent",
                              "AzureADConnectAuthenticationAgentService.exe.config"),
                             ("Microsoft Azure AD Sync/Bin", "miiserver.exe.config"),
                             ("Microsoft Azure AD Connect Provisioning Agent",
                              "AADConnectProvisioningAgent.exe.config")):
            target = drive_c / "Program Files" / folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(exe_source)
            placed.append(target)
        run = release.cli("proxy", "--json")
        assert run.code in (0, 1), run.stderr
        sources = json.loads(run.stdout)["results"]["sources"]
        paths = [(s["kind"], s.get("component"), s.get("path", "").lower()) for s in sources]
        assert paths[:2] == [
            ("machine.config", None, r"c:\windows\microsoft.net\framework64\v4.0.30319\config\machine.config"),
            ("machine.config", None, r"c:\windows\microsoft.net\framework\v4.0.30319\config\machine.config"),
        ]
        assert sources[0]["use_default_credentials"] is True and sources[1]["use_default_credentials"] is not True
        exe = {s["component"]: s["path"] for s in sources if s["kind"] == "exe.config"}
        assert exe == {
            "sync": r"C:\Program Files\Microsoft Azure AD Sync\Bin\miiserver.exe.config",
            "pta-agent": r"C:\Program Files\Microsoft Azure AD Connect Authentication Agent"
                         r"\AzureADConnectAuthenticationAgentService.exe.config",
            "cloud-sync-agent": r"C:\Program Files\Microsoft Azure AD Connect Provisioning Agent"
                                r"\AADConnectProvisioningAgent.exe.config",
        }
        winhttp = [s for s in sources if s["kind"] == "winhttp"]
        assert len(winhttp) == 1  # netsh ran (Wine's netsh prints no winhttp settings: recorded as an error)
        assert winhttp[0]["path"] == "netsh winhttp show proxy"
    finally:
        for path in placed:
            path.unlink()


def test_proxy_runs_netsh_itself(release: WindowsRelease) -> None:
    run = release.cli("proxy", "--json")
    sources = json.loads(run.stdout)["results"]["sources"] if run.stdout.strip() else []
    assert run.code in (0, 1, 2), run.stderr
    # Wine's netsh has no `winhttp` context: the tool says so in the source row (real output: parser tests)
    winhttp = [s for s in sources if s["kind"] == "winhttp"]
    assert winhttp and winhttp[0]["path"] == "netsh winhttp show proxy", (run.stdout, run.stderr)


def test_no_stray_wine_processes_of_ours() -> None:
    out = subprocess.run(["pgrep", "-af", "aadc_doctor"], capture_output=True, text=True, check=False).stdout
    assert "--multiprocessing-fork" not in out
