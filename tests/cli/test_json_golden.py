"""The JSON contract of every command, before and after the refactor of issue 16: each case's normalised
`--json` report equals its golden file, written from the code before the refactor (tests/golden/cases.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.golden.cases import CASES, GOLDEN, Case, run_case


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_json_report_is_unchanged(case: Case, tmp_path: Path) -> None:
    expected = json.loads((GOLDEN / f"{case.name}.json").read_text("utf-8"))
    got = json.loads(json.dumps(run_case(case, tmp_path / case.name), ensure_ascii=False))
    assert got == expected


def test_every_golden_file_has_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(c.name for c in CASES)
