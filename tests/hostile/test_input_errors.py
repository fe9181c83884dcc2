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


def test_columns_that_is_not_a_number_falls_back(run_cli: Callable[..., Any]) -> None:
    """COLUMNS is set by the shell, not given by the user: a bad one is read around (120 columns), not fatal."""
    for value in ("abc", "²", "-5", HUGE):
        result = run_cli("explain", "1328", env={"COLUMNS": value})
        assert result.code == 0 and "ERROR_INVALID_LOGON_HOURS" in result.stdout, value


def test_unicode_digit_ports_in_bypass_lists_never_crash() -> None:
    target = Target.from_url("https://login.microsoftonline.com/")
    assert no_proxy_match(["login.microsoftonline.com:4²3"], target) == "login.microsoftonline.com:4²3"
    assert winhttp_bypass_match(["login.microsoftonline.com:4²3"], target) == "login.microsoftonline.com:4²3"


def test_error_codes_from_the_network_are_bounded() -> None:
    error = parse_oauth_error({"error_codes": ["²", 10**50, True, "50126"], "error_description": "AADSTS" + HUGE})
    assert error.codes == (50126,)
