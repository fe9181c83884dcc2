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
