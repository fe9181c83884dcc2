"""Issue 17, item 11 (the inputs outside the log parsers): Unicode digits and integers over 4,300 digits are
input errors (exit 2, one line), never internal errors (exit 4)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from aadc_doctor.account.oauth import parse_oauth_error
from aadc_doctor.proxyconfig.bypass import Target, no_proxy_match, winhttp_bypass_match

HUGE = "9" * 5000


def _one_line_error(result: Any, expected: str) -> None:
    assert result.code == 2, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines()[0] == f"aadc-doctor: error: {expected}"
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["check", "account"])
def test_unicode_digits_in_a_connect_to_port(run_cli: Callable[..., Any], command: str) -> None:
    extra = ["a@contoso.com", "--no-sign-in"] if command == "account" else []
    started = time.monotonic()
    result = run_cli(command, *extra, "--direct", "--connect-to", "login.microsoftonline.com:4²3:127.0.0.1:1")
    _one_line_error(result, "'login.microsoftonline.com:4²3:127.0.0.1:1': '4²3' is not a port number")
    assert time.monotonic() - started < 10


def test_a_5000_digit_connect_to_port(run_cli: Callable[..., Any]) -> None:
    result = run_cli("check", "--direct", "--connect-to", f"login.microsoftonline.com:443:127.0.0.1:{HUGE}")
    assert result.code == 2 and "is not a port number" in result.stderr and "internal error" not in result.stderr


def test_helpmsg_with_5000_digits(run_cli: Callable[..., Any]) -> None:
    _one_line_error(run_cli("helpmsg", HUGE), f"helpmsg: {HUGE[:20]}... (5000 characters) is out of range for a "
                                              "Windows error code (32 bits)")


@pytest.mark.parametrize("digits", ["²", "٣٣", "13²8"])
def test_helpmsg_with_unicode_digits(run_cli: Callable[..., Any], digits: str) -> None:
    _one_line_error(run_cli("helpmsg", digits), f"helpmsg: {digits!r} is not a number (give a decimal like 1328 or "
                                                "hex like 0x530)")


def test_explain_reason_with_5000_digits(run_cli: Callable[..., Any]) -> None:
    result = run_cli("explain", f"Reason: '{HUGE}'", "--json")
    assert result.code == 1 and "internal error" not in result.stderr


@pytest.mark.parametrize("value", ["abc", "²", "-5", "0", "19", "1001", "99999", "12.5", " ", "\x1b[2J", HUGE])
def test_columns_that_is_not_a_width_is_ignored_with_one_warning(run_cli: Callable[..., Any], value: str) -> None:
    """COLUMNS is a hint from the shell (shutil and rich ignore a bad one, GNU ls warns and goes on), not the
    user's input: a bad one is ignored (120 columns) with one warning line, and the exit code is the command's."""
    result = run_cli("explain", "1328", env={"COLUMNS": value})
    assert result.code == 0 and "ERROR_INVALID_LOGON_HOURS" in result.stdout, value
    assert "Traceback" not in result.stderr
    if not value.strip():
        assert result.stderr == ""  # an empty COLUMNS is an unset one
        return
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("aadc-doctor: warning: ignoring COLUMNS=")
    assert lines[0].endswith(": not a width of 20 to 1000 columns; using 120")
    assert "\x1b" not in lines[0] and len(lines[0]) < 140  # neutralised and shortened
    assert max(map(len, result.stdout.splitlines())) <= 120


@pytest.mark.parametrize("value", ["20", "100", "1000"])
def test_a_valid_columns_sets_the_width_without_a_word(run_cli: Callable[..., Any], value: str) -> None:
    result = run_cli("explain", "1328", env={"COLUMNS": value})
    assert result.code == 0 and result.stderr == ""
    assert max(map(len, result.stdout.splitlines())) <= max(int(value), 40)


def test_columns_is_not_read_for_json(run_cli: Callable[..., Any]) -> None:
    result = run_cli("explain", "1328", "--json", env={"COLUMNS": "abc"})
    assert result.code == 0 and result.stderr == ""


def test_unicode_digit_ports_in_bypass_lists_never_crash() -> None:
    target = Target.from_url("https://login.microsoftonline.com/")
    assert no_proxy_match(["login.microsoftonline.com:4²3"], target) == "login.microsoftonline.com:4²3"
    assert winhttp_bypass_match(["login.microsoftonline.com:4²3"], target) == "login.microsoftonline.com:4²3"


def test_error_codes_from_the_network_are_bounded() -> None:
    error = parse_oauth_error({"error_codes": ["²", 10**50, True, "50126"], "error_description": "AADSTS" + HUGE})
    assert error.codes == (50126,)
