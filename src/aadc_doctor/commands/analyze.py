"""`aadc-doctor analyze PATH`: every offline analyser on a `collect` zip, its folder, or a plain copy of the
server's drive (``Windows/...``, ``ProgramData/...``, ``Program Files/...``), merged into one report.

It finds machine.config and the .exe.config files (proxy audit), `netsh winhttp` output, registry exports
(Entra Connect version deadlines, TLS settings), PTA traces and event logs, the provisioning agent's trace and
saved `check --json` reports by themselves. Results: see DESIGN.md ("analyze results").
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from aadc_doctor.commands import RunContext
from aadc_doctor.errors import UsageError
from aadc_doctor.pipeline import Analysis, BaseCommand

if TYPE_CHECKING:
    from aadc_doctor.analyze.run import AnalysisResult

HELP = "analyse a collect zip, its folder or a copy of a server's files with every offline analyser, in one report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="a `collect` zip, its unpacked folder, or a folder laid out as "
                        "the server's drive (Windows/..., ProgramData/..., Program Files/...)")
    parser.add_argument("--today", metavar="YYYY-MM-DD",
                        help="judge deadlines as of this date instead of today (to re-read an old collection)")


class AnalyzeCommand(BaseCommand):
    name = "analyze"
    help = HELP

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> AnalysisResult:
        from datetime import UTC, date, datetime

        from aadc_doctor import progress
        from aadc_doctor.analyze.inputs import opened
        from aadc_doctor.analyze.run import analyse_server

        today = datetime.now(UTC).date()
        if args.today:
            try:
                today = date.fromisoformat(args.today)
            except ValueError:
                raise UsageError(f"--today {args.today}: not a date (YYYY-MM-DD)") from None
        with opened(Path(args.path)) as found, progress.reading(ctx, found.total_bytes(), "analyze"):
            result = analyse_server(found, args.path, today)
        if not any(r.status != "skipped" for r in result.runs):
            from aadc_doctor.errors import InputError

            raise InputError(f"{args.path}: nothing an analyser reads was found",
                             hint="expected a `collect` zip or the server's files (machine.config, .exe.config, "
                                  "Trace folders, .evtx, reg export files, saved check --json)")
        return result

    def analyse(self, evidence: AnalysisResult) -> Analysis[AnalysisResult]:
        """Each analyser ran on its own input while it was read (analyze/run.py); here they are one report."""
        return Analysis(evidence, evidence.findings)


COMMAND = AnalyzeCommand()
