"""One shape for every command: argv -> `collect` (all I/O) -> Evidence -> `analyse` (pure) -> findings and a
frozen Results dataclass -> renderers (render/). `run_command` is the one path from parsed arguments to a report;
the CLI, `demo` and `analyze` all call it. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from aadc_doctor.model import Finding, Report, utc_now

if TYPE_CHECKING:
    from aadc_doctor.commands import RunContext
    from aadc_doctor.errors import ExitCode

E = TypeVar("E")
R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True)
class Analysis(Generic[R_co]):
    """What `analyse` returns: the findings, the command's typed results, and an exit code when the findings
    alone do not decide it (explain, helpmsg, demo)."""

    results: R_co
    findings: Sequence[Finding] = ()
    exit_code: ExitCode | None = None


class Command(Protocol[E, R_co]):
    """A command: its name (as in `aadc-doctor --help`), its options, and its two steps."""

    name: str
    help: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def report_name(self, args: argparse.Namespace) -> str:
        """The report's `command` field ("check", "pta trace")."""
        ...

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> E:
        """Read the inputs, run the probes: every bit of I/O the command does. Bad input raises UsageError or
        InputError."""
        ...

    def analyse(self, evidence: E) -> Analysis[R_co]:
        """Turn the evidence into findings and results; no I/O, so a test can call it on built evidence."""
        ...


class BaseCommand:
    """Defaults for a command with no subcommands."""

    name: str = ""
    help: str = ""

    def report_name(self, args: argparse.Namespace) -> str:  # noqa: ARG002 (Command's signature)
        return self.name


@dataclass
class CommandRun:
    """A finished run: the report (findings plus the typed results) and the exit code it asks for, if any."""

    report: Report
    exit_code: ExitCode | None = None


def run_command(command: Command[Any, Any], args: argparse.Namespace, ctx: RunContext) -> CommandRun:
    """collect, analyse, wrap into the report envelope."""
    report = Report(command=command.report_name(args))
    evidence = command.collect(args, ctx)
    analysis = command.analyse(evidence)
    report.findings = list(analysis.findings)
    report.results = analysis.results
    report.finished_at = utc_now()
    return CommandRun(report, analysis.exit_code)


def run_argv(argv: Sequence[str], ctx: RunContext) -> CommandRun:
    """A command line run in-process exactly as the CLI runs it (the demo's `check`, collect's `check`)."""
    from aadc_doctor.cli import build_parser, command_named_in

    args = build_parser(only=command_named_in(argv)).parse_args(list(argv))
    return run_command(args._command, args, ctx)
