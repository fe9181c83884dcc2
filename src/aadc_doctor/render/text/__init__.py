"""Terminal renderers, one module per command, each typed on that command's Results (aadc_doctor.results).

A module provides ``render(results, console)``; ``FINDINGS = False`` when its output already says everything
(explain, helpmsg) and ``SUMMARY = False`` when the one-line findings summary would only repeat it. The CLI
prints the findings and the summary after it. Modules are imported on use: `--json` never imports rich.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.model import Report

# command name (the first word of the report's `command`) -> its terminal renderer
TEXT_RENDERERS: dict[str, str] = {
    "check": "aadc_doctor.render.text.check",
    "proxy": "aadc_doctor.render.text.proxy",
    "explain": "aadc_doctor.render.text.explain",
    "helpmsg": "aadc_doctor.render.text.helpmsg",
    "proxylog": "aadc_doctor.render.text.proxylog",
    "pta": "aadc_doctor.render.text.pta",
    "account": "aadc_doctor.render.text.account",
    "ad": "aadc_doctor.render.text.ad",
    "collect": "aadc_doctor.render.text.collect",
    "analyze": "aadc_doctor.render.text.analyze",
    "demo": "aadc_doctor.render.text.demo",
}


def render_results(report: Report, console: Console) -> None:
    """The command's own results, as its renderer prints them (no findings)."""
    module = importlib.import_module(TEXT_RENDERERS[report.command.split()[0]])
    module.render(report.results, console)


def render_report(report: Report, console: Console) -> None:
    """Results, then the findings and the one-line summary (as the renderer asks)."""
    from aadc_doctor.render.terminal import render_findings, render_summary

    module = importlib.import_module(TEXT_RENDERERS[report.command.split()[0]])
    module.render(report.results, console)
    if getattr(module, "FINDINGS", True):
        render_findings(report.findings, console)
        if report.findings or getattr(module, "SUMMARY", True):
            render_summary(report.findings, console)
