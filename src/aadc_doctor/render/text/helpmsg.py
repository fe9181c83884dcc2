"""`helpmsg` on a terminal: net helpmsg's own layout (a blank line, the message, a blank line)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.results import HelpmsgResults

FINDINGS = False
SUMMARY = False


def render(results: HelpmsgResults, console: Console) -> None:
    if results.found:
        console.file.write(results.text)
