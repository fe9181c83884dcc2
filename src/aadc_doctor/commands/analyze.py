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

from aadc_doctor.commands import CommandResult, RunContext
from aadc_doctor.errors import UsageError
from aadc_doctor.model import Report

if TYPE_CHECKING:
    from rich.console import Console

HELP = "analyse a collect zip, its folder or a copy of a server's files with every offline analyser, in one report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="a `collect` zip, its unpacked folder, or a folder laid out as "
                        "the server's drive (Windows/..., ProgramData/..., Program Files/...)")
    parser.add_argument("--today", metavar="YYYY-MM-DD",
                        help="judge deadlines as of this date instead of today (to re-read an old collection)")


def run(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
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
                         hint="expected a `collect` zip or the server's files (machine.config, .exe.config, Trace "
                              "folders, .evtx, reg export files, saved check --json)")
    report = Report(command="analyze", findings=result.findings, results=result.to_dict())
    return CommandResult(report)


def render(report: Report, console: Console) -> None:
    r = report.results
    console.print(f"Analysed {r['source']} ({r['input_kind']}), deadlines as of {r['run_date']}")
    manifest = r["manifest"]
    if manifest:
        console.print(f"  collected on {manifest['host']} at {manifest['collected_at']} by aadc-doctor "
                      f"{manifest['tool_version']}: {manifest['files']} files"
                      + (", redacted" if manifest["redacted"] else "")
                      + f"; {len(manifest['not_collected'] or [])} could not be collected, "
                        f"{len(manifest['trimmed'] or [])} left out")
    for run in r["analysers"]:
        count = len(run["findings"])
        if run["status"] == "skipped":
            console.print(f"  {run['name']:<19} skipped: {run['reason']}")
        else:
            what = f"{len(run['inputs'])} input(s), {count} finding(s)"
            note = f"; {run['reason']}" if run["reason"] else ""
            console.print(f"  {run['name']:<19} {run['status']}: {what}{note}")
    for item in next((a["results"].get("installed", []) for a in r["analysers"] if a["name"] == "server-rules"), []):
        console.print(f"  installed: {item['display_name']} {item['version']}")
