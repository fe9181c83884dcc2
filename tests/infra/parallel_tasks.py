"""Task functions for the tests of ``aadc_doctor.parallel``: module-level, so spawned helpers can import them."""

from __future__ import annotations

import os
import time


def square_slowly(task: tuple[int, float]) -> tuple[int, int]:
    """(n squared, the pid that computed it), after ``delay`` seconds: long enough for helpers to take some."""
    n, delay = task
    time.sleep(delay)
    return n * n, os.getpid()


def die_in_helpers(task: tuple[int, int]) -> int:
    """A helper process dies on every task (as if killed); the main process computes it."""
    n, main_pid = task
    if os.getpid() != main_pid:
        os._exit(9)
    return n + 1


def fail_on_three(n: int) -> int:
    if n == 3:
        raise ValueError("task three is broken")
    time.sleep(0.005)
    return n


def _cannot_be_rebuilt() -> None:
    raise ValueError("this result cannot be rebuilt")


class Unpicklable:
    """A result that pickles in the helper but fails to unpickle in the main process."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_cannot_be_rebuilt, ())


def big_results_after_a_broken_one(task: tuple[int, int]) -> bytes | Unpicklable:
    """In a helper, the first results cannot be read back; then results large enough to fill a pipe."""
    n, main_pid = task
    if os.getpid() != main_pid and n < 2:
        return Unpicklable()
    time.sleep(0.01)
    return bytes([n]) * 200_000
