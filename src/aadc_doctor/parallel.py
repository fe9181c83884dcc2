"""Independent tasks on several CPUs: helper processes plus this one, the results in task order.

A process pool hands tasks out ahead of time and leaves the main process idle. Here the helpers and the
main process take task numbers one at a time from one shared queue, so the work ends evenly even when a
helper is slowed by other load, one process fewer is started, and the main process's own results need no
pickling. Where processes cannot be started (a sandbox, an embedded
interpreter) or a helper dies, its tasks are simply done here.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.queues import SimpleQueue

T = TypeVar("T")
R = TypeVar("R")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(len(os.sched_getaffinity(0)), 1)
        except OSError:
            pass
    return max(os.cpu_count() or 1, 1)


def cheap_start_available() -> bool:
    """Whether helpers can be forked (milliseconds) rather than spawned (a new interpreter, a few hundred ms).

    Fork only where it is safe: Linux (absent on Windows; macOS system libraries break after a fork), and
    only while this process runs a single thread.
    """
    import multiprocessing

    return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


def _helper_main(function: Callable[[Any], Any], tasks: Sequence[Any], queue: SimpleQueue[int | None],
                 results: Connection) -> None:
    """A helper process: take task numbers from the shared queue, send (index, result) back, until None."""
    try:
        while (index := queue.get()) is not None:
            results.send((index, function(tasks[index])))
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group; the main process reports it
    except BaseException:  # the main process redoes the task and meets the error itself
        pass
    finally:
        results.close()


def run_tasks(function: Callable[[T], R], tasks: Sequence[T], processes: int) -> list[R]:
    """``[function(task) for task in tasks]``, computed by up to ``processes`` processes, this one included.

    ``function`` must be picklable (a module-level function or an instance of a module-level class), and
    so must tasks and results. With ``processes`` 1, or a single task, nothing is started.
    """
    helpers = min(processes - 1, len(tasks) - 1)
    if helpers < 1:
        return [function(task) for task in tasks]
    import multiprocessing

    context: Any = multiprocessing.get_context("fork" if cheap_start_available() else None)
    queue: SimpleQueue[int | None] = context.SimpleQueue()  # task numbers, then one None per process
    started: list[tuple[Any, Connection]] = []
    results: dict[int, R] = {}
    for stream in (sys.stdout, sys.stderr):  # a forked helper must not write out what is still buffered here
        if stream is not None:
            stream.flush()
    try:
        for _ in range(helpers):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_helper_main, args=(function, tasks, queue, sender), daemon=True)
            try:
                process.start()
            except OSError:  # no process can be started here: what is left is done by this process
                receiver.close()
                sender.close()
                break
            sender.close()  # the helper holds its end now; its exit ends the stream
            started.append((process, receiver))
        # helpers' results are taken in as they come (a full pipe would stall a helper until this process is
        # done with its own share); the thread waits on the pipes without holding the GIL
        receiving = threading.Thread(target=_receive, args=([r for _, r in started], results), daemon=True)
        receiving.start()
        for number in range(len(tasks)):
            queue.put(number)
        for _ in range(len(started) + 1):
            queue.put(None)
        while (index := queue.get()) is not None:
            results[index] = function(tasks[index])
        receiving.join()
    except BaseException:
        for process, _ in started:  # Ctrl-C or an error: the helpers' work is no longer wanted
            process.terminate()
        raise
    finally:
        for process, receiver in started:
            receiver.close()
            process.join(5)
        queue.close()
    for number, task in enumerate(tasks):
        if number not in results:  # taken by a helper that died (killed, out of memory, a bug)
            results[number] = function(task)
    return [results[number] for number in range(len(tasks))]


def _receive(streams: list[Connection], results: dict[int, Any]) -> None:
    """Every result the helpers send, until each of them has closed its stream."""
    from multiprocessing.connection import wait

    open_streams = list(streams)
    while open_streams:
        for ready in wait(open_streams):
            stream = cast("Connection", ready)
            try:
                index, result = stream.recv()
            except (EOFError, OSError):
                open_streams.remove(stream)
                continue
            results[index] = result
