"""The error boundary: every exit code of DESIGN.md, and no traceback for bad input."""

from __future__ import annotations

from aadc_doctor.errors import ExitCode


def test_version_exits_zero(run_cli, capsys):
    result = run_cli("--version")
    assert result.code == ExitCode.OK
    assert "aadc-doctor" in capsys.readouterr().out


def test_unknown_option_is_one_line_exit_2(run_cli):
    result = run_cli("--no-such-option")
    assert result.code == ExitCode.USAGE_OR_INPUT
    assert result.stderr.startswith("aadc-doctor: error: ")
    assert "Traceback" not in result.stderr


def test_no_command_prints_help_and_exits_2(run_cli):
    result = run_cli()
    assert result.code == ExitCode.USAGE_OR_INPUT
    assert "COMMAND" in result.stdout
