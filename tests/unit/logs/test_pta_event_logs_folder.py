"""`pta events` given a folder, as Windows behaves: open() of a directory raises PermissionError there.

The message must say the path is a folder (or the folder's .evtx files must be read), never "Permission denied",
which sends the admin after the file's rights. Windows is simulated: ``open`` is patched to raise what Windows'
CPython raises for a directory ([Errno 13] Permission denied), while the real .evtx reader reads real files.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aadc_doctor.errors import InputError
from aadc_doctor.logs import pta_event_logs
from aadc_doctor.logs.pta_event_logs import _sniff_file, read_head

EVTX = "e2m_ID4625_account_restriction.evtx"


@pytest.fixture
def windows_open(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``open`` as on Windows: a directory gives PermissionError. Returns the directories it refused."""
    refused: list[str] = []
    real_open = builtins.open

    def open_as_windows(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | bytes | os.PathLike) and os.path.isdir(file):
            refused.append(os.fspath(file) if not isinstance(file, bytes) else file.decode())
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_as_windows)
    return refused


@pytest.fixture
def folder(tmp_path: Path, corpus: Path) -> Path:
    """A folder with one real .evtx and a subfolder whose name ends in .evtx."""
    logs = tmp_path / "logs"
    (logs / "sub.evtx").mkdir(parents=True)
    shutil.copy(corpus / "evtx" / EVTX, logs / EVTX)
    return logs


def test_the_simulation_is_windows(windows_open: list[str], tmp_path: Path) -> None:
    with pytest.raises(PermissionError):
        open(tmp_path, "rb")  # noqa: SIM115 - what the code under test meets on Windows
    assert windows_open == [str(tmp_path)]


@pytest.mark.parametrize("simulate_windows", [True, False], ids=["windows", "linux"])
def test_a_folder_sniffed_as_an_event_log_is_named_a_folder(request: pytest.FixtureRequest, folder: Path,
                                                             simulate_windows: bool) -> None:
    if simulate_windows:
        request.getfixturevalue("windows_open")
    with pytest.raises(InputError) as caught:
        _sniff_file(folder / "sub.evtx")
    assert caught.value.message == f"{folder / 'sub.evtx'}: is a folder; give .evtx or .xml files"
    assert "Permission denied" not in caught.value.message


def test_read_head_of_a_folder(windows_open: list[str], folder: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        read_head(folder)


def test_a_file_really_denied_still_says_so(windows_open: list[str], folder: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a folder is renamed: a file that cannot be opened keeps the system's reason."""
    def denied(*_args: Any, **_kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(builtins, "open", denied)
    with pytest.raises(InputError, match="cannot read: Permission denied"):
        _sniff_file(folder / EVTX)


def test_pta_events_reads_the_evtx_files_of_a_folder(windows_open: list[str], folder: Path,
                                                     run_cli: Callable[..., Any]) -> None:
    pta_event_logs._SNIFFED.clear()
    result = run_cli("pta", "events", "--json", "--jobs", "1", str(folder))
    assert result.code in (0, 1), result.stderr
    assert "Permission denied" not in result.stdout + result.stderr
    files = json.loads(result.stdout)["results"]["files"]
    assert [(Path(f["name"]).name, f["records"], f["errors"]) for f in files] == [(EVTX, 2, [])]


def test_pta_events_given_a_folder_inside_the_folder_list(windows_open: list[str], folder: Path,
                                                          run_cli: Callable[..., Any]) -> None:
    """The subfolder named like a log is no log: it is not opened, so no error names it."""
    pta_event_logs._SNIFFED.clear()
    result = run_cli("pta", "events", "--json", "--jobs", "1", str(folder), str(folder / EVTX))
    assert result.code in (0, 1), result.stderr
    assert str(folder / "sub.evtx") not in windows_open
