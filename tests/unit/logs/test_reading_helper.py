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
