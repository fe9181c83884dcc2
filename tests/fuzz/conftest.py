"""The fuzz suite (hypothesis): settings in ``budget.py``; the budget per target is reported at the end."""

from __future__ import annotations

import pytest
from tests.fuzz.budget import BUDGETS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if BUDGETS:
        terminalreporter.write_sep("-", "fuzz budget (inputs per target, this session's collection)")
        for target, count in sorted(BUDGETS.items()):
            terminalreporter.write_line(f"{target}: {count:,}")
