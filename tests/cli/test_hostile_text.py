"""Markup and terminal escapes in input are printed as text (issue 17, items 9 and 10), through the CLI.

Before, ``[/]`` in a trace RequestId or an event's TargetUserName ended human output with exit 4 (report
lost), ``[link=...]`` made a hyperlink, and ESC sequences from a trace, a pasted error or a file name reached
the terminal raw. The proxy reason phrase, header and realm cases run against a real loopback proxy in
tests/integration/test_secret_canary.py.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from aadc_doctor.errors import ExitCode
from aadc_doctor.render.safe_text import UNSAFE_CHARACTERS

_spec = importlib.util.spec_from_file_location("tracegen", Path(__file__).parents[1] / "fixtures/pta/tracegen.py")
assert _spec and _spec.loader
tg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tg)

HOSTILE = "[/] [link=http://evil.example]x[/link] \x1b]0;owned\x07\x1b[2J\x9b31m\u202eabc"
_UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")


def _assert_safe(text: str) -> None:
    assert not _UNSAFE.search(text), repr(text)


def test_markup_and_escapes_in_a_trace_request_id(tmp_path, run_cli):
    trace = tg.write_trace(tmp_path / "trace.log", tg.failure_entry(tg.CURRENT_EXE, f"id-{HOSTILE}", 1326, tg.T0))
    result = run_cli("pta", "trace", str(trace), env={"COLUMNS": "100"})
    assert result.code in (ExitCode.OK, ExitCode.PROBLEMS_FOUND), result.stderr
    assert "[/]" in result.stdout and "[link=http://evil.example]" in result.stdout
    _assert_safe(result.stdout + result.stderr)


def test_markup_and_escapes_in_an_events_target_user_name(tmp_path, run_cli):
    export = tmp_path / "security.xml"
    hostile_xml = "[/] [link=http://evil.example]x[/link] \x9b31m\u202eabc"  # XML 1.0 forbids C0 controls
    export.write_text(tg.events_document([tg.failed_logon(tg.T0, f"user{hostile_xml}", "0xc000006a", "0x0")]),
                      encoding="utf-8")
    result = run_cli("pta", "events", str(export), env={"COLUMNS": "100"})
    assert result.code in (ExitCode.OK, ExitCode.PROBLEMS_FOUND), result.stderr
    _assert_safe(result.stdout + result.stderr)
    as_json = run_cli("pta", "events", str(export), "--json")
    _assert_safe(as_json.stdout)  # DEL, C1 and bidi controls are \\u escapes in JSON too
    assert "\\u009b" in as_json.stdout or "\\u202e" in as_json.stdout


def test_escapes_in_an_explain_paste(run_cli):
    result = run_cli("explain", f"AADSTS50126 {HOSTILE}")
    assert result.code in (ExitCode.OK, ExitCode.PROBLEMS_FOUND), result.stderr
    _assert_safe(result.stdout + result.stderr)


@pytest.mark.parametrize("name", ["no\x1b[31mfile\nsecond line.log", "bad\udcffname.log", "[/]x.log"])
def test_a_file_name_in_an_error_line_is_one_safe_line(run_cli, tmp_path, name):
    result = run_cli("proxylog", str(tmp_path / name))
    assert result.code == ExitCode.USAGE_OR_INPUT
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("aadc-doctor: error: "), result.stderr
    _assert_safe(result.stderr)
    result.stderr.encode("utf-8")
