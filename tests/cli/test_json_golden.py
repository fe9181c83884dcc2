"""The JSON contract of every command, before and after the refactor of issue 16: each case's normalised
`--json` report equals its golden file, written from the code before the refactor (tests/golden/cases.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tests.golden.cases import CASES, GOLDEN, Case, run_case

# Cases whose report holds this machine's own state on Windows, not only the case's input: `proxy` on Windows also
# reads the PC's .exe.config files and runs `netsh winhttp show proxy` (commands/proxy.py, `on_windows`), and the
# demo lab's temporary paths are Windows paths the Linux-recorded golden files cannot hold. The release's `proxy`
# and `demo` are checked under Windows by tests/windows (test_release_cli.py, test_windows_demo_pta.py).
WINDOWS_SPECIFIC = ("proxy-", "demo")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_json_report_is_unchanged(case: Case, tmp_path: Path) -> None:
    if os.name == "nt" and case.name.startswith(WINDOWS_SPECIFIC):
        pytest.skip("on Windows this report includes the PC's own proxy settings and Windows temp paths")
    expected = json.loads((GOLDEN / f"{case.name}.json").read_text("utf-8"))
    got = json.loads(json.dumps(run_case(case, tmp_path / case.name), ensure_ascii=False))
    if os.sep == "\\":
        got, expected = _slashes(got), _slashes(expected)
    assert _differences(got, expected) == []


def _slashes(value: Any) -> Any:
    """On Windows, paths in a report use its separator; the golden files were written on Linux. Both sides get
    '/' so the comparison is about the contract, not the platform's path syntax."""
    if isinstance(value, str):
        return value.replace("\\", "/")
    if isinstance(value, dict):
        return {_slashes(k): _slashes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_slashes(v) for v in value]
    return value


def _differences(got: Any, expected: Any, path: str = "") -> list[str]:
    """Where two JSON values differ (the first few), to read in the failure instead of two long dicts."""
    if type(got) is not type(expected):
        return [f"{path}: {got!r:.120} != {expected!r:.120}"]
    if isinstance(got, dict):
        out = [f"{path}/{k}: missing" for k in expected if k not in got]
        out += [f"{path}/{k}: unexpected" for k in got if k not in expected]
        for key in got.keys() & expected.keys():
            out += _differences(got[key], expected[key], f"{path}/{key}")
        return out[:10]
    if isinstance(got, list):
        out = [f"{path}: {len(got)} items != {len(expected)}"] if len(got) != len(expected) else []
        for index, (a, b) in enumerate(zip(got, expected, strict=False)):
            out += _differences(a, b, f"{path}[{index}]")
        return out[:10]
    return [] if got == expected else [f"{path}: {got!r:.120} != {expected!r:.120}"]


def test_every_golden_file_has_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(c.name for c in CASES)
