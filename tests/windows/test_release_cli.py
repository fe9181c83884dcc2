"""The release zip as an admin uses it: aadc-doctor.cmd from cmd, any folder, paths with spaces, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.infra.wine import WindowsRelease

MAX_ZIP_BYTES = 40 * 1024 * 1024


def test_the_zip_has_the_launcher_on_top_python_and_no_wine_workaround(windows_zip: Path) -> None:
    with zipfile.ZipFile(windows_zip) as zf:
        names = zf.namelist()
        infos = zf.infolist()
    assert windows_zip.stat().st_size <= MAX_ZIP_BYTES
    assert names == sorted(names)
    assert "aadc-doctor.cmd" in names and "README.txt" in names
    top = {n.split("/")[0] for n in names}
    assert top == {"aadc-doctor.cmd", "README.txt", "python"}
    assert {"python/python.exe", "python/python313.dll", "python/python313._pth"} <= set(names)
    assert "python/Lib/site-packages/aadc_doctor/cli.py" in names
    assert any(n.startswith("python/Lib/site-packages/cryptography/") and n.endswith(".pyd") for n in names)
    assert any(n.startswith("python/Lib/site-packages/evtx/") and n.endswith(".pyd") for n in names)
    assert not any("bcryptprimitives" in n.lower() for n in names)  # a Wine-only need, kept in the test prefix
    assert len({i.date_time for i in infos}) == 1  # one timestamp: reproducible


def test_a_second_build_gives_the_same_files_and_bytes(windows_zip: Path, tmp_path: Path) -> None:
    """Reproducible: rebuilt from the same sources and pins, every file and its content is the same."""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    subprocess.run([sys.executable, str(repo / "scripts" / "build_windows.py"), "--out", str(tmp_path)], check=True,
                   env=env, timeout=600)
    [rebuilt] = tmp_path.glob("*.zip")
    with zipfile.ZipFile(windows_zip) as first, zipfile.ZipFile(rebuilt) as second:
        assert first.namelist() == second.namelist()
        assert [i.CRC for i in first.infolist()] == [i.CRC for i in second.infolist()]
    digest = (tmp_path / f"{rebuilt.name}.sha256").read_text(encoding="ascii").split()[0]
    import hashlib

    assert digest == hashlib.sha256(rebuilt.read_bytes()).hexdigest()


def test_version_and_helpmsg_through_the_launcher(release: WindowsRelease) -> None:
    from aadc_doctor import __version__

    run = release.cli("--version")
    assert (run.code, run.stdout.strip()) == (0, f"aadc-doctor {__version__}")
    run = release.cli("helpmsg", "1328")
    assert run.code == 0, run.stderr
    assert "Your account has time restrictions that keep you from signing in right now." in run.stdout


def test_from_another_folder_with_relative_paths_and_spaces(release: WindowsRelease, tmp_path: Path,
                                                            win: Callable[[Path], str]) -> None:
    work = tmp_path / "case files" / "server 01"
    work.mkdir(parents=True)
    run = release.cli("explain", "0xC000006F", "--json", "--output", "reports dir\\explain report.json",
                      cwd=win(work))
    assert run.code == 2 and "reports dir" in run.stderr and "Traceback" not in run.stderr  # the folder is missing
    (work / "reports dir").mkdir()
    run = release.cli("explain", "0xC000006F", "--json", "--output", "reports dir\\explain report.json",
                      cwd=win(work))
    assert run.code == 0, run.stderr
    printed = json.loads(run.stdout)
    written = json.loads((work / "reports dir" / "explain report.json").read_text(encoding="utf-8"))
    assert printed == written
    assert written["command"] == "explain" and written["schema_version"] == 1
    assert "STATUS_INVALID_LOGON_HOURS" in json.dumps(written)


def test_usage_errors_are_one_line_and_exit_2(release: WindowsRelease) -> None:
    run = release.cli("pta", "trace", "C:\\no such folder\\Trace")
    assert run.code == 2
    assert run.stderr.startswith("aadc-doctor: error: ") and "Traceback" not in run.stderr
    run = release.cli("--bogus")
    assert run.code == 2 and "unrecognized arguments: --bogus" in run.stderr


def test_explain_finds_a_code_and_says_when_nothing_matches(release: WindowsRelease) -> None:
    run = release.cli("explain", "AADSTS80001")
    assert run.code == 0 and "AADSTS80001" in run.stdout
    run = release.cli("explain", "nonsense-zzz")
    assert run.code == 1 and "No entry matches the input." in run.stdout


def test_python_exe_run_directly(release: WindowsRelease) -> None:
    run = release.module("helpmsg", "1326", "--json")
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["command"] == "helpmsg" and "user name or password is incorrect" in run.stdout


@pytest.mark.parametrize("codepage", ["cp437", "cp850", "cp1252"])
def test_legacy_console_code_pages_neither_crash_nor_garble_the_tools_text(release: WindowsRelease,
                                                                           codepage: str) -> None:
    """Output through a console or pipe in an old code page: the tool's own text must come out readable."""
    run = release.cli("explain", "AADSTS50014", env={"PYTHONIOENCODING": codepage}, encoding=codepage)
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr and "UnicodeEncodeError" not in run.stderr
    assert "The user account doesn" in run.stdout and "t exist in the directory." in run.stdout
    run = release.cli("proxy", "--machine-config", "Z:\\nonexistent\\machine.config",
                      env={"PYTHONIOENCODING": codepage}, encoding=codepage)
    assert run.code == 2 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
