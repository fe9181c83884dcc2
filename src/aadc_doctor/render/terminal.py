"""Human output: rich on a terminal, plain text when piped or when NO_COLOR is set.

Every string printed comes through one console made here, and that console makes every string safe before
it is laid out, so no call site can forget: markup is off (``[/]`` in a proxy's reason phrase is text, not a
crash; ``[link=...]`` is text, not a hyperlink), secrets are removed (before wrapping, so a long password
cannot be split into halves the scrubber no longer knows) and control characters are neutralised
(``render/safe_text.py``). Styles are given as ``Text`` styles, never as markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.protocol import rich_cast
from rich.segment import Segment
from rich.text import Text

from aadc_doctor.model import Finding, Severity, sorted_findings
from aadc_doctor.render.safe_text import has_controls, neutralize_controls
from aadc_doctor.secrets import REDACTED, scrub, secret_spans

if TYPE_CHECKING:
    from rich.console import ConsoleOptions, RenderableType

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


MAX_SHOWN_CHARACTERS = 20_000  # of one string: nobody reads more on a terminal, and rich wraps in quadratic time


def safe_text(text: Text) -> Text:
    """A Text without secrets or control characters, at most MAX_SHOWN_CHARACTERS long (the middle goes);
    its styles stay on the characters that remain."""
    spans = secret_spans(text.plain)
    if spans:
        redacted = text.blank_copy()
        done = 0
        for start, end in spans:
            redacted.append_text(text[done:start])
            redacted.append(REDACTED)
            done = end
        redacted.append_text(text[done:])
        text = redacted
    size = len(text.plain)
    if size > MAX_SHOWN_CHARACTERS:
        keep = MAX_SHOWN_CHARACTERS // 2 - 50  # with the note, still under the limit: shortening twice is a no-op
        shortened = text[:keep]
        shortened.append(f" ... {size - 2 * keep:,} characters not shown ... ", style="dim")
        shortened.append_text(text[size - keep:])
        text = shortened
    if has_controls(text.plain):
        text = text.copy()
        text.plain = neutralize_controls(text.plain)  # same length: the spans still fit
    return text


class _Console(Console):
    """The console every command prints through: strings are made safe at the root, before layout.

    It also lets a closed pipe (`aadc-doctor ... | head`) reach the CLI's error boundary: rich's default
    turns it into SystemExit(1), which would report a failure that did not happen.
    """

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError

    def render_str(self, text: str, **options: Any) -> Text:
        """Every plain string rich prints or measures (``print("...")``, table cells, titles) comes here."""
        options.update(markup=False, emoji=False)
        return safe_text(super().render_str(text, **options))

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        """Texts made safe before they are wrapped; any other segment checked for control characters."""
        renderable = rich_cast(renderable)
        if isinstance(renderable, Text):
            renderable = safe_text(renderable)
        for segment in super().render(renderable, options):
            if segment.control is None and has_controls(segment.text):
                segment = Segment(neutralize_controls(segment.text), segment.style)
            yield segment


DEFAULT_COLUMNS = 120


def _valid_columns(value: str) -> int | None:
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 4 and 20 <= int(value) <= 1000:
        return int(value)
    return None


def _columns(value: str) -> int:
    """COLUMNS as a width; anything that is not a plain number of 20-1000 (``abc``, ``²``, ``-5``) means 120.

    COLUMNS is a hint the shell passes down, not the user's input to this command: Python's
    ``shutil.get_terminal_size`` and rich ignore a value that is not a number, and GNU ``ls`` says it ignores it
    and goes on. So do we: ``columns_warning`` says so in one line on stderr, and the exit code does not change.
    """
    return _valid_columns(value) or DEFAULT_COLUMNS


def columns_warning(env: Mapping[str, str], stream: TextIO) -> str | None:
    """The one-line warning for a COLUMNS that will be ignored, or None (unset, valid, or output to a terminal)."""
    value = env.get("COLUMNS", "")
    if not value.strip() or _valid_columns(value) is not None or getattr(stream, "isatty", lambda: False)():
        return None
    shown = value if len(value) <= 20 else value[:20] + "..."
    return (f"aadc-doctor: warning: ignoring COLUMNS={shown!r}: not a width of 20 to 1000 columns; "
            f"using {DEFAULT_COLUMNS}")


def make_console(stream: TextIO, env: Mapping[str, str]) -> Console:
    """A console that styles only a real terminal and never when NO_COLOR is set."""
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    no_color = "NO_COLOR" in env
    width = None if is_tty else _columns(env.get("COLUMNS", ""))
    return _Console(
        file=ScrubbingStream(stream),  # type: ignore[arg-type]
        markup=False,
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
            console.print(f"    {finding.detail}")
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
