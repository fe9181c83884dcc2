"""Exit codes and the exceptions the CLI's one error boundary turns into them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The contract of DESIGN.md: scripts branch on these numbers."""

    OK = 0
    PROBLEMS_FOUND = 1
    USAGE_OR_INPUT = 2
    INCOMPLETE = 3
    INTERNAL = 4
    INTERRUPTED = 130


class DoctorError(Exception):
    """A failure we understand: printed as one line, never as a traceback."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(DoctorError):
    """The command line itself is wrong (bad option, missing argument)."""

    exit_code = ExitCode.USAGE_OR_INPUT


class InputError(DoctorError):
    """A file or text the user gave cannot be read or parsed."""

    exit_code = ExitCode.USAGE_OR_INPUT


class RunIncomplete(DoctorError):
    """The run could not complete (for example the lab could not start)."""

    exit_code = ExitCode.INCOMPLETE
