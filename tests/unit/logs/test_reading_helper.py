"""The forked helper that reads a proxy log (parallel.forked_stream): what it sends, its errors, its end."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aadc_doctor.errors import InputError
from aadc_doctor.parallel import HelperLost, cheap_start_available, forked_stream

pytestmark = pytest.mark.skipif(not cheap_start_available(), reason="a fork is safe only on Linux, single-threaded")

Send = Callable[[Any], None]


def test_items_come_in_order_and_each_once() -> None:
    def produce(send: Send) -> None:
        for n in range(2000):
            send((n, b"x" * (n % 700)))  # many items over the pipe's buffer: the helper waits for the reader

    assert list(forked_stream(produce)) == [(n, b"x" * (n % 700)) for n in range(2000)]


def test_the_helper_runs_in_another_process() -> None:
    def produce(send: Send) -> None:
        send(os.getpid())

    assert list(forked_stream(produce)) != [os.getpid()]


def test_an_input_error_in_the_helper_is_raised_here_with_its_hint() -> None:
    def produce(send: Send) -> None:
        send(1)
        raise InputError("access.log: cannot read: Input/output error", hint="copy the file again")

    stream = forked_stream(produce)
    assert next(stream) == 1
    with pytest.raises(InputError) as caught:
        next(stream)
    assert (caught.value.message, caught.value.hint) == ("access.log: cannot read: Input/output error",
                                                         "copy the file again")


def test_a_bug_in_the_helper_stays_a_bug() -> None:
    def produce(send: Send) -> None:
        raise KeyError("oops")

    with pytest.raises(KeyError):
        list(forked_stream(produce))


def test_an_unpicklable_error_keeps_its_text() -> None:
    class Local(Exception):  # a class pickle cannot find by name
        pass

    def produce(send: Send) -> None:
        raise Local("the reason")

    with pytest.raises(RuntimeError, match="Local: the reason"):
        list(forked_stream(produce))


def test_a_helper_that_dies_is_helper_lost() -> None:
    def produce(send: Send) -> None:
        send(1)
        os._exit(9)  # killed, out of memory

    stream = forked_stream(produce)
    assert next(stream) == 1
    with pytest.raises(HelperLost):
        next(stream)


def test_closing_the_stream_early_stops_and_reaps_the_helper(tmp_path: Path) -> None:
    pids = tmp_path / "pid"

    def produce(send: Send) -> None:
        pids.write_text(str(os.getpid()))
        while True:
            send(b"y" * 100_000)  # blocks once the pipe is full

    stream = forked_stream(produce)
    next(stream)
    stream.close()
    pid = int(pids.read_text())
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: not a zombie, not running
    assert not Path(f"/proc/{pid}").exists()


def test_by_default_only_a_large_uncompressed_file_gets_a_helper(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from aadc_doctor import parallel
    from aadc_doctor.logs import proxylog_reader
    from aadc_doctor.logs.chunked_reader import ChunkedLog

    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    # the size rule alone: an earlier test of this process may have left a library's native thread pool idle
    monkeypatch.setattr(parallel, "cheap_start_available", lambda: True)
    monkeypatch.setattr(proxylog_reader, "PARALLEL_MIN_BYTES", 10_000)
    line = b"1700000000.000 5 10.0.0.1 TCP_TUNNEL/200 90 CONNECT login.microsoftonline.com:443 - HIER_DIRECT/1.1.1.1\n"
    small, large, packed = tmp_path / "small.log", tmp_path / "large.log", tmp_path / "large.log.gz"
    small.write_bytes(line * 10)
    large.write_bytes(line * 200)
    packed.write_bytes(gzip.compress(line * 200) + os.urandom(20_000))  # bytes after it: the .gz is over the limit

    def helper(path: Path, jobs: int | None) -> bool:
        log = ChunkedLog(path)
        log.head_text()
        try:
            return proxylog_reader._use_helper(log, jobs)
        finally:
            log.close()

    assert packed.stat().st_size > 10_000
    assert [helper(p, None) for p in (small, large, packed)] == [False, True, False]
    assert [helper(p, 2) for p in (small, large, packed)] == [True, True, True]  # --jobs 2 forces it
    assert [helper(p, 1) for p in (small, large, packed)] == [False, False, False]
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 1)
    assert not helper(large, None)  # one CPU: nothing to gain
