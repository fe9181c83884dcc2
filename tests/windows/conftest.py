"""The Windows lane: the release zip run by Windows CPython under Wine, driven from this (Linux) pytest.

Collected only when AADC_WINDOWS_LANE=1 (scripts/test-windows.sh sets it, after building the zip); the Linux
suite skips this folder. Nothing here is skipped when Wine, mingw or the zip is missing: the lane FAILS.

Fixtures for tests that run the tool on Windows (a later command's tests add a file here and use them):
    wine: WinePrefix            session-wide prefix of our own (~7 s to create), bcryptprimitives shim installed.
                                wine.drive_c (Path of C:\\), wine.run(argv), wine.run_batch(lines).
    release: WindowsRelease     the zip unpacked under "C:\\Program Files\\aadc doctor <version>" in that prefix.
                                release.cli(*args, cwd=WINPATH, env=...) -> WinRun(code, stdout, stderr): what an
                                admin types in cmd (`"C:\\...\\aadc-doctor.cmd" ARGS`); release.module(*args) runs
                                python.exe -m aadc_doctor directly; release.python_argv(...) for Popen.
    samba_dc: SambaDC           a real Samba AD DC on a loopback address of its own (users of tests/infra/samba.py).
    win: Callable               win(path) -> the Windows form of a Linux path (Z:\\... or C:\\... in the prefix).
Real components (Squid, TLS origins, certificates) come from tests/integration/conftest.py, imported below.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.infra.samba import SambaDC
from tests.infra.tools import ComponentMissing
from tests.infra.wine import WindowsRelease, WinePrefix, windows_path, wine_prefix

# real components shared with the Linux integration tests (fixtures are found by name in this module)
from tests.integration.conftest import (  # noqa: F401
    _reap_lab_daemons,
    inspected_origin,
    inspecting_ca,
    inspecting_ca_file,
    lab_ca,
    lab_ca_file,
    squid,
    tls_origin,
)

REPO = Path(__file__).resolve().parents[2]
LANE = os.environ.get("AADC_WINDOWS_LANE") == "1"
collect_ignore_glob = [] if LANE else ["test_*.py"]


def release_version() -> str:
    text = (REPO / "src" / "aadc_doctor" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    assert match
    return match.group(1)


@pytest.fixture(scope="session")
def windows_zip() -> Path:
    path = Path(os.environ.get("AADC_WINDOWS_ZIP") or REPO / "dist" / f"aadc-doctor-{release_version()}-win-amd64.zip")
    if not path.is_file():
        pytest.fail(f"the Windows release zip is missing ({path}); build it with `bash scripts/build-windows.sh`",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinePrefix]:
    try:
        with wine_prefix(tmp_path_factory.mktemp("wineprefix")) as prefix:
            yield prefix
    except ComponentMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def release(wine: WinePrefix, windows_zip: Path) -> WindowsRelease:
    folder = wine.drive_c / "Program Files" / f"aadc doctor {release_version()}"
    return WindowsRelease(wine, windows_zip, folder).unpack()


@pytest.fixture(scope="session")
def win() -> Callable[[Path], str]:
    return windows_path


@pytest.fixture(scope="session")
def samba_dc() -> Iterator[SambaDC]:
    """One real Samba AD DC on the Linux side (tests/infra/samba.py), reached by Windows CPython over loopback."""
    try:
        try:
            dc = SambaDC().start()
        except RuntimeError:  # seen once: provision failed in setsysvolacl while other runs used the machine
            dc = SambaDC().start()
    except ComponentMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield dc
    finally:
        dc.stop()
