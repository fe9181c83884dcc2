"""Issue 17: cases of items 8 and 11 that had no test through the CLI of the command the issue names.

- item 8: the catastrophic .NET bypass pattern also hung `check` (each endpoint URL is matched against the
  machine.config bypass list before the probe), not only `proxy`; `check` now names it too;
- item 11: Unicode digits in a NO_PROXY port and in an environment proxy's port, through `check`.

Closed loopback ports stand for unreachable peers; `--timeout 5` leaves Windows time for its refused-connect retries
(about 1 s), so the outcomes are the same in the Windows lane.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

EVIL = "^(([a-z:/.]+)+)+!"
URL = "https://login.microsoftonline.com:443/"


def test_check_with_a_catastrophic_bypass_pattern_ends(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    config = tmp_path / "machine.config"
    config.write_text('<?xml version="1.0"?>\n<configuration><system.net><defaultProxy>'
                      '<proxy usesystemdefault="false" proxyaddress="http://127.0.0.1:9" bypassonlocal="true"/>'
                      f'<bypasslist><add address="{EVIL}"/></bypasslist></defaultProxy></system.net></configuration>\n')
    started = time.monotonic()
    result = run_cli("check", "--machine-config", str(config), "--endpoint", URL, "--timeout", "5", "--json")
    assert time.monotonic() - started < 15  # the backtracking match of the URL against EVIL never ended
    assert result.code == 1, result.stderr
    assert [e["outcome"] for e in result.json()["results"]["endpoints"]] == ["proxy_unreachable"]
    dangerous = [f for f in result.json()["findings"] if f["id"] == "bypass-entry-dangerous"]
    assert [f["title"] for f in dangerous] == [f'Bypass entry "{EVIL}" can make .NET hang']  # named, as by `proxy`


def test_check_with_unicode_digits_in_a_no_proxy_port(run_cli: Callable[..., Any]) -> None:
    """The entry's port is not a number: the entry is read as its host (as the bypass unit tests fix), so the
    endpoint goes direct, to a closed loopback port here; before, the port's int() was an internal error."""
    result = run_cli("check", "--endpoint", URL, "--timeout", "5", "--json",
                     "--connect-to", "login.microsoftonline.com:443:127.0.0.1:9",
                     env={"HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "login.microsoftonline.com:4²3"})
    assert result.code == 1, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert [e["outcome"] for e in result.json()["results"]["endpoints"]] == ["tcp_refused"]


@pytest.mark.parametrize("port", ["8²80", "٨٠٨٠"])  # int() refuses the first and reads the second as 8080
@pytest.mark.parametrize("source", ["HTTPS_PROXY", "--proxy"])
def test_check_with_unicode_digits_in_the_proxy_port(run_cli: Callable[..., Any], port: str, source: str) -> None:
    proxy = f"http://127.0.0.1:{port}"
    given = ["--proxy", proxy] if source == "--proxy" else []
    result = run_cli("check", "--endpoint", URL, "--timeout", "5", *given,
                     env={"HTTPS_PROXY": proxy} if source == "HTTPS_PROXY" else {})
    assert result.code == 2, result.stderr
    assert result.stderr.splitlines()[0] == f"aadc-doctor: error: {source} {proxy}: not a valid host:port"
    assert "Traceback" not in result.stderr
