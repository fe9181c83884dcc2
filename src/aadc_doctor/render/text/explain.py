"""Human output of `aadc-doctor explain`: the likeliest reading in full, other readings in one line each."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from aadc_doctor.explain.lookup import Reading
    from aadc_doctor.knowledge.codes import CodeEntry
    from aadc_doctor.results import ExplainResults

FINDINGS = False
SUMMARY = False

KIND_LABEL = {
    "aadsts": "AADSTS", "win32": "Win32", "ntstatus": "NTSTATUS", "kerberos": "Kerberos", "winhttp": "WinHTTP",
    "wininet": "WinINet", "http": "HTTP", "wizard": "wizard error", "adal": "authentication error",
    "powershell": "PowerShell", "pta": "PTA error", "reference": "PTA/Connect reference",
    "cloudsync": "Cloud Sync provisioning agent error",
}


def _title(entry: CodeEntry) -> Text:
    title = Text()
    kind = KIND_LABEL.get(entry.kind, entry.kind)
    code, name = str(entry.code), str(entry.name)
    if entry.kind in {"win32", "kerberos", "winhttp", "wininet", "http", "ntstatus"}:
        title.append(f"{kind} {code}", style="bold")
        if entry.hex and entry.hex != code:
            title.append(f" ({entry.hex})", style="bold")
    elif entry.kind == "aadsts":
        title.append(code, style="bold")
    else:
        title.append(name, style="bold")
        if code.lower() != name.replace(" ", "").lower():
            title.append(f" ({code})", style="bold")
        name = ""
    if name:
        title.append(f"  {name}", style="cyan")
    if entry.kind not in {"win32", "kerberos", "winhttp", "wininet", "http", "ntstatus", "aadsts"}:
        title.append(f"  [{kind}]", style="dim")
    return title


LABEL_WIDTH = 13
NO_MATCH_HINT = ("Try a code (1328, 0x530, AADSTS80001, 0xC000006A, 407), an error name (InvalidGrant, "
                 "'User Realm Discovery Failed'), words of the message ('password expired'), or paste the whole "
                 "error text.")


def _details(entry: CodeEntry, width: int) -> Text:
    """Labelled lines wrapped with a hanging indent (pre-wrapped, so piped output has no padding)."""
    rows: list[tuple[str, str]] = [
        ("Message", entry.message),
        ("Meaning" if entry.kind in {"win32", "ntstatus"} else "Cause", entry.cause),
        ("Fix", entry.remedy),
        ("Today", entry.current),
        ("Seed article", entry.seed),
        *(("Note", note) for note in entry.notes),
        ("Check with", entry.checked_by or ""),
        ("See also", ", ".join(s for s in entry.see_also if s != entry.checked_by)),
    ]
    block = Text()
    for label, value in rows:
        if not value:
            continue
        lines = textwrap.wrap(str(value), width=width - LABEL_WIDTH, break_long_words=False,
                              break_on_hyphens=False) or [""]
        for number, line in enumerate(lines):
            if block:
                block.append("\n")
            block.append(f"{label:<{LABEL_WIDTH}}" if number == 0 else " " * LABEL_WIDTH, style="green")
            block.append(line)
    return block


class _Batch:
    """Lines gathered and printed in batches: rich's cost per print call (measuring the console, entering and
    leaving its buffer), times the thousands of entries of a pasted log, was most of the time of `explain` on a
    megabyte. A batch stays under the terminal's limit for one value (render/terminal.py shortens longer ones)."""

    MAX_CHARS = 12_000

    def __init__(self, console: Console) -> None:
        self.console = console
        self.lines: list[Text] = []
        self.chars = 0

    def line(self, line: Text | None = None) -> None:
        """Add one line (a Text that may hold pre-wrapped newlines; None is an empty line)."""
        if self.chars > self.MAX_CHARS:
            self.flush()
        text = line if line is not None else Text()
        self.lines.append(text)
        self.chars += len(text) + 1

    def flush(self) -> None:
        if self.lines:
            self.console.print(Text("\n").join(self.lines), soft_wrap=True)
            self.lines, self.chars = [], 0


def render(results: ExplainResults, console: Console) -> None:
    """One block per thing found in the input: its likeliest reading in full, then the other readings."""
    readings: tuple[Reading, ...] = results.entries
    if not readings:
        console.print(Text("No entry matches the input.", style="yellow"))
        for code in results.unknown:
            console.print(Text(f"  {code}: not in any table aadc-doctor knows"))
        suggestions = results.suggestions
        if suggestions:
            console.print(Text("Did you mean: " + ", ".join(suggestions)))
        else:
            console.print(Text(NO_MATCH_HINT, style="dim"), soft_wrap=True)
        return
    by_relevance = results.matched_by == "relevance"
    if by_relevance:
        console.print(Text("No code in the input; the most relevant entries:", style="dim"))
    width = max(40, (console.width or 100) - 1)
    batch = _Batch(console)
    previous_found = None
    for reading in readings:
        entry = reading.entry
        if reading.rank > 1 and not by_relevance and reading.found == previous_found:
            line = Text("  also read as ", style="dim")
            line.append_text(_title(entry))
            line.append(f": {entry.message}")
            batch.line(line)
            continue
        previous_found = reading.found
        batch.line()
        title = _title(entry)
        found = str(reading.found)
        if found and found.lower() not in (str(entry.code).lower(), str(entry.name).lower()):
            title.append(f"  from \"{found if len(found) <= 60 else found[:57] + '...'}\"", style="dim")
        if len(title) < (console.width or 100):
            batch.line(title)
        else:  # rare: a long name; rich wraps it to the width as before
            batch.flush()
            console.print(title)
        details = _details(entry, width)
        if details:
            batch.line(details)
    batch.flush()
    for ids in results.request_ids:
        _print_request_ids(ids, console)


REQUEST_ID_LABELS = (("correlation_id", "Correlation"), ("trace_id", "Trace ID"), ("timestamp", "Timestamp"))


def _print_request_ids(ids: Mapping[str, str], console: Console) -> None:
    """The pasted error's ids, and what they are for (the sign-in log, a support case)."""
    console.print()
    console.print(Text("Request ids in the pasted error", style="bold"))
    for key, label in REQUEST_ID_LABELS:
        if ids.get(key):
            line = Text(f"{label:<{LABEL_WIDTH}}", style="green")
            line.append(ids[key])
            console.print(line, soft_wrap=True)
    use = ("Find the sign-in in the Microsoft Entra admin center (Monitoring > Sign-in logs, filter on the "
           "Correlation ID around the Timestamp) for its full failure reason, or give these ids to Microsoft support."
           if ids.get("correlation_id") else
           "Give these ids to Microsoft support: they identify the request in Microsoft's logs.")
    for number, line_text in enumerate(textwrap.wrap(use, width=max(40, (console.width or 100) - 1) - LABEL_WIDTH)):
        line = Text(f"{'Use':<{LABEL_WIDTH}}" if number == 0 else " " * LABEL_WIDTH, style="green")
        line.append(line_text)
        console.print(line, soft_wrap=True)
