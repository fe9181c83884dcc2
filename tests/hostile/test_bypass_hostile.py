"""Issue 17, items 8 and 13: hostile .NET bypass lists in machine.config neither hang `proxy` nor `check`.

A pattern with nested repetition (``^(([a-z:/.]+)+)+!``) took exponential time per URL; 200,000 plain entries
were re-compiled for every URL (an LRU of 512) and merged with a list scan each. Through the CLI, with wall
time bounds, the finding's id, and the unit behaviour of the compiled list.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aadc_doctor.proxyconfig.bypass import (
    Target,
    dangerous_dotnet_entries,
    dotnet_bypass_match,
    is_dangerous_pattern,
)

EVIL = "^(([a-z:/.]+)+)+!"


def _config(path: Path, entries: list[str]) -> Path:
    adds = "\n".join(f'<add address="{e}"/>' for e in entries)
    path.write_text('<?xml version="1.0"?>\n<configuration><system.net><defaultProxy>'
                    '<proxy usesystemdefault="false" proxyaddress="http://fabrikamproxy:8080" bypassonlocal="true"/>'
                    f"<bypasslist>\n{adds}\n</bypasslist></defaultProxy></system.net></configuration>\n")
    return path


def test_a_catastrophic_pattern_is_named_and_not_evaluated(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    cfg = _config(tmp_path / "machine.config", ["intranet\\.contoso\\.com", EVIL])
    started = time.monotonic()
    result = run_cli("proxy", "--machine-config", str(cfg), "--json")
    seconds = time.monotonic() - started
    assert result.code == 1, result.stderr
    dangerous = [f for f in result.json()["findings"] if f["id"] == "bypass-entry-dangerous"]
    assert [f["title"] for f in dangerous] == [f'Bypass entry "{EVIL}" can make .NET hang']
    assert seconds < 10


def test_200000_entries_take_seconds(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    cfg = _config(tmp_path / "machine.config", [f"host{i}\\.contoso\\.com" for i in range(200_000)])
    for extra in ((), ("--json",)):
        started = time.monotonic()
        result = run_cli("proxy", "--machine-config", str(cfg), *extra)
        seconds = time.monotonic() - started
        assert result.code == 0, result.stderr
        assert seconds < 30, (extra, seconds)  # was past 150 s; about 3-6 s on an idle runner
    assert "199,980" in run_cli("proxy", "--machine-config", str(cfg)).stdout  # "... and 199,980 more" in the table


def test_the_compiled_list_keeps_dotnet_semantics() -> None:
    entries = [f"host{i}\\.contoso\\.com" for i in range(50_000)] + ["^https://wiki\\.", "fabrikam\\.local$", EVIL]
    started = time.monotonic()
    last = Target.from_url("https://host49999.contoso.com/")
    assert dotnet_bypass_match(entries, last) == "host49999\\.contoso\\.com"
    assert dotnet_bypass_match(entries, Target.from_url("https://xhost7.contoso.com.evil/")) == "host7\\.contoso\\.com"
    assert dotnet_bypass_match(entries, Target.from_url("https://wiki.fabrikam.com/")) == "^https://wiki\\."
    assert dotnet_bypass_match(entries, Target.from_url("http://wiki.fabrikam.com/")) is None
    assert dotnet_bypass_match(entries, Target.from_url("https://dc1.FABRIKAM.local/")) == "fabrikam\\.local$"
    assert dotnet_bypass_match(entries, Target.from_url("https://login.microsoftonline.com/")) is None
    assert dotnet_bypass_match([*entries, "*.contoso.com"], Target.from_url("https://host1.contoso.com/")) is None
    assert time.monotonic() - started < 10


def test_nested_repetition_is_detected() -> None:
    for pattern in (EVIL, "(a+)+", "(a*)*b", "((ab)*c)+", "(x{2,})*", "(?:[a-z]+\\.)+com$"):
        assert is_dangerous_pattern(pattern), pattern
    for pattern in ("[a-z0-9.-]*\\.contoso\\.com$", "(a|b)+", "\\(a+\\)+", "[(a+)+]", "(abc){2}", "host\\.(a|b)"):
        assert not is_dangerous_pattern(pattern), pattern


def test_a_slow_pattern_the_check_misses_is_stopped_by_the_time_limit() -> None:
    slow = "^(a|a)*!"  # no nested repetition, still exponential for a backtracking engine
    started = time.monotonic()
    assert dotnet_bypass_match([slow], Target.from_url("https://" + "a" * 40 + ".com/")) is None
    assert time.monotonic() - started < 5  # the regex engine answers it, or its time limit does
    assert dangerous_dotnet_entries([slow]) in ([], [slow])
