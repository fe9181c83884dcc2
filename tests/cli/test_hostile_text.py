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


@pytest.mark.parametrize("mode", ["--json", None])
def test_an_event_export_with_a_300_kb_field_is_quick(tmp_path, run_cli, mode):
    """Issue 17, item 7: 46 s in JSON mode before (scrubbing retried a pattern from every position)."""
    import time

    field = "a" * 300_000 + "://" + "eyJ-" * 2000
    export = tmp_path / "security.xml"
    export.write_text(tg.events_document([tg.failed_logon(tg.T0, field, "0xc000006a", "0x0")]), encoding="utf-8")
    started = time.perf_counter()
    result = run_cli("pta", "events", str(export), *([mode] if mode else []))
    elapsed = time.perf_counter() - started
    assert result.code in (ExitCode.OK, ExitCode.PROBLEMS_FOUND), result.stderr
    assert elapsed < 5.0, elapsed


def test_a_huge_proxyaddress_is_shortened_on_the_terminal_and_whole_in_json(tmp_path, run_cli):
    import time

    host = "proxy" + "a" * 2_000_000 + ".corp"
    config = tmp_path / "machine.config"
    config.write_text(f'<configuration><system.net><defaultProxy><proxy proxyaddress="http://{host}:8080"/>'
                      "</defaultProxy></system.net></configuration>", encoding="utf-8")
    started = time.perf_counter()
    human = run_cli("proxy", "--machine-config", str(config))
    as_json = run_cli("proxy", "--machine-config", str(config), "--json")
    assert time.perf_counter() - started < 20.0  # rich wraps one long value in quadratic time: capped
    assert human.code in (ExitCode.OK, ExitCode.PROBLEMS_FOUND), human.stderr
    assert len(human.stdout) < 500_000
    assert host in as_json.stdout


def test_one_value_shows_at_most_20000_characters_on_the_terminal():
    import io
    import time

    from aadc_doctor.render.terminal import MAX_SHOWN_CHARACTERS, make_console

    sink = io.StringIO()
    started = time.perf_counter()
    make_console(sink, {"NO_COLOR": "1", "COLUMNS": "100"}).print("x" * 3_000_000 + "END")
    assert time.perf_counter() - started < 5.0
    out = sink.getvalue()
    assert "2,980,103 characters not shown" in out and out.replace("\n", "").endswith("END")
    assert out.count("x") == MAX_SHOWN_CHARACTERS - 100 - 3
