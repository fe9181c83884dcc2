"""Independent tasks on several CPUs: helper processes plus this one, the results in task order.

A process pool hands tasks out ahead of time and leaves the main process idle. Here the helpers and the
main process take task numbers one at a time, so the work ends evenly even when a helper is slowed by other
load, one process fewer is started, and the main process's own results need no pickling. Where processes
cannot be started (a sandbox, an embedded interpreter) or a helper dies, its tasks are simply done here.

On Linux helpers are forked with ``os.fork`` and fed through plain pipes: they start in about a
millisecond, share everything already loaded, and the run does not pay for importing ``multiprocessing``
(about 10 ms, a fair part of a short run). Elsewhere ``multiprocessing`` spawns them.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import threading
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

T = TypeVar("T")
R = TypeVar("R")

_NUMBER = struct.Struct("<I")  # a task number in the shared pipe
_LENGTH = struct.Struct("<Q")  # the size of a pickled result
_MAX_FORKED_TASKS = 1024  # their numbers fill 4 KiB, the smallest pipe buffer Linux gives: written before any read


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(len(os.sched_getaffinity(0)), 1)
        except OSError:
            pass
    return max(os.cpu_count() or 1, 1)


def cheap_start_available() -> bool:
    """Whether helpers can be forked (about a millisecond) rather than spawned (a new interpreter, ~0.3 s).

    Fork only where it is safe: Linux (absent on Windows; macOS system libraries break after a fork), and
    only while this process runs a single thread, native threads (a library's pool) included.
    """
    if not (sys.platform.startswith("linux") and hasattr(os, "fork")) or threading.active_count() != 1:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def run_tasks(function: Callable[[T], R], tasks: Sequence[T], processes: int, *, start: str | None = None) -> list[R]:
    """``[function(task) for task in tasks]``, computed by up to ``processes`` processes, this one included.

    ``function`` must be picklable (a module-level function or an instance of a module-level class), and
    so must tasks and results. With ``processes`` 1, or a single task, nothing is started. ``start``:
    "fork" or "spawn" to choose how helpers start (tests use both); None picks fork where it is safe.
    """
    helpers = min(processes - 1, len(tasks) - 1)
    if helpers < 1:
        return [function(task) for task in tasks]
    if start is None:
        start = "fork" if cheap_start_available() else "spawn"
    _flush_std_streams()
    results: dict[int, R] = {}
    if start == "fork" and len(tasks) <= _MAX_FORKED_TASKS:
        _run_forked(function, tasks, helpers, results)
    else:
        _run_with_multiprocessing(function, tasks, helpers, results, start)
    for number, task in enumerate(tasks):
        if number not in results:  # taken by a helper that died (killed, out of memory, a bug)
            results[number] = function(task)
    return [results[number] for number in range(len(tasks))]


# ---- fork and pipes (Linux) ----------------------------------------------------------------------


def _run_forked(function: Callable[[T], R], tasks: Sequence[T], helpers: int, results: dict[int, R]) -> None:
    import signal

    children: list[tuple[int, int]] = []  # (pid, read end of its results)
    readers: list[threading.Thread] = []  # each owns (and closes) one read end once started
    numbers_out, numbers_in = os.pipe()
    try:
        _write_all(numbers_in, b"".join(_NUMBER.pack(n) for n in range(len(tasks))))
        os.close(numbers_in)  # once the numbers are read, every reader sees the end
        numbers_in = -1
        for _ in range(helpers):
            # Ctrl-C waits until the helper is on the list (or the fork failed): it is then stopped and reaped
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                results_out, results_in = os.pipe()
                try:
                    pid = os.fork()
                except BaseException as exc:
                    os.close(results_out)
                    os.close(results_in)
                    if isinstance(exc, OSError):
                        break  # no process can be started here: what is left is done by this process
                    raise
                if pid == 0:
                    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                    _forked_helper(function, tasks, numbers_out, results_in,
                                   [fd for _, fd in children] + [results_out])
                children.append((pid, results_out))
                os.close(results_in)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        # helpers' results are read as they come (a full pipe would stall a helper until this process is done
        # with its own share); the threads wait in os.read without holding the GIL
        for _, fd in children:
            reader = threading.Thread(target=_read_results, args=(fd, results), daemon=True)
            reader.start()
            readers.append(reader)
        while (number := _next_number(numbers_out)) is not None:
            results[number] = function(tasks[number])
        for reader in readers:
            reader.join()
    except BaseException:
        for pid, _ in children:  # Ctrl-C or an error: the helpers' work is no longer wanted
            _stop(pid)
        raise
    finally:
        for fd in (numbers_out, numbers_in):
            if fd >= 0:
                os.close(fd)
        for _, fd in children[len(readers):]:  # read ends no thread took over
            os.close(fd)
        for pid, _ in children:
            _reap(pid)
        # after Ctrl-C or an error the readers are still running: a helper reaped has closed its pipe, so each
        # reaches its end at once. Joined here, none is left unpickling while the interpreter shuts down (which
        # printed "Exception in thread ... (_read_results)" after the one-line "interrupted")
        for reader in readers:
            reader.join(timeout=10)


def _forked_helper(function: Callable[[Any], Any], tasks: Sequence[Any], numbers_out: int, results_in: int,
                   not_mine: list[int]) -> None:
    """The body of a forked helper: take numbers, send (number, result) pickled, then leave at once."""
    status = 1
    try:
        import pickle

        for fd in not_mine:
            os.close(fd)
        with os.fdopen(results_in, "wb") as out:
            while (number := _next_number(numbers_out)) is not None:
                payload = pickle.dumps((number, function(tasks[number])), protocol=pickle.HIGHEST_PROTOCOL)
                out.write(_LENGTH.pack(len(payload)))
                out.write(payload)
                out.flush()
        status = 0
    except BaseException:  # Ctrl-C, or a failure the main process meets again when it redoes the task
        pass
    finally:
        os._exit(status)  # no atexit handlers, no flushing of buffers inherited from the main process


def _next_number(fd: int) -> int | None:
    """The next task number; None once all are taken. Pipe reads of 4 bytes are atomic (Linux pipe lock)."""
    data = os.read(fd, _NUMBER.size)
    return _NUMBER.unpack(data)[0] if len(data) == _NUMBER.size else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_results(fd: int, results: dict[int, Any]) -> None:
    """One helper's results, until it closes its pipe (done, or died: its lost task is redone)."""
    import pickle

    with os.fdopen(fd, "rb") as stream:
        while (payload := _read_frame(stream)) is not None:  # None: the end, or cut short (the helper died)
            number, result = pickle.loads(payload)
            results[number] = result


def _read_frame(stream: BinaryIO) -> bytes | None:
    """One length-prefixed message from a helper's pipe; None at its end or when the message is cut short."""
    head = stream.read(_LENGTH.size)
    if len(head) != _LENGTH.size:
        return None
    size = _LENGTH.unpack(head)[0]
    payload = stream.read(size)
    return payload if len(payload) == size else None


def _flush_std_streams() -> None:
    """A forked helper must not write out again what is still buffered here."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def _stop(pid: int) -> None:
    import signal

    with contextlib.suppress(OSError):  # gone already
        os.kill(pid, signal.SIGTERM)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


# ---- multiprocessing (Windows, macOS) ----------------------------------------------------------------


def _mp_helper(function: Callable[[Any], Any], tasks: Sequence[Any], channel: Connection) -> None:
    """A spawned helper: compute the task numbers it is sent, send back (number, result), until None."""
    try:
        while (number := channel.recv()) is not None:
            channel.send((number, function(tasks[number])))
    except BaseException:  # Ctrl-C, the main process gone, or a failure the main process meets again
        pass
    finally:
        channel.close()


class _Dispenser:
    """Task numbers, each given out once, to this process's threads (no lock shared with other processes, so
    a helper that dies can never leave one held)."""

    def __init__(self, count: int) -> None:
        self._next = 0
        self._count = count
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self._count:
                return None
            self._next += 1
            return self._next - 1


def _run_with_multiprocessing(function: Callable[[T], R], tasks: Sequence[T], helpers: int, results: dict[int, R],
                              start: str) -> None:
    """Spawned helpers, each sent its next task number when it returns a result (by a thread of this process)."""
    import multiprocessing

    context: Any = multiprocessing.get_context(start)
    dispenser = _Dispenser(len(tasks))
    started: list[tuple[Any, Connection]] = []
    try:
        for _ in range(helpers):
            channel, theirs = context.Pipe(duplex=True)
            process = context.Process(target=_mp_helper, args=(function, tasks, theirs), daemon=True)
            try:
                process.start()
            except OSError:  # no process can be started here: what is left is done by this process
                channel.close()
                theirs.close()
                break
            theirs.close()  # the helper holds its end now; its exit ends the stream
            started.append((process, channel))
        dispatching = threading.Thread(target=_dispatch, args=([c for _, c in started], dispenser, results),
                                       daemon=True)
        dispatching.start()
        while (number := dispenser.take()) is not None:
            results[number] = function(tasks[number])
        dispatching.join()
    except BaseException:
        for process, _ in started:  # Ctrl-C or an error: the helpers' work is no longer wanted
            process.terminate()
        raise
    finally:
        for process, channel in started:
            channel.close()
            process.join(5)


def _dispatch(channels: list[Connection], dispenser: _Dispenser, results: dict[int, Any]) -> None:
    """Give each helper a task number, and the next one with each result, until none is left and all have ended."""
    from multiprocessing.connection import wait

    open_channels: list[Connection] = []
    for channel in channels:
        if _give(channel, dispenser.take()):
            open_channels.append(channel)
    while open_channels:
        for ready in wait(open_channels):
            channel = cast("Connection", ready)
            try:
                number, result = channel.recv()
            except (EOFError, OSError):  # ended: after its None, or died (its task is redone by the caller)
                open_channels.remove(channel)
                continue
            results[number] = result
            if not _give(channel, dispenser.take()):
                open_channels.remove(channel)


def _give(channel: Connection, number: int | None) -> bool:
    """Send a task number (None: stop); False when the helper is gone or was told to stop."""
    try:
        channel.send(number)
    except OSError:
        return False
    return number is not None


# ---- one forked producer, streamed (Linux) ----------------------------------------------------------


class HelperLost(Exception):
    """The helper process ended without finishing its stream (killed, out of memory)."""


_ITEM, _ERROR, _END = 0, 1, 2
_STREAM_PIPE_BYTES = 1 << 20  # how far the helper may run ahead of the consumer (Linux's default maximum)


def forked_stream(produce: Callable[[Callable[[Any], None]], None]) -> Generator[Any, None, None]:
    """Run ``produce(send)`` in a forked helper and yield what it sends, in order, as it comes.

    For a pipeline whose two halves each need a CPU: the helper (reading and searching a log) runs ahead of
    this process (analysing what it found) by at most the pipe's buffer, so memory stays bounded. Only where
    ``cheap_start_available()``: the helper inherits everything already open or loaded, file positions
    included. An exception in ``produce`` is raised here; a helper that dies is ``HelperLost``. Ctrl-C, an
    error here or closing the iterator early stops the helper; it is always reaped.
    """
    import pickle
    import signal

    _flush_std_streams()
    pid = -1
    finished = False
    results_out = -1
    try:
        # Ctrl-C waits until the helper's pid is known (or the fork failed): it is then stopped and reaped
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            results_out, results_in = os.pipe()
            try:
                pid = os.fork()
            except BaseException:
                os.close(results_in)
                raise
            if pid == 0:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                os.close(results_out)
                _stream_helper(produce, results_in)
            os.close(results_in)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        with os.fdopen(results_out, "rb") as stream:
            results_out = -1  # the file object owns it now
            while True:
                payload = _read_frame(stream)
                if not payload:
                    raise HelperLost("the helper process ended before its work was done")
                kind, item = pickle.loads(payload)
                if kind == _END:
                    finished = True
                    return
                if kind == _ERROR:
                    finished = True
                    raise item
                yield item
    finally:
        if results_out >= 0:
            os.close(results_out)
        if pid > 0:
            if not finished:
                _stop(pid)
            _reap(pid)


def _stream_helper(produce: Callable[[Callable[[Any], None]], None], results_in: int) -> None:
    """The body of a forked producer: every item pickled into the pipe, then the end or the error; never returns."""
    import pickle

    status = 1

    def send(kind: int, item: Any) -> None:
        payload = pickle.dumps((kind, item), protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(results_in, _LENGTH.pack(len(payload)) + payload)

    try:
        with contextlib.suppress(OSError, AttributeError):  # a bigger pipe is only a smoother run
            import fcntl

            fcntl.fcntl(results_in, fcntl.F_SETPIPE_SZ, _STREAM_PIPE_BYTES)
        try:
            produce(lambda item: send(_ITEM, item))
        except Exception as exc:  # re-raised in the consumer: an InputError stays one, a bug stays a bug
            try:
                send(_ERROR, exc)
            except Exception:  # not picklable: its text is kept
                send(_ERROR, RuntimeError(f"{type(exc).__name__}: {exc}"))
        else:
            send(_END, None)
        status = 0
    except BaseException:  # Ctrl-C, or the consumer gone (a closed pipe)
        pass
    finally:
        os._exit(status)  # no atexit handlers, no flushing of buffers inherited from the main process
