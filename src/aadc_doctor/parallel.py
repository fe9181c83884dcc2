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
from collections.abc import Callable, Generator, Iterator, Sequence
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
    children: list[int] = []  # the helpers' pids, until reaped
    readers: list[threading.Thread] = []  # on the list before it starts, until joined
    pipe_ends: list[int] = []  # every descriptor this process opened here and has not closed yet
    try:
        numbers_out, numbers_in = _pipe(pipe_ends)
        _write_all(numbers_in, b"".join(_NUMBER.pack(n) for n in range(len(tasks))))
        _close(numbers_in, pipe_ends)  # once the numbers are read, every reader sees the end
        result_ends = []
        for _ in range(helpers):
            result_end = _fork_helper(function, tasks, numbers_out, children, pipe_ends)
            if result_end is None:
                break  # no process can be started here: what is left is done by this process
            result_ends.append(result_end)
        # helpers' results are read as they come (a full pipe would stall a helper until this process is done
        # with its own share); the threads wait in os.read without holding the GIL
        _start_readers(result_ends, results, readers)
        while (number := _next_number(numbers_out)) is not None:
            results[number] = function(tasks[number])
        for reader in readers:
            reader.join()
    except BaseException as exc:  # Ctrl-C or an error: the helpers' work is unwanted
        _tear_down(children, readers, pipe_ends, stop=True, failing=exc)
        raise
    _tear_down(children, readers, pipe_ends, stop=False)


@contextlib.contextmanager
def ctrl_c_deferred() -> Iterator[Any]:
    """Ctrl-C waits until the block is done (the mask in force before is given to the block).

    Only for code that runs while this process has a single thread (``cheap_start_available``), or whose
    other threads were started inside such a block: the signal can then reach no other thread, and Python
    raises it in the main thread once the block ends.
    """
    import signal

    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())  # the mask now: a Ctrl-C raised here changed nothing
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        yield mask
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _pipe(pipe_ends: list[int]) -> tuple[int, int]:
    """A new pipe (read end, write end), both on ``pipe_ends`` before a Ctrl-C can come."""
    with ctrl_c_deferred():
        read_end, write_end = os.pipe()
        pipe_ends += (read_end, write_end)
    return read_end, write_end


def _close(fd: int, pipe_ends: list[int]) -> None:
    """Close, then forget: a Ctrl-C in between makes the tear-down close it again (no descriptor is opened
    meanwhile, so it cannot be another file's), never leaves it open."""
    os.close(fd)
    pipe_ends.remove(fd)


def _fork_helper(function: Callable[[Any], Any], tasks: Sequence[Any], numbers_out: int, children: list[int],
                 pipe_ends: list[int]) -> int | None:
    """Fork one helper; the read end of its results pipe, or None where no process can be started.

    Ctrl-C waits until the helper is on ``children`` and its pipe's read end on ``pipe_ends``, so the tear-down
    stops, reaps and closes all of it.
    """

    with ctrl_c_deferred() as mask:
        results_out, results_in = os.pipe()
        try:
            pid = os.fork()
        except BaseException as exc:
            os.close(results_out)
            os.close(results_in)
            if isinstance(exc, OSError):
                return None
            raise
        if pid == 0:  # the helper unblocks Ctrl-C inside its own try: one landing now must not unwind our stack
            _forked_helper(function, tasks, numbers_out, results_in,
                           [fd for fd in pipe_ends if fd != numbers_out] + [results_out], mask)
        children.append(pid)
        pipe_ends.append(results_out)
        os.close(results_in)
    return results_out


def _start_readers(fds: list[int], results: dict[int, Any], readers: list[threading.Thread]) -> None:
    """One reading thread per helper's pipe, each put on ``readers`` (the caller joins them, even after Ctrl-C).

    Ctrl-C waits until every reader has started: a reader half-started when the run is torn down would be
    neither joined nor sure of its descriptor. The readers inherit the blocked SIGINT, so the signal still
    goes to the main thread, where Python handles it.
    """
    with ctrl_c_deferred():
        for fd in fds:
            reader = threading.Thread(target=_read_results, args=(fd, results), daemon=True)
            readers.append(reader)
            reader.start()


def _tear_down(children: list[int], readers: list[threading.Thread], pipe_ends: list[int], *, stop: bool,
               failing: BaseException | None = None) -> None:
    """Stop the helpers (if ``stop``), reap them, join the readers, close the pipes.

    A Ctrl-C during it does not cut it short: the step it hit is done again (each is safe to repeat), and
    KeyboardInterrupt is raised at the end, in place of the error ``failing`` the caller is handling (unless
    that is a Ctrl-C already, which the caller re-raises). Cut short, it would leave a reader running while the
    interpreter shuts down (printing "Exception in thread ... (_read_results)" after the one-line
    "interrupted"), helpers unreaped and pipes open. A reaped helper has closed its end of the pipe, so each
    reader reaches its end at once; only then are the read ends closed, never under a running reader.
    """
    interrupted = False
    while True:
        try:
            if stop:
                for pid in children:  # all before any is reaped: a reaped pid may be given to another process
                    _stop(pid)
                stop = False
            while children:
                _reap(children[-1])
                children.pop()
            while readers:
                if readers[-1].is_alive():
                    readers[-1].join(timeout=10)
                readers.pop()
            while pipe_ends:
                with contextlib.suppress(OSError):  # closed already, when a Ctrl-C came right after
                    os.close(pipe_ends[-1])
                pipe_ends.pop()
            break
        except KeyboardInterrupt:
            interrupted = True
    if interrupted and not isinstance(failing, KeyboardInterrupt):
        raise KeyboardInterrupt from failing  # once all is put away; a Ctrl-C wins over an error


def _forked_helper(function: Callable[[Any], Any], tasks: Sequence[Any], numbers_out: int, results_in: int,
                   not_mine: list[int], mask: Any) -> None:
    """The body of a forked helper: take numbers, send (number, result) pickled, then leave at once.

    Ctrl-C (blocked at the fork, ``mask`` restores it) ends it here, never by unwinding the main process's
    stack it was forked with (which would print "interrupted" a second time).
    """
    import signal

    status = 1
    try:
        import pickle

        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
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
    """One helper's results, until it closes its pipe (done, or died: its lost task is redone).

    The descriptor stays open after this returns (``_run_forked`` closes it once every reader is joined). A
    read that fails ends this reader quietly: the tasks it did not deliver are redone by the main process.
    """
    import pickle

    try:
        with open(fd, "rb", closefd=False) as stream:
            try:
                while (payload := _read_frame(stream)) is not None:  # None: the end, or cut short (helper died)
                    number, result = pickle.loads(payload)
                    results[number] = result
            except Exception:  # a result that does not unpickle: the rest is drained (a full pipe would block
                while stream.read(1 << 16):  # the helper, and the reaping that waits for it), the lost tasks
                    pass  # are redone by the main process
    except (OSError, ValueError):  # the run is being torn down (Ctrl-C): what is missing is redone or unwanted
        return


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
            except Exception:  # a result that does not unpickle: its task is redone by the caller; go on
                if not _give(channel, dispenser.take()):
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

    _flush_std_streams()
    children: list[int] = []  # the helper's pid, until reaped
    pipe_ends: list[int] = []
    finished = False
    try:
        # Ctrl-C waits until the helper's pid and the pipe are on the lists (or the fork failed): the tear-down
        # then stops, reaps and closes them
        with ctrl_c_deferred() as mask:
            results_out, results_in = _pipe(pipe_ends)
            pid = os.fork()
            if pid == 0:  # Ctrl-C is unblocked inside the helper's own try (see _forked_helper)
                _stream_helper(produce, results_in, results_out, mask)
            children.append(pid)
            _close(results_in, pipe_ends)
        with open(results_out, "rb", closefd=False) as stream:
            while True:
                payload = _read_frame(stream)
                if not payload:
                    raise HelperLost("the helper process ended before its work was done")
                kind, item = pickle.loads(payload)
                if kind != _ITEM:
                    finished = True  # the end, or the helper's error: it leaves by itself
                    break
                yield item
        if kind == _ERROR:
            raise item
    except BaseException as exc:  # an error, Ctrl-C, or the consumer closing the iterator early (GeneratorExit)
        _tear_down(children, [], pipe_ends, stop=not finished, failing=exc)
        raise
    _tear_down(children, [], pipe_ends, stop=False)


def _stream_helper(produce: Callable[[Callable[[Any], None]], None], results_in: int, results_out: int,
                   mask: Any) -> None:
    """The body of a forked producer: every item pickled into the pipe, then the end or the error; never returns."""
    import pickle
    import signal

    status = 1

    def send(kind: int, item: Any) -> None:
        payload = pickle.dumps((kind, item), protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(results_in, _LENGTH.pack(len(payload)) + payload)

    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(results_out)
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
