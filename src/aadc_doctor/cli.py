"""Arguments in, one error boundary, exit code out.

Every command lives in its own module (see ``commands/__init__.py``) and runs through
``pipeline.run_command``; this module only wires them together, owns the global options and turns every
failure into an exit code of DESIGN.md.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any, TextIO, cast

from aadc_doctor import __version__, interrupts
from aadc_doctor.commands import COMMAND_MODULES, RunContext
from aadc_doctor.errors import DoctorError, ExitCode, UsageError
from aadc_doctor.model import Severity
from aadc_doctor.options import add_global_options
from aadc_doctor.pipeline import Command, CommandRun, run_command
from aadc_doctor.render.safe_text import for_terminal
from aadc_doctor.secrets import register_url_credentials

ISSUES_URL = "https://github.com/aadc-doctor/aadc-doctor/issues"


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors go through the boundary."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint=f"see '{self.prog} --help'")


def load_command(name: str) -> ModuleType:
    return importlib.import_module(COMMAND_MODULES[name])


_GLOBAL_OPTIONS_WITH_VALUE = ("--output", "--fail-on")


def command_named_in(argv: Sequence[str]) -> str | None:
    """The command an argument list asks for, found without parsing it (global options may come first)."""
    tokens = iter(argv)
    for token in tokens:
        if token in _GLOBAL_OPTIONS_WITH_VALUE:
            next(tokens, None)
        elif not token.startswith("-"):
            return token if token in COMMAND_MODULES else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole CLI; with `only`, that command alone (the run needs no other).

    Importing every command module and building its options costs start-up time that `aadc-doctor helpmsg
    1328` should not pay.
    """
    parser = _ArgumentParser(
        prog="aadc-doctor",
        description="Diagnose Azure AD Connect / Microsoft Entra Connect and Pass-through Authentication: "
        "endpoints through the real proxy, proxy settings, error codes, proxy logs, PTA logs and accounts.",
    )
    parser.add_argument("--version", action="version", version=f"aadc-doctor {__version__}")
    add_global_options(parser, suppress_defaults=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    for name in COMMAND_MODULES if only is None else [only]:
        command: Command[Any, Any] = load_command(name).COMMAND
        cmd_parser = sub.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(cmd_parser)
        add_global_options(cmd_parser, suppress_defaults=True)
        cmd_parser.set_defaults(_command=command)
    return parser


def _traceback_text() -> str:
    """The exception being handled, as Python prints it (imported here: only --debug and internal errors need it)."""
    import traceback

    return traceback.format_exc()


OUTPUT_FORMATS = {".json": "json", ".html": "html", ".htm": "html"}  # --output: the extension chooses the format


def output_format(path: str) -> str:
    """The report format `--output PATH` asks for; a usage error (before anything runs) for any other name."""
    for suffix, kind in OUTPUT_FORMATS.items():
        if path.lower().endswith(suffix):
            return kind
    raise UsageError(f"--output {path}: the file name must end in .json or .html",
                     hint="report.json for the machine-readable report, report.html for a page to read or send")


def _write_output_file(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise UsageError(f"--output {path}: cannot write: {exc.strerror or exc}") from None


def _exit_code_for(result: CommandRun, fail_on: Severity) -> ExitCode:
    if result.exit_code is not None:
        return result.exit_code
    return ExitCode.PROBLEMS_FOUND if result.report.has_finding_at_least(fail_on) else ExitCode.OK


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO, env: dict[str, str]) -> int:
    """Parse, run one command, render, and map the outcome to an exit code."""
    parser = build_parser(only=command_named_in(argv))
    args = parser.parse_args(list(argv))
    if not args.command:
        parser.print_help(stdout)
        return ExitCode.USAGE_OR_INPUT
    ctx = RunContext(
        json_mode=bool(args.json), stdout=stdout, stderr=stderr, env=env, debug=bool(args.debug),
        interactive=bool(getattr(stdout, "isatty", lambda: False)()) and not args.json,
    )
    output = output_format(args.output) if args.output is not None else None  # --output "" is refused too
    if not args.json:
        from aadc_doctor.render.terminal import columns_warning

        warning = columns_warning(env, stdout)
        if warning:
            stderr.write(for_terminal(warning, one_line=True) + "\n")
    result = run_command(args._command, args, ctx)
    report = result.report
    fail_on = Severity(args.fail_on or "error")
    exit_code = _exit_code_for(result, fail_on)

    json_text: str | None = None
    if args.json or output == "json":
        from aadc_doctor.render.json_report import report_to_json

        json_text = report_to_json(report)
    if output == "html":
        from aadc_doctor.render.html import report_to_html

        _write_output_file(args.output, report_to_html(report, exit_code=int(exit_code)))
    elif output == "json":
        assert json_text is not None
        _write_output_file(args.output, json_text)
    if args.json:
        stdout.write((json_text or "") + "\n")
    else:
        from aadc_doctor.render.text import render_report

        render_report(report, ctx.console)
    return exit_code


class _WindowsPipeOutput:
    """sys.stdout on Windows, where writing to a pipe whose reader has gone (`| more` quit, `| select -First 1`)
    raises OSError EINVAL rather than BrokenPipeError: made a BrokenPipeError, so the error boundary sees it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def _closed_pipe(self, exc: OSError) -> BrokenPipeError:
        return BrokenPipeError(errno.EPIPE, f"the output pipe was closed ({exc})")

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise self._closed_pipe(exc) from exc
            raise

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise self._closed_pipe(exc) from exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None,
         stderr: TextIO | None = None, env: dict[str, str] | None = None) -> int:
    """The one error boundary: known failures are one line on stderr, never a traceback."""
    if stdout is None or stderr is None:  # the real streams: a Windows pipe may be in cp437/cp850/cp1252
        from aadc_doctor.console_encoding import tolerate_legacy_code_page

        tolerate_legacy_code_page(sys.stdout if stdout is None else None, sys.stderr if stderr is None else None)
    out = stdout or sys.stdout
    if stdout is None and sys.platform == "win32":
        out = cast(TextIO, _WindowsPipeOutput(out))
    err = stderr or sys.stderr
    environ = dict(os.environ if env is None else env)
    arg_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arg_list
    for argument in arg_list:  # user:password@ in any option (--proxy, --endpoint, ...), before a usage error
        register_url_credentials(argument)
    mark = interrupts.received()
    try:
        with interrupts.watching():  # a Ctrl-C a native library swallows is still one (interrupts.py)
            code = int(run(arg_list, out, err, environ))
            interrupts.raise_if_received_since(mark)  # one CPython swallowed (an import's lock callback)
            return code
    except SystemExit as exc:  # argparse's --help and --version
        return int(exc.code) if isinstance(exc.code, int) else 0
    except (Exception, KeyboardInterrupt) as exc:
        # after a Ctrl-C, an error is what the Ctrl-C turned into: CPython wraps one that lands in a class's
        # creation ("Error calling __set_name__ ...": RuntimeError), a library may make it its own error
        if not isinstance(exc, KeyboardInterrupt) and interrupts.received() == mark:
            return _report_failure(exc, err, debug)
        err.write("aadc-doctor: interrupted\n")
        return int(ExitCode.INTERRUPTED)


def _report_failure(exc: Exception, err: TextIO, debug: bool) -> int:
    """A known failure as one line (and its hint), a bug of ours as exit 4. Called while ``exc`` is handled."""
    if isinstance(exc, DoctorError):
        err.write(for_terminal(f"aadc-doctor: error: {exc.message}", one_line=True) + "\n")
        if exc.hint:
            err.write(for_terminal(f"hint: {exc.hint}", one_line=True) + "\n")
        if debug:
            err.write(for_terminal(_traceback_text()))
        return int(exc.exit_code)
    if isinstance(exc, BrokenPipeError):  # the reader went away (e.g. `| head`); nothing more to say
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # silence the interpreter's flush of stdout at exit
        return int(ExitCode.OK)
    # the last resort: a bug of ours, not the user's input
    err.write(for_terminal(f"aadc-doctor: internal error: {type(exc).__name__}: {exc}", one_line=True) + "\n")
    if debug:
        err.write(for_terminal(_traceback_text()))
    else:
        err.write(f"hint: this is a bug in aadc-doctor; rerun with --debug and report it at {ISSUES_URL}\n")
    return int(ExitCode.INTERNAL)
