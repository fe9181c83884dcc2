"""The package says it is typed (PEP 561), so mypy checks code that imports it (tests/infra included) against its
annotations instead of skipping it; the wheel must carry the marker."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_the_package_ships_a_py_typed_marker_in_its_wheel() -> None:
    marker = REPO / "src" / "aadc_doctor" / "py.typed"
    assert marker.is_file()
    wheel = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "src/aadc_doctor" in wheel["packages"]  # hatchling takes every file of the package, not only .py
    relative = marker.relative_to(REPO).as_posix()
    assert not any(fnmatch(relative, pattern) for pattern in wheel.get("exclude", []))
    assert "only-include" not in wheel and "include" not in wheel
