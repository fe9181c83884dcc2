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


def test_closed_pipe_is_not_reported_as_a_failure():
    """`aadc-doctor explain 407 | head -1` (or `| more` quit early on Windows) must not exit 1 or print a traceback."""
    import os
    import subprocess
    import sys

    # 100 codes print far more than a pipe buffer holds, so the writer really meets the closed pipe
    env = {"NO_COLOR": "1", "PYTHONUNBUFFERED": "1", **{k: os.environ[k] for k in ("SYSTEMROOT", "PATH")
                                                         if k in os.environ}}
    proc = subprocess.Popen([sys.executable, "-m", "aadc_doctor", "explain", *map(str, range(1300, 1401))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(1)  # what `head -c 1` reads, then the reader goes away
    proc.stdout.close()
    stderr = proc.stderr.read().decode("utf-8", "replace")
    assert proc.wait(timeout=60) == 0, stderr
    assert "Traceback" not in stderr
    assert "error" not in stderr.lower()


def test_the_command_is_found_before_parsing_even_after_global_options():
    from aadc_doctor.cli import command_named_in

    assert command_named_in(["helpmsg", "1328"]) == "helpmsg"
    assert command_named_in(["--json", "--output", "r.json", "--fail-on", "warning", "pta", "trace"]) == "pta"
    assert command_named_in(["--output=check", "explain", "x"]) == "explain"
    assert command_named_in(["--json"]) is None
    assert command_named_in(["nonsense"]) is None


def test_global_options_before_the_command_still_reach_it(run_cli, tmp_path):
    out = tmp_path / "r.json"
    result = run_cli("--json", "--output", str(out), "explain", "1328")
    assert result.code == 0
    assert result.json()["command"] == "explain" and out.exists()
    assert run_cli("--fail-on", "info", "helpmsg", "1328").code == 0


def test_a_json_run_does_not_import_rich():
    """--json never prints through rich; importing it would only slow every scripted run."""
    import subprocess
    import sys

    code = ("import io, sys; from aadc_doctor.cli import main; "
            "rc = main(['explain', '1328', '--json'], stdout=io.StringIO(), stderr=io.StringIO(), env={}); "
            "print(rc, 'rich' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["0", "False"]
