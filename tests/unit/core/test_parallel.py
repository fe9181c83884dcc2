"""run_tasks: results in task order from helpers and the main process, whatever happens to the helpers."""

from __future__ import annotations

import os

import pytest
from tests.infra.parallel_tasks import (
    big_results_after_a_broken_one,
    die_in_helpers,
    fail_on_three,
    square_slowly,
)

from aadc_doctor import parallel


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_results_come_back_in_task_order_and_the_work_is_shared(start):
    delay = 0.02 if start == "fork" else 0.2  # a spawned helper needs a few hundred ms to start
    tasks = [(n, delay) for n in range(12)]
    results = parallel.run_tasks(square_slowly, tasks, 3, start=start)
    assert [value for value, _ in results] == [n * n for n in range(12)]
    pids = {pid for _, pid in results}
    assert os.getpid() in pids  # the main process works too
    assert len(pids) > 1  # and so did at least one helper


def test_one_process_or_one_task_starts_nothing(monkeypatch):
    def no_fork() -> int:
        raise AssertionError("nothing should be forked")

    monkeypatch.setattr(os, "fork", no_fork)
    assert parallel.run_tasks(square_slowly, [(2, 0.0), (3, 0.0)], 1) == [(4, os.getpid()), (9, os.getpid())]
    assert parallel.run_tasks(square_slowly, [(5, 0.0)], 4) == [(25, os.getpid())]


def test_tasks_of_a_helper_that_dies_are_done_here():
    main = os.getpid()
    assert parallel.run_tasks(die_in_helpers, [(n, main) for n in range(10)], 3, start="fork") == list(range(1, 11))


def test_where_no_process_can_be_started_everything_is_done_here(monkeypatch):
    def refused() -> int:
        raise OSError("fork: resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refused)
    results = parallel.run_tasks(square_slowly, [(n, 0.0) for n in range(6)], 3, start="fork")
    assert results == [(n * n, os.getpid()) for n in range(6)]


def test_an_error_in_a_task_reaches_the_caller():
    with pytest.raises(ValueError, match="task three is broken"):
        parallel.run_tasks(fail_on_three, list(range(8)), 3, start="fork")


def test_the_cpu_count_is_what_this_process_may_use():
    assert 1 <= parallel.usable_cpus() <= (os.cpu_count() or 1)


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_helpers_that_die_never_leave_the_main_process_waiting(start):
    """Thousands of tasks (past what one pipe buffer holds), every helper dying on its first one: all done here."""
    main = os.getpid()
    tasks = [(n, main) for n in range(3000)]
    assert parallel.run_tasks(die_in_helpers, tasks, 3, start=start) == [n + 1 for n in range(3000)]


def test_many_small_tasks_on_the_fork_path():
    results = parallel.run_tasks(square_slowly, [(n, 0.0) for n in range(2000)], 3, start="fork")
    assert [value for value, _ in results] == [n * n for n in range(2000)]


@pytest.mark.parametrize("start", ["fork", "spawn"])
@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_result_that_cannot_be_read_back_is_redone_here_and_never_blocks_the_helper(start):
    """The reader drains the rest of that helper's pipe: the helper ends, its tasks are redone by this process."""
    main = os.getpid()
    results = parallel.run_tasks(big_results_after_a_broken_one, [(n, main) for n in range(20)], 2, start=start)
    assert results == [bytes([n]) * 200_000 for n in range(20)]


@pytest.mark.skipif(not parallel.cheap_start_available(), reason="the fork path is used only on Linux")
def test_ctrl_c_at_any_moment_leaves_no_reader_error_thread_or_descriptor():
    """Ctrl-C while readers start, run or are joined: no thread raises, none is left, every pipe is closed."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-m", "tests.infra.interrupt_parallel", "80", "11"], cwd=root,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["thread_errors"] == []
    assert report["threads_left"] == []
    assert report["descriptors_left"] == []
    assert report["interrupted"] >= 20, report  # the signal came inside most runs (and after some, on an idle machine)
