"""The platform-independent unit and CLI tests, run by pytest under the release's Windows CPython.

A test copy of the release gets pytest and its test-only wheels (pinned in packaging/windows/
test-requirements.txt; never in the zip). Tests that cannot run on Windows say why in their own marker.
"""

from __future__ import annotations

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
    return folder


def test_unit_and_cli_tests_pass_under_windows_cpython(wine: WinePrefix, test_copy: Path,
                                                       tmp_path: Path) -> None:
    basetemp = tmp_path / "pytest temp"
    argv = [str(test_copy / "python" / "python.exe"), "-m", "pytest", "tests/unit", "tests/cli", "-q",
            "-p", "no:cacheprovider", "--timeout", "120", "-rfEs", "--tb=short", "--basetemp", windows_path(basetemp)]
    run = wine.run(argv, cwd=REPO, timeout=1500, env={"PYTHONDONTWRITEBYTECODE": "1"})
    summary = [line for line in run.stdout.splitlines() if re.search(r"\d+ passed", line)]
    print("\nWindows CPython pytest:", summary[-1] if summary else "no summary line")
    assert run.code == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert summary and " failed" not in summary[-1]
    shutil.rmtree(basetemp, ignore_errors=True)

