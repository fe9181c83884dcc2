"""Ctrl-C that no native library can swallow.

Python turns Ctrl-C into KeyboardInterrupt in whatever Python code the main thread runs next. When that code
is a callback of a native library (the evtx package reading a file through a Python file object), the library
may turn the exception into an error of its own ("Failed to seek to start of chunk.: KeyboardInterrupt"),
which the caller would then report as damage. While ``watching()`` is active, each Ctrl-C is counted before it
is raised, so code that catches a library's errors can tell that one was really an interruption.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

_received = 0


def _count_and_raise(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 (a signal handler)
    global _received
    _received += 1
    raise KeyboardInterrupt


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """Count every Ctrl-C while the block runs (main thread only; the default handler otherwise stays)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield  # another thread, or the embedding program handles Ctrl-C its own way
        return
    signal.signal(signal.SIGINT, _count_and_raise)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_about_ctrl_c(previous_hook)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = previous_hook


def _quiet_about_ctrl_c(hook: Callable[[Any], object]) -> Callable[[Any], object]:
    """A Ctrl-C that lands in a callback CPython cannot raise from (an import's module-lock weakref callback,
    a finaliser) is "ignored" with a traceback on stderr. It was counted: ``raise_if_received_since`` raises
    it at the command's end. Only that traceback is dropped; any other unraisable error still shows."""

    def unraisable(info: Any) -> object:
        if isinstance(getattr(info, "exc_value", None), KeyboardInterrupt):
            return None
        return hook(info)

    return unraisable


def received() -> int:
    """How many Ctrl-C have arrived while watched (take it before a native call, compare after)."""
    return _received


def raise_if_received_since(mark: int) -> None:
    """KeyboardInterrupt if a Ctrl-C arrived since ``received()`` returned ``mark``, even if it was swallowed."""
    if _received != mark:
        raise KeyboardInterrupt
