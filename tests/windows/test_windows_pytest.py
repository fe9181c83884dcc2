"""The platform-independent unit and CLI tests, run by pytest under the release's Windows CPython.

A test copy of the release gets pytest and its test-only wheels (pinned in packaging/windows/
test-requirements.txt; never in the zip). Tests that cannot run on Windows say why in their own marker.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.infra.wine import WinePrefix, windows_path

REPO = Path(__file__).resolve().parents[2]
TEST_REQUIREMENTS = REPO / "packaging" / "windows" / "test-requirements.txt"
# Tests not run under Windows CPython here, each with its reason. "Wine:" = a Wine limit (real Windows runs it);
# (None is left "untriaged": each entry below is a Wine limit or a test that expects a Linux machine.)
FORK = "the fork path, forced by the test: os.fork and signal.pthread_sigmask do not exist on Windows (spawn there)"
LINUX_SOURCES = "the test expects a Linux machine: on Windows `proxy` also reads netsh and the server's machine.config"
NOT_RUN_ON_WINDOWS: dict[str, str] = {
    "tests/unit/net/test_probe.py::test_negotiate_sends_a_token_and_reports_the_rejection":
        "Wine: SSPI AcquireCredentialsHandle for Negotiate/NTLM crashes the process (page fault in Wine 8)",
    "tests/unit/net/test_probe.py::test_proxy_answers_to_connect[response2-proxy_auth_required-None]":
        "Wine: SSPI AcquireCredentialsHandle for Negotiate/NTLM crashes the process (page fault in Wine 8)",
    'tests/unit/core/test_parallel.py::test_results_come_back_in_task_order_and_the_work_is_shared[fork]':
        FORK,
    'tests/unit/core/test_parallel.py::test_one_process_or_one_task_starts_nothing':
        'the test monkeypatches os.fork, absent on Windows',
    'tests/unit/core/test_parallel.py::test_tasks_of_a_helper_that_dies_are_done_here':
        FORK,
    'tests/unit/core/test_parallel.py::test_where_no_process_can_be_started_everything_is_done_here':
        'the test monkeypatches os.fork, absent on Windows',
    'tests/unit/core/test_parallel.py::test_an_error_in_a_task_reaches_the_caller':
        FORK,
    'tests/unit/core/test_parallel.py::test_helpers_that_die_never_leave_the_main_process_waiting[fork]':
        FORK,
    'tests/unit/core/test_parallel.py::test_many_small_tasks_on_the_fork_path':
        FORK,
    'tests/unit/core/test_parallel.py::test_a_result_that_cannot_be_read_back_is_redone_here_and_never_blocks_the_helper'
    '[fork]':
        FORK,
    'tests/cli/test_pta_parallel.py::test_without_helper_processes_this_process_reads_everything':
        'the test monkeypatches os.fork, absent on Windows',
    'tests/cli/test_pta_parallel.py::test_ctrl_c_mid_read_exits_130_and_leaves_no_helper_behind[ctrl-c to the group]':
        "POSIX process groups, SIGINT and /proc; the lane's termination test covers Windows",
    'tests/cli/test_pta_parallel.py::test_ctrl_c_mid_read_exits_130_and_leaves_no_helper_behind'
    '[sigint to the main process]':
        "POSIX SIGINT and /proc; the lane's termination test covers Windows",
    'tests/cli/test_proxy.py::test_valid_json_shape':
        "the test expects a Linux machine: on Windows `proxy` also reads netsh and the server's machine.config",
    'tests/cli/test_proxy.py::test_pac':
        "the test expects a Linux machine: on Windows `proxy` also reads netsh and the server's machine.config",
    'tests/cli/test_proxy.py::test_bypass_finding_names_the_file_and_line_that_adds_the_entry':
        "the test expects a Linux machine: on Windows `proxy` also reads netsh and the server's machine.config",
    'tests/cli/test_proxy.py::test_nothing_to_audit_is_a_usage_error':
        "the test expects a Linux machine: on Windows `proxy` also reads netsh and the server's machine.config",
    'tests/unit/proxyconfig/test_pac.py::test_unreachable_pac_url':
        "the test expects the Linux wording of 'connection refused'",
    'tests/unit/collect/test_collect.py::test_collect_on_linux_exits_2_with_one_line':
        "a Linux-only expectation: on Windows `collect` runs (the lane's collect test covers it there)",
    'tests/cli/test_pta.py::test_an_unreadable_file_inside_a_trace_folder_or_zip_is_skipped_and_reported':
        'the test makes a file unreadable with chmod, which Windows ignores',
}
# every platform-independent suite of the repository (tests/integration needs the Linux daemons; tests/windows is
# this lane itself)
SUITES = ("tests/unit", "tests/cli", "tests/fuzz", "tests/hostile")
# The fuzz suite's budgets (tests/fuzz/budget.py) scaled down here: Windows CPython under Wine is ~5x slower, and
# 10,000 inputs per parser would take the lane past its time. AADC_WINDOWS_FUZZ_SCALE overrides it (e.g. 1 for a
# full run).
WINDOWS_FUZZ_SCALE = "0.05"
PIP_PLATFORM = ["--only-binary=:all:", "--platform", "win_amd64", "--python-version", "3.13", "--implementation", "cp"]


@pytest.fixture(scope="session")
def test_copy(wine: WinePrefix, windows_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release unpacked a second time, with pytest added: the shipped copy stays as shipped."""
    folder = tmp_path_factory.mktemp("release test copy")
    with zipfile.ZipFile(windows_zip) as zf:
        zf.extractall(folder)
    wheels = tmp_path_factory.mktemp("test wheels")
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "download", *PIP_PLATFORM,
                    "--no-deps", "--require-hashes", "-d", str(wheels), "-r", str(TEST_REQUIREMENTS)], check=True,
                   timeout=300)
    site = folder / "python" / "Lib" / "site-packages"
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(site)
    # Wine-only: platform.system() (hypothesis calls it) queries WMI, and Wine 8 aborts the process in
    # propsys.VariantToString. Without _wmi, CPython falls back to `ver`, as it does where WMI is off.
    (folder / "python" / "_wmi.pyd").unlink()
    # Wine-only: Wine 8 has no kernel32 CopyFile2, which shutil.copy2 (and copytree) call on Windows since 3.12;
    # without it the process dies in Wine's debugger. shutil falls back to copyfile + copystat when it is absent.
    (folder / "python" / "sitecustomize.py").write_text(
        "import _winapi\n\nif hasattr(_winapi, 'CopyFile2'):\n    del _winapi.CopyFile2\n", encoding="utf-8")
    return folder


@pytest.mark.timeout(1800)  # ~1,250 tests in one Windows CPython under Wine: 4-8 min on a loaded 2-CPU runner
def test_unit_and_cli_tests_pass_under_windows_cpython(wine: WinePrefix, test_copy: Path,
                                                       tmp_path: Path) -> None:
    basetemp = tmp_path / "pytest temp"
    # -v: one line per test, so a run that overruns its time shows which test it was in
    argv = [str(test_copy / "python" / "python.exe"), "-m", "pytest", *SUITES, "-v", "--durations=15",
            "-p", "no:cacheprovider", "--timeout", "120", "-rsfE", "--tb=short", "--basetemp", windows_path(basetemp)]
    for nodeid in NOT_RUN_ON_WINDOWS:
        argv += ["--deselect", nodeid]
    fuzz_scale = os.environ.get("AADC_WINDOWS_FUZZ_SCALE", WINDOWS_FUZZ_SCALE)
    run = wine.run(argv, cwd=REPO, timeout=1500, env={"PYTHONDONTWRITEBYTECODE": "1", "AADC_FUZZ_SCALE": fuzz_scale})
    summary = [line for line in run.stdout.splitlines() if re.search(r"\d+ passed", line)]
    print("\nWindows CPython pytest:", summary[-1] if summary else "no summary line",
          f"({len(NOT_RUN_ON_WINDOWS)} deselected, reasons in {Path(__file__).name}; fuzz scale {fuzz_scale})")
    failures = "\n".join(line for line in run.stdout.splitlines() if line.startswith(("FAILED ", "ERROR ")))
    if failures:  # here too: a CI log shows its end, and this line comes before the long report below
        print(f"Windows CPython pytest failures:\n{failures[:4000]}")
    # the failures last (-rsfE puts them after the skips): what a CI log shows of a long report is its end
    report = f"{run.stdout[-3000:]}{run.stderr[-2000:]}\n--- failed under Windows CPython ---\n{failures[:4000]}"
    assert run.code == 0, report
    assert summary and " failed" not in summary[-1], report
    shutil.rmtree(basetemp, ignore_errors=True)

