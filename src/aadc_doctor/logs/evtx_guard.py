"""Damaged .evtx data read in a helper process, which is stopped when it stops making progress.

The evtx package (Rust) can loop forever on some damaged chunks (upstream omerbenamram/evtx #263, #264,
#290), in native code and holding the GIL: no thread of the reading process could stop it, and `pta events`
would hang on the very log an admin needs read. So chunks the package may loop on (a header checksum that
fails, a string or template chain that loops, a chunk cut short: ``evtx_reader.damage_in``) go to a helper
process that sends the records it selects as it reads, with a heartbeat every few hundred records; every
other chunk is read in-process at full speed. When
nothing comes for ``STALL_SECONDS``, the helper is stopped: the records it sent are kept, and the span is
reported as damaged past reading. One helper serves a whole run; a new one starts after a stop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aadc_doctor.errors import InputError
from aadc_doctor.logs.evtx_reader import EvtxFileStats, EvtxLayout, RecordSelector

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from aadc_doctor.logs.event_xml import EventRecord

STALL_SECONDS = 10.0  # a healthy chunk takes about a millisecond; a loaded machine may pause a few seconds
STARTUP_SECONDS = 120.0  # until a started helper says it is ready (spawned: a new interpreter, imports)
_BATCH = 64  # selected records per message
_BEAT_EVERY = 256  # records read (selected or not) between heartbeats

SpanReader = Callable[["Connection", str, EvtxLayout, "range | None", RecordSelector], None]


@dataclass
class GuardedRead:
    """What the helper read of one span: its figures (partial when it was stopped) and the EventID counts."""

    stats: EvtxFileStats
    counts: dict[int, int] = field(default_factory=dict)
    stopped: bool = False


class EvtxGuard:
    """A helper process for damaged spans, started on first use; ``with`` makes sure it is gone afterwards."""

    def __init__(self, stall_seconds: float = STALL_SECONDS, *, read_span: SpanReader | None = None) -> None:
        """``read_span``: what the helper runs for each span (tests give one that stalls); a module-level function."""
        self.stall_seconds = stall_seconds
        self._read_span = read_span or read_span_into
        self._process: Any = None
        self._channel: Connection | None = None

    def __enter__(self) -> EvtxGuard:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:  # Ctrl-C or an error: the helper's work is no longer wanted, and it may be busy
            self._stop()

    def read(self, path: Path, layout: EvtxLayout, span: range | None, selector: RecordSelector,
             take: Callable[[EventRecord], None]) -> GuardedRead:
        """Read ``span`` of ``path`` (None: the whole file, described as ``iter_evtx_records`` does) in the helper.

        Each selected record goes to ``take`` as it arrives. An InputError of the reader is raised here, as
        in-process; a helper that stalls or dies leaves a partial read with the reason among its errors.
        """
        request = (str(path), layout, span, selector)
        try:
            channel = self._start()
            channel.send(request)
        except (OSError, ValueError):  # the idle helper is gone (killed, out of memory): a new one
            self._stop()
            channel = self._start()
            channel.send(request)
        progress = _Progress()
        while True:
            if not channel.poll(self.stall_seconds):
                self._stop()
                return progress.partial(path, layout, span, f"the evtx package made no progress for "
                                        f"{self.stall_seconds:g} s on damaged data in {_where(span)} and was "
                                        "stopped; the records after the ones read are not counted")
            try:
                kind, payload = channel.recv()
            except (EOFError, OSError):
                self._stop()
                return progress.partial(path, layout, span, f"the process reading damaged data in {_where(span)} "
                                        "ended abruptly; the records after the ones read are not counted")
            if kind == "records":
                for record in payload:
                    progress.took(record.event_id)
                    take(record)
            elif kind == "beat":
                progress.read = payload
            elif kind == "done":
                stats, counts = payload
                return GuardedRead(stats, counts)
            elif kind == "input-error":
                raise InputError(payload[0], hint=payload[1])
            else:  # "bug": our own error in the helper, with its type and message
                raise RuntimeError(f"the .evtx reading helper failed: {payload}")

    def close(self) -> None:
        """Tell the helper to leave, and stop it if it does not (it may be spinning)."""
        if self._channel is not None:
            with contextlib.suppress(OSError, ValueError):
                self._channel.send(None)
        self._stop(grace=2.0)

    def _start(self) -> Connection:
        if self._channel is not None:
            return self._channel
        import multiprocessing

        from aadc_doctor import parallel

        context: Any = multiprocessing.get_context("fork" if parallel.cheap_start_available() else "spawn")
        ours: Connection
        theirs: Connection
        ours, theirs = context.Pipe(duplex=True)
        forked = context.get_start_method() == "fork"
        # a forked helper inherits our end too: it closes it, so our exit (however abrupt) ends its wait
        process = context.Process(target=_serve, args=(theirs, self._read_span, ours.fileno() if forked else None),
                                  daemon=True, name="aadc-doctor evtx reader")
        try:
            # Ctrl-C waits until the helper is ours to stop (it ignores Ctrl-C from its first instruction)
            with parallel.ctrl_c_deferred() if forked else contextlib.nullcontext():
                process.start()
                self._process, self._channel = process, ours
                theirs.close()  # the helper holds its end now
        except OSError as exc:  # no process can be started here (a sandbox): damaged data cannot be read safely
            self._process = self._channel = None
            ours.close()
            theirs.close()
            raise InputError(f"damaged .evtx data is read by a helper process, which cannot start here: {exc}",
                             hint="copy the log to a machine that allows it, or export it again") from None
        # the stall limit counts from here: a spawned helper first starts an interpreter and imports the reader
        # (a second or two on a loaded server, more under Wine)
        if not ours.poll(STARTUP_SECONDS):
            self._stop()
            raise InputError(f"the helper process that reads damaged .evtx data did not start within "
                             f"{STARTUP_SECONDS:g} s", hint="try again on a less loaded machine")
        try:
            ours.recv()  # ("ready", None)
        except (EOFError, OSError):
            self._stop()
            raise InputError("the helper process that reads damaged .evtx data ended as it started") from None
        return ours

    def _stop(self, grace: float = 0.0) -> None:
        process, channel = self._process, self._channel
        self._process = self._channel = None
        if process is not None:
            process.join(grace)
            if process.is_alive():
                process.kill()
                process.join(5)
        if channel is not None:
            channel.close()


def _where(span: range | None) -> str:
    if span is None:
        return "the file"
    last = span.stop - 1
    return f"chunk {span.start}" if last == span.start else f"chunks {span.start}-{last}"


class _Progress:
    """What a read has delivered so far: what is kept when its helper is stopped."""

    def __init__(self) -> None:
        self.read = 0  # records the helper had read at its last heartbeat (selected or not)
        self.counts: dict[int, int] = {}  # EventIDs of the records it sent

    def took(self, event_id: int) -> None:
        self.counts[event_id] = self.counts.get(event_id, 0) + 1

    def partial(self, path: Path, layout: EvtxLayout, span: range | None, reason: str) -> GuardedRead:
        stats = EvtxFileStats(str(path))
        if span is None:
            layout.describe(stats)
        stats.records = max(self.read, sum(self.counts.values()))
        stats.add_error(reason)
        return GuardedRead(stats, dict(self.counts), stopped=True)


# ---- the helper process ---------------------------------------------------------------------------------------


class _Heartbeat:
    """The package's record iterator, with a heartbeat every ``_BEAT_EVERY`` records.

    An iterator object, not a generator: the package raises for a damaged chunk and then goes on with the
    next, and a generator would end at the first error.
    """

    def __init__(self, inner: Iterator[Any], beat: Callable[[int], None]) -> None:
        self._inner = inner
        self._beat = beat
        self._count = 0

    def __iter__(self) -> _Heartbeat:
        return self

    def __next__(self) -> Any:
        self._count += 1
        if self._count % _BEAT_EVERY == 0:
            self._beat(self._count)
        return next(self._inner)


def _serve(channel: Connection, read_span: SpanReader, inherited: int | None = None) -> None:
    """The helper: read each span asked for, send its records as they come, then its figures; until None.

    ``inherited``: the main process's end of the pipe, which a forked helper holds too and closes.
    """
    import os
    import signal

    with contextlib.suppress(ValueError, OSError):  # Ctrl-C is the main process's: it stops this one
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if inherited is not None:
        with contextlib.suppress(OSError):
            os.close(inherited)
    if hasattr(signal, "pthread_sigmask"):  # forked with SIGINT blocked (ctrl_c_deferred): ignored from now on
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        channel.send(("ready", None))
        while (request := channel.recv()) is not None:
            read_span(channel, *request)
    except (EOFError, OSError, KeyboardInterrupt):  # the main process is gone, or stopping
        pass
    finally:
        channel.close()


def read_span_into(channel: Connection, name: str, layout: EvtxLayout, span: range | None,
                   selector: RecordSelector) -> None:
    """Read one span, sending ("records", [...]) and ("beat", count) as it goes, then ("done", (stats, counts)),
    or ("input-error", (message, hint)), or ("bug", text)."""
    from aadc_doctor.logs.evtx_reader import iter_evtx_records

    stats = EvtxFileStats(name)
    counts: dict[int, int] = {}
    batch: list[EventRecord] = []

    def send_batch() -> None:
        if batch:
            channel.send(("records", batch[:]))
            batch.clear()

    def beat(count: int) -> None:
        send_batch()
        channel.send(("beat", count))

    try:
        for record in iter_evtx_records(Path(name), stats, selector, counts, layout=layout, span=span,
                                        watch=lambda inner: _Heartbeat(inner, beat)):
            batch.append(record)
            if len(batch) >= _BATCH:
                send_batch()
        send_batch()
        channel.send(("done", (stats, counts)))
    except InputError as exc:
        channel.send(("input-error", (exc.message, exc.hint)))
    except (EOFError, OSError):
        raise
    except Exception as exc:  # our bug: the main process reports it as one (exit 4), never as damage
        channel.send(("bug", f"{type(exc).__name__}: {exc}"))
