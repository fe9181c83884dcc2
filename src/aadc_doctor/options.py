"""Options shared by several commands, declared once: the global options every command (and subcommand) takes."""

from __future__ import annotations

import argparse

from aadc_doctor.model import Severity


def add_global_options(parser: argparse.ArgumentParser, *, suppress_defaults: bool) -> None:
    """The options every command takes, accepted before or after the command name."""
    default = argparse.SUPPRESS if suppress_defaults else None
    group = parser.add_argument_group("global options")
    group.add_argument("--json", action="store_true", default=argparse.SUPPRESS if suppress_defaults else False,
                       help="print the machine-readable report (schema_version 1) on stdout")
    group.add_argument("--output", metavar="FILE", default=default,
                       help="also write the report to FILE (.json)")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS if suppress_defaults else False,
                       help="show tracebacks for internal errors")
    group.add_argument("--fail-on", choices=[s.value for s in Severity], default=default,
                       help="exit 1 when a finding at or above this severity exists (default: error)")
