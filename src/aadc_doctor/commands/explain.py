"""`aadc-doctor explain` (being built: see its issue)."""

from __future__ import annotations

import argparse

from rich.console import Console

from aadc_doctor.commands import CommandResult, RunContext
from aadc_doctor.errors import RunIncomplete
from aadc_doctor.model import Report

HELP = "(explain: not in this build yet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs="*")


def run(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    raise RunIncomplete("'explain' is not in this build yet")


def render(report: Report, console: Console) -> None:
    return None
