"""Shared settings of the hypothesis fuzz suite: deterministic, a fixed budget per target, no deadline.

Every fuzz test takes its settings from ``fuzz_settings(target, examples)``:
- ``derandomize=True`` and no example database: the same inputs on every run, every machine, the Windows
  lane included, so a failure is reproducible and CI never flakes on a lucky draw;
- ``deadline=None``: a loaded CI runner must not turn a slow example into a failure (time limits, where
  they matter, are asserted by the test itself with a wide margin);
- ``max_examples``: the target's budget, times ``AADC_FUZZ_SCALE`` (default 1; e.g. 10 for a long run).
The budgets are recorded per target and printed at the end of the session (issue 17 asks for at least 10,000
inputs per parser across the suite): name the target after the parser or renderer, e.g. ``"logs.squid"``.
"""

from __future__ import annotations

import os
import sys
from collections import Counter

from hypothesis import HealthCheck, Phase, settings

PROFILE = "aadc-fuzz"
settings.register_profile(
    PROFILE,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.large_base_example],
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no replay of a database that is not kept
)

BUDGETS: Counter[str] = Counter()
# the budgets as written (scale 1), by target and the place that declared them: a module imported twice (pytest,
# then tests/fuzz/test_fuzz_budget.py) declares the same place twice, counted once
DECLARED: dict[tuple[str, str], int] = {}
MIN_INPUTS_PER_PARSER = 10_000  # issue 17, "Done when": at least 10,000 inputs per parser across the suite


def declared_budgets() -> Counter[str]:
    """Each target's budget at scale 1, summed over the fuzz tests declared so far."""
    totals: Counter[str] = Counter()
    for (target, _place), examples in DECLARED.items():
        totals[target] += examples
    return totals


def scale() -> float:
    try:
        return max(float(os.environ.get("AADC_FUZZ_SCALE", "1")), 0.01)
    except ValueError:
        return 1.0


def _declaring_place() -> str:
    """``file:line`` of the module-level line of a test file that declared the budget (the decorator line, whatever
    shorthand it goes through); the same when the module is imported a second time. A budget declared inside a
    function is known only once that function runs: declare fuzz tests at module level."""
    fallback = ""
    frame = sys._getframe(1)
    while frame is not None:
        name = os.path.basename(frame.f_code.co_filename)
        if name.startswith("test_"):
            if frame.f_code.co_name == "<module>":
                return f"{name}:{frame.f_lineno}"
            fallback = fallback or f"{name}:{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back
    return fallback


def fuzz_settings(target: str, examples: int) -> settings:
    """The settings for one fuzz test of ``target`` with a budget of ``examples`` inputs (before scaling)."""
    count = max(int(examples * scale()), 1)
    BUDGETS[target] += count
    DECLARED[(target, _declaring_place())] = examples
    return settings(settings.get_profile(PROFILE), max_examples=count)
