"""Human output: rich on a terminal, plain text when piped or when NO_COLOR is set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from aadc_doctor.model import Finding, Severity, sorted_findings
from aadc_doctor.secrets import scrub

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
SEVERITY_LABEL = {Severity.ERROR: "ERROR", Severity.WARNING: "WARN", Severity.INFO: "INFO"}


class ScrubbingStream:
    """A text stream that removes secrets from everything written through it."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(scrub(text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._inner, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._inner, "encoding", None) or "utf-8"


class _Console(Console):
    """A console that lets a closed pipe (`aadc-doctor ... | head`) reach the CLI's error boundary.

    rich's default turns it into SystemExit(1), which would report a failure that did not happen.
    """

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def _columns(value: str) -> int:
    """COLUMNS as a width; anything that is not a plain number of 20-1000 (``abc``, ``²``, ``-5``) means 120."""
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 4 and 20 <= int(value) <= 1000:
        return int(value)
    return 120


def make_console(stream: TextIO, env: Mapping[str, str]) -> Console:
    """A console that styles only a real terminal and never when NO_COLOR is set."""
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    no_color = "NO_COLOR" in env
    width = None if is_tty else _columns(env.get("COLUMNS", ""))
    return _Console(
        file=ScrubbingStream(stream),  # type: ignore[arg-type]
        force_terminal=is_tty and not no_color,
        no_color=no_color or not is_tty,
        highlight=False,
        emoji=False,
        soft_wrap=False,
        width=width,
        color_system="auto" if is_tty and not no_color else None,
    )


def severity_text(severity: Severity) -> Text:
    return Text(SEVERITY_LABEL[severity], style=SEVERITY_STYLE[severity])


def _title_names_subject(finding: Finding) -> bool:
    """True when the title already says what the subject says (`... for login.microsoftonline.com`)."""
    subject = finding.subject
    name, _, port = subject.rpartition(":")
    if not (name and port.isdigit()):
        name = subject
    return name.lower() in finding.title.lower()


def render_findings(findings: list[Finding], console: Console) -> None:
    """Findings, worst first: title and subject, then what it means, the fix and where to read more."""
    if not findings:
        return
    console.print()
    console.print(Text("Findings", style="bold"))
    for finding in sorted_findings(findings):
        head = Text()
        head.append(f"[{SEVERITY_LABEL[finding.severity]}] ", style=SEVERITY_STYLE[finding.severity])
        head.append(finding.title, style="bold")
        if finding.subject and not _title_names_subject(finding):
            head.append(f" ({finding.subject})")
        head.append(f"  {finding.id}", style="dim")
        console.print(head)
        if finding.detail:
            console.print(f"    {escape(finding.detail)}")
        if finding.remedy:
            console.print(Text("    Fix: ", style="green") + Text(finding.remedy))
        for ref in finding.references:
            console.print(Text(f"    See: {ref}", style="dim"))


def render_summary(findings: list[Finding], console: Console) -> None:
    counts = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    if not findings:
        console.print(Text("No problems found.", style="green"))
        return
    parts = [f"{counts[s]} {SEVERITY_LABEL[s].lower()}" for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)]
    console.print(Text("Summary: " + ", ".join(parts), style="bold"))
