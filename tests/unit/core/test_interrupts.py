"""A Ctrl-C a native library turns into an error of its own is still a Ctrl-C (issue 17, item 5).

The evtx package reads a sliced log through a Python file object; a Ctrl-C that lands in one of its reads
came back as "Failed to seek to start of chunk.: KeyboardInterrupt" and was reported as file damage (exit 1).
Here the signal is raised for real (signal.raise_signal) inside such a read, under the real package.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

import pytest

from aadc_doctor import interrupts
from aadc_doctor.logs import evtx_reader
from aadc_doctor.logs.evtx_reader import EvtxFileStats, RecordSelector, iter_evtx_records, read_layout

BIG = "omerbenamram-evtx_security.evtx"  # 33 chunks


def test_a_swallowed_ctrl_c_is_counted_and_raised_again():
    with interrupts.watching():
        mark = interrupts.received()
        with contextlib.suppress(KeyboardInterrupt):  # what a native library does: it becomes its own error
            signal.raise_signal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            interrupts.raise_if_received_since(mark)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


class _CtrlCInFinaliser:
    """Where CPython cannot raise: a Ctrl-C in a finaliser (or an import's module-lock callback) is "ignored"."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


class _BrokenFinaliser:
    def __del__(self) -> None:
        raise ValueError("a real finaliser bug")


def test_a_ctrl_c_cpython_ignores_is_silent_and_still_ends_the_command(monkeypatch):
    """Found by the Ctrl-C integration test under load: "Exception ignored in: <function _get_module_lock...>
    KeyboardInterrupt" on stderr, and the run went on to exit 0."""
    shown: list[str] = []  # what reaches the hook that prints "Exception ignored ..."
    monkeypatch.setattr(sys, "unraisablehook", lambda info: shown.append(type(info.exc_value).__name__))
    with interrupts.watching():
        mark = interrupts.received()
        _CtrlCInFinaliser()  # dropped at once: __del__ runs, its KeyboardInterrupt is unraisable
        _BrokenFinaliser()
        with pytest.raises(KeyboardInterrupt):
            interrupts.raise_if_received_since(mark)  # what cli.main does when the command returns
    assert shown == ["ValueError"]  # the Ctrl-C is silent; any other unraisable error still shows


def test_the_cli_exits_130_when_a_ctrl_c_was_swallowed_during_the_command(monkeypatch, capsys):
    from aadc_doctor import cli

    def run_swallowing_a_ctrl_c(*args: object) -> int:
        with contextlib.suppress(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        return 0

    monkeypatch.setattr(cli, "run", run_swallowing_a_ctrl_c)
    assert cli.main(["helpmsg", "5"]) == 130
    assert capsys.readouterr().err == "aadc-doctor: interrupted\n"


def test_outside_the_watch_nothing_is_counted():
    mark = interrupts.received()
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    interrupts.raise_if_received_since(mark)  # no exception: the default handler ran, not ours


@pytest.mark.parametrize("after_reads", [1, 3, 40])
def test_ctrl_c_inside_a_sliced_evtx_read_is_an_interruption_not_damage(corpus, monkeypatch, after_reads):
    path = Path(corpus / "evtx" / BIG)
    layout = read_layout(path)
    original = evtx_reader.ChunkWindow.readinto
    calls = {"n": 0}

    def readinto_then_ctrl_c(self: evtx_reader.ChunkWindow, buffer: object) -> int:
        calls["n"] += 1
        if calls["n"] == after_reads:
            signal.raise_signal(signal.SIGINT)  # lands inside the package's read, as a real Ctrl-C does
        return original(self, buffer)

    monkeypatch.setattr(evtx_reader.ChunkWindow, "readinto", readinto_then_ctrl_c)
    stats = EvtxFileStats(str(path))
    with interrupts.watching(), pytest.raises(KeyboardInterrupt):
        for _ in iter_evtx_records(path, stats, RecordSelector(ids=frozenset({4624})), layout=layout,
                                   span=range(2, 20)):
            pass
    assert stats.error_count == 0  # nothing was reported as damage


def test_an_error_a_ctrl_c_turned_into_is_an_interruption_not_a_bug(monkeypatch, capsys):
    """Found under load: a Ctrl-C during a dataclass's creation came out as "internal error: RuntimeError: Error
    calling __set_name__ on 'Field' instance" (exit 4). After a Ctrl-C, any error is the interruption (130)."""
    from aadc_doctor import cli

    def interrupted_class_creation(*args: object) -> int:
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt as exc:
            raise RuntimeError("Error calling __set_name__ on 'Field' instance 'name' in 'EvtxFileStats'") from exc
        return 0

    monkeypatch.setattr(cli, "run", interrupted_class_creation)
    assert cli.main(["helpmsg", "5"]) == 130
    assert capsys.readouterr().err == "aadc-doctor: interrupted\n"

    def our_bug(*args: object) -> int:
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(cli, "run", our_bug)
    assert cli.main(["helpmsg", "5"]) == 4  # without a Ctrl-C, the same error is still ours
    assert "internal error: RuntimeError: a bug of ours" in capsys.readouterr().err
