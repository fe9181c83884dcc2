"""Span readers for ``EvtxGuard`` tests: one that stalls as the evtx package does on some damaged chunks, one
that dies. Module-level, so a spawned helper (Windows) can import them. Any other file is read for real."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from aadc_doctor.logs.evtx_guard import read_span_into
from aadc_doctor.logs.evtx_reader import EvtxFileStats, EvtxLayout, RecordSelector, iter_evtx_records

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

SENT_BEFORE_TROUBLE = 3


def read_then_stall(channel: Connection, name: str, layout: EvtxLayout, span: range | None,
                    selector: RecordSelector) -> None:
    """For a file named ``*stall*``: send a few records, then loop forever without a word; else read it."""
    if "stall" not in Path(name).name:
        read_span_into(channel, name, layout, span, selector)
        return
    _send_a_few(channel, name, layout, span, selector)
    while True:  # as the package's loop: silent and never ending (asleep: the CPU stays free for the test run)
        time.sleep(1)


def read_then_die(channel: Connection, name: str, layout: EvtxLayout, span: range | None,
                  selector: RecordSelector) -> None:
    """Send a few records, then end the process at once (as a crash in native code would)."""
    _send_a_few(channel, name, layout, span, selector)
    os._exit(3)


def _send_a_few(channel: Connection, name: str, layout: EvtxLayout, span: range | None,
                selector: RecordSelector) -> None:
    records = list(iter_evtx_records(Path(name), EvtxFileStats(name), selector, {}, layout=layout, span=span))
    channel.send(("records", records[:SENT_BEFORE_TROUBLE]))
    channel.send(("beat", SENT_BEFORE_TROUBLE))
