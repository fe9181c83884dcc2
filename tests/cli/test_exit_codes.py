"""Every exit code explain and helpmsg can give, each with a test; no input gives a traceback.

3 (run incomplete) cannot happen for these offline commands: they need no network or lab.
"""

from __future__ import annotations

import pytest

from aadc_doctor.errors import ExitCode


@pytest.mark.parametrize(("args", "code"), [
    (("explain", "1328"), ExitCode.OK),
    (("explain", "InvalidGrant"), ExitCode.OK),
    (("explain", "qwxzv"), ExitCode.PROBLEMS_FOUND),
    (("explain", "AADSTS99999999"), ExitCode.PROBLEMS_FOUND),
    (("explain",), ExitCode.USAGE_OR_INPUT),
    (("explain", " "), ExitCode.USAGE_OR_INPUT),
    (("explain", "1328", "--no-such-option"), ExitCode.USAGE_OR_INPUT),
    (("helpmsg", "1328"), ExitCode.OK),
    (("helpmsg", "99999"), ExitCode.PROBLEMS_FOUND),
    (("helpmsg", "abc"), ExitCode.USAGE_OR_INPUT),
    (("helpmsg",), ExitCode.USAGE_OR_INPUT),
    (("helpmsg", "1", "2"), ExitCode.USAGE_OR_INPUT),
])
def test_exit_codes(run_cli, args: tuple[str, ...], code: ExitCode) -> None:
    result = run_cli(*args)
    assert result.code == code, (args, result.stderr)
    assert "Traceback" not in result.stderr
    if code == ExitCode.USAGE_OR_INPUT:
        assert result.stderr.startswith("aadc-doctor: error: ")


def test_fail_on_does_not_change_a_lookup(run_cli) -> None:
    """explain/helpmsg decide their exit code themselves: there are no findings to weigh."""
    assert run_cli("explain", "1328", "--fail-on", "info").code == ExitCode.OK
    assert run_cli("helpmsg", "1328", "--fail-on", "info").code == ExitCode.OK


def test_internal_error_exits_4_with_a_hint(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import aadc_doctor.explain.lookup as lookup

    def broken(texts: object) -> object:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(lookup, "explain_all", broken)
    result = run_cli("explain", "1328")
    assert result.code == ExitCode.INTERNAL
    assert "internal error: RuntimeError: simulated bug" in result.stderr
    assert "Traceback" not in result.stderr


def test_interrupt_exits_130(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import aadc_doctor.explain.netmsg as netmsg

    def interrupted(code: int, *, raw: bool = False) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(netmsg, "helpmsg", interrupted)
    assert run_cli("helpmsg", "1328").code == ExitCode.INTERRUPTED
