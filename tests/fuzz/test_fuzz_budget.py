"""Issue 17, "Done when": every parser is fuzzed with at least 10,000 inputs across the suite (at scale 1).

The fuzz modules are imported here if pytest has not imported them yet (when this file runs alone), so their
module-level budgets are declared; a budget is counted once per declaring line however often its module is
imported. A parser target of the list below with no fuzz test, or with a budget under 10,000, fails.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from tests.fuzz.budget import MIN_INPUTS_PER_PARSER, declared_budgets

TESTS = Path(__file__).resolve().parents[1]
FUZZ_MODULES = (
    TESTS / "hostile" / "test_fuzz_parsers.py",
    TESTS / "unit" / "logs" / "test_fuzz_log_parsers.py",
    TESTS / "fuzz" / "test_fuzz_binary_parsers.py",
)
PARSER_TARGETS = (
    "explain",
    "logs.squid", "logs.combined", "logs.w3c", "logs.listing", "logs.tinyproxy", "logs.sniff", "logs.text_input",
    "logs.pta_trace", "logs.event_xml", "logs.evtx", "logs.evtx_checksummed",
    "proxyconfig.dotnet_config",  # machine.config and .exe.config: one parser (parse_config_bytes)
    "proxyconfig.winhttp",  # netsh winhttp show proxy output
    "proxyconfig.pac_source", "proxyconfig.pac_result", "proxyconfig.textfile",
    "proxyconfig.dotnet_bypass", "proxyconfig.no_proxy_winhttp_bypass", "proxyconfig.environment",
    "net.json_depth",
    "ad.ber", "ad.cldap", "ad.ad_time", "ad.logon_hours",
)


def _import_unless_imported(path: Path) -> None:
    loaded = {Path(module.__file__).resolve() for module in list(sys.modules.values())
              if getattr(module, "__file__", None)}
    if path in loaded:
        return
    spec = importlib.util.spec_from_file_location(f"_fuzz_budget_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


@pytest.fixture(scope="module")
def budgets() -> dict[str, int]:
    for path in FUZZ_MODULES:
        _import_unless_imported(path)
    return dict(declared_budgets())


@pytest.mark.parametrize("target", PARSER_TARGETS)
def test_every_parser_has_at_least_10000_inputs(budgets: dict[str, int], target: str) -> None:
    assert target in budgets, f"{target}: no fuzz test declares a budget for this parser"
    assert budgets[target] >= MIN_INPUTS_PER_PARSER, f"{target}: {budgets[target]:,} inputs at scale 1"


def test_the_budget_check_sees_a_missing_or_small_target(budgets: dict[str, int]) -> None:
    """The check can fail: a target nobody declares is missing, and the declared ones are counted at scale 1."""
    assert "logs.no-such-parser" not in budgets
    assert all(count >= 1 for count in budgets.values())
    assert MIN_INPUTS_PER_PARSER == 10_000
