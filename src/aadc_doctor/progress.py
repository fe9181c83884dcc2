"""Progress of long reads on stderr: bytes, rate and time left, only when stderr is a terminal and not --json.

Readers deep inside a command call ``advance(nbytes)``; it goes to the progress bar the command opened with
``reading(...)``, or nowhere (the usual case: piped, --json, tests), at the cost of one context-variable lookup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aadc_doctor.commands import RunContext


class _Sink(Protocol):
    def advance(self, nbytes: int) -> None: ...


_current: ContextVar[_Sink | None] = ContextVar("aadc_doctor_progress", default=None)


def advance(nbytes: int) -> None:
    """Count ``nbytes`` more read (a no-op unless a progress bar is showing)."""
    sink = _current.get()
    if sink is not None and nbytes > 0:
        sink.advance(nbytes)


def shows_progress(ctx: RunContext) -> bool:
    if ctx.json_mode or ctx.env.get("TERM") == "dumb":
        return False
    isatty = getattr(ctx.stderr, "isatty", None)
    return bool(isatty and isatty())


class _RichSink:
    def __init__(self, progress: object, task: object) -> None:
        self._progress = progress
        self._task = task

    def advance(self, nbytes: int) -> None:
        self._progress.update(self._task, advance=nbytes)  # type: ignore[attr-defined]


@contextlib.contextmanager
def reading(ctx: RunContext, total_bytes: int, label: str) -> Iterator[None]:
    """Show a transient bar for ``total_bytes`` while the block runs (nothing when not on a terminal)."""
    if total_bytes <= 0 or not shows_progress(ctx):
        yield
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                        TimeRemainingColumn(), console=ctx.err_console, transient=True)
    task = progress.add_task(label, total=total_bytes)
    token = _current.set(_RichSink(progress, task))
    try:
        with progress:
            yield
    finally:
        _current.reset(token)


def size_of(paths: list[str]) -> int:
    """Bytes in these files and folders (what a bar's total is), unreadable entries counted as 0."""
    from pathlib import Path

    total = 0
    for name in paths:
        path = Path(name)
        try:
            if path.is_dir():
                total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            elif path.is_file():
                total += path.stat().st_size
        except OSError:
            continue
    return total


def advance_path(name: str | object) -> None:
    """Count one whole file as read (readers that report per file rather than per block)."""
    if _current.get() is not None:
        advance(size_of([str(name)]))
