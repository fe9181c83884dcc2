"""Damaged .evtx data goes to a helper process that is stopped when it stalls (logs/evtx_guard.py).

Real helper processes (fork on Linux, spawn under Windows CPython), real corpus logs, real damage; the stall
is a reader that loops without a word, as the evtx package does on some damaged chunks.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import asdict
from pathlib import Path

import pytest
from tests.infra.spinning_evtx import write_spinning_evtx
from tests.infra.stalling_reader import SENT_BEFORE_TROUBLE, read_then_die, read_then_stall

from aadc_doctor.json_data import to_json_data
from aadc_doctor.logs.evtx_guard import EvtxGuard
from aadc_doctor.logs.evtx_reader import (
    CHUNK_SIZE,
    FILE_HEADER_SIZE,
    EvtxFileStats,
    RecordSelector,
    damage_in,
    damaged_slots,
    iter_evtx_records,
    read_layout,
)
from aadc_doctor.logs.pta_event_logs import collect_events

SECURITY = "omerbenamram-evtx_security.evtx"  # 33 chunk slots, 2 MB
SELECTOR = RecordSelector(ids=frozenset({4624, 4625, 4672, 4688, 4776}))


def _damaged(corpus: Path, folder: Path, name: str, *offsets: int) -> Path:
    data = bytearray((corpus / "evtx" / SECURITY).read_bytes())
    for offset in offsets:
        data[offset] ^= 0x5A
    path = folder / name
    path.write_bytes(bytes(data))
    return path


def _in_chunk(slot: int, at: int) -> int:
    return FILE_HEADER_SIZE + slot * CHUNK_SIZE + at


def _looping_chain(corpus: Path, folder: Path, name: str, *slots: int, also: tuple[int, ...] = ()) -> Path:
    """The security log with, in each of ``slots``, a string-table chain that loops (entry 0 -> 600 -> 600) and
    the chunk's header checksum fixed again (as a crafted log would be); ``also``: bytes to damage as well."""
    data = bytearray((corpus / "evtx" / SECURITY).read_bytes())
    for slot in slots:
        chunk = _in_chunk(slot, 0)
        struct.pack_into("<I", data, chunk + 128, 600)
        struct.pack_into("<I", data, chunk + 600, 600)
        struct.pack_into("<I", data, chunk + 124,
                         zlib.crc32(bytes(data[chunk:chunk + 120]) + bytes(data[chunk + 128:chunk + 512])))
    for offset in also:
        data[offset] ^= 0x5A
    path = folder / name
    path.write_bytes(bytes(data))
    return path


def test_what_the_package_may_loop_on_is_damage_and_damaged_records_are_not(corpus, tmp_path):
    for path in sorted((corpus / "evtx").glob("*.evtx")):
        assert not damage_in(path, read_layout(path), None), path.name
    record_byte = _damaged(corpus, tmp_path, "records.evtx", _in_chunk(5, 2000))
    assert not damage_in(record_byte, read_layout(record_byte), None)  # read in-process, the damage reported
    looping = _looping_chain(corpus, tmp_path, "loop.evtx", 5)
    layout = read_layout(looping)
    assert layout.clean_slots == layout.slots  # every checksum holds
    assert damaged_slots(looping, range(layout.slots)) == [5]
    assert damage_in(looping, layout, range(4, 7)) and not damage_in(looping, layout, range(6, 33))
    chunk_header = _damaged(corpus, tmp_path, "chunk-header.evtx", _in_chunk(3, 300))
    assert damage_in(chunk_header, read_layout(chunk_header), range(3, 4))
    file_header = _damaged(corpus, tmp_path, "file-header.evtx", 40)
    assert damage_in(file_header, read_layout(file_header), None)  # the package reads it for a whole file
    cut = tmp_path / "cut.evtx"
    cut.write_bytes((corpus / "evtx" / SECURITY).read_bytes()[:_in_chunk(9, 30000)])
    assert damage_in(cut, read_layout(cut), None)


def test_the_guard_reads_damaged_data_as_the_reader_does_in_process(corpus, tmp_path):
    path = _damaged(corpus, tmp_path, "records.evtx", _in_chunk(2, 4000), _in_chunk(20, 9000))
    layout = read_layout(path)
    in_process = EvtxFileStats(str(path))
    expected = [asdict(r) for r in iter_evtx_records(path, in_process, SELECTOR, {}, layout=layout)]
    taken = []
    with EvtxGuard(stall_seconds=30) as guard:
        read = guard.read(path, layout, None, SELECTOR, taken.append)
        again = guard.read(path, layout, range(10, 25), SELECTOR, lambda record: None)  # the same helper, a span
    assert not read.stopped and [asdict(r) for r in taken] == expected
    assert json.dumps(to_json_data(read.stats)) == json.dumps(to_json_data(in_process))
    assert 0 < again.stats.records < read.stats.records


def test_a_stalled_helper_is_stopped_and_what_it_sent_is_kept(corpus, tmp_path):
    stalls = _damaged(corpus, tmp_path, "stall.evtx", _in_chunk(1, 700))
    layout = read_layout(stalls)
    taken = []
    with EvtxGuard(stall_seconds=1.0, read_span=read_then_stall) as guard:
        started = time.monotonic()
        read = guard.read(stalls, layout, None, SELECTOR, taken.append)
        took = time.monotonic() - started
        # the next read gets a new helper and reads to the end
        fine = _damaged(corpus, tmp_path, "fine.evtx", _in_chunk(1, 700))
        after = guard.read(fine, read_layout(fine), None, SELECTOR, lambda record: None)
    assert read.stopped and len(taken) == SENT_BEFORE_TROUBLE and read.stats.records == SENT_BEFORE_TROUBLE
    assert read.stats.errors == ["the evtx package made no progress for 1 s on damaged data in the file and was "
                                 "stopped; the records after the ones read are not counted"]
    assert read.stats.damaged
    assert took < 15, took  # 1 s of silence, then the stop (a spawned helper starts in a few seconds under Wine)
    assert not after.stopped and after.stats.records > 2000


def test_a_helper_that_dies_leaves_a_partial_read_with_the_reason(corpus, tmp_path):
    path = _damaged(corpus, tmp_path, "dies.evtx", _in_chunk(1, 700))
    taken = []
    with EvtxGuard(stall_seconds=30, read_span=read_then_die) as guard:
        read = guard.read(path, read_layout(path), range(0, 4), SELECTOR, taken.append)
    assert read.stopped and len(taken) == SENT_BEFORE_TROUBLE
    assert read.stats.errors == ["the process reading damaged data in chunks 0-3 ended abruptly; the records "
                                 "after the ones read are not counted"]


def _report(folder: Path, jobs: int, stall_seconds: float) -> str:
    """`pta events --json`'s findings and results for the folder, read with a guard whose helper may stall."""
    from aadc_doctor.analysis.pta import analyse

    with EvtxGuard(stall_seconds=stall_seconds, read_span=read_then_stall) as guard:
        evidence = collect_events([str(folder)], ((), ()), jobs, guard=guard)
    findings, results = analyse(evidence, expect_agent=False)
    return json.dumps({"findings": to_json_data(findings), "results": to_json_data(results)}, sort_keys=True)


def test_pta_events_gives_the_same_report_for_any_jobs_when_the_guard_stops_a_stalled_read(corpus, tmp_path):
    """Damaged slots are cut the same way whatever --jobs is: a stall loses the same records in both."""
    folder = tmp_path / "logs"
    folder.mkdir()
    # a looping chain in chunk 7, and chunk 21's header checksum: each is a unit of its own, the rest is read
    _looping_chain(corpus, folder, "stall.evtx", 7, also=(_in_chunk(21, 500),))
    (folder / "intact.evtx").write_bytes((corpus / "evtx" / SECURITY).read_bytes())
    _looping_chain(corpus, folder, "damaged.evtx", 12)  # read through the guard, to its end
    one, two, three = (_report(folder, jobs, 1.0) for jobs in (1, 2, 3))
    assert one == two == three
    files = {Path(f["name"]).name: f for f in json.loads(one)["results"]["files"]}
    stalled = files["stall.evtx"]
    assert stalled["damaged"] and stalled["error_count"] == 2
    assert [e.split(" and was stopped")[0] for e in stalled["errors"]] == [
        "the evtx package made no progress for 1 s on damaged data in chunk 7",
        "the evtx package made no progress for 1 s on damaged data in chunk 21"]
    assert 0 < stalled["records"] < stalled["expected_records"]  # the intact slots around them were read
    assert not files["intact.evtx"]["damaged"] and files["intact.evtx"]["records"] == 2261
    assert files["damaged.evtx"]["records"] == 2261  # its damaged slot was read by the guard's helper, in full


def test_a_log_the_evtx_package_loops_on_is_stopped_and_reported_damaged(corpus, tmp_path):
    """The real package, looping in native code on a real damaged chunk: pta's reading ends, the file is damaged."""
    spins = write_spinning_evtx(corpus, tmp_path / "spins.evtx")
    assert damage_in(spins, read_layout(spins), None)
    started = time.monotonic()
    with EvtxGuard(stall_seconds=2.0) as guard:
        evidence = collect_events([str(spins)], ((), ()), 1, guard=guard)
    took = time.monotonic() - started
    (entry,) = evidence.files
    assert entry.damaged
    assert entry.errors[-1].startswith("the evtx package made no progress for 2 s on damaged data in chunk 0 and")
    assert took < 20, took


def test_a_crafted_log_whose_checksums_hold_is_caught_by_its_looping_string_chain(corpus, tmp_path):
    """Checksums catch accidents; the chain check catches the loop itself, however the log was made."""
    crafted = write_spinning_evtx(corpus, tmp_path / "crafted.evtx", fix_checksums=True)
    layout = read_layout(crafted)
    assert layout.clean_slots == 1 and layout.header_intact  # every checksum holds
    assert damaged_slots(crafted, range(1)) == [0]
    with EvtxGuard(stall_seconds=1.0) as guard:
        evidence = collect_events([str(crafted)], ((), ()), 1, guard=guard)
    (entry,) = evidence.files
    assert list(entry.errors) == ["the evtx package made no progress for 1 s on damaged data in chunk 0 and was "
                                  "stopped; the records after the ones read are not counted"]


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="the fork start method (Linux)")
def test_the_guards_helper_leaves_when_the_main_process_dies_abruptly(corpus, tmp_path):
    """A forked helper closes its copy of our end of the pipe: our death (no clean-up at all) ends its wait."""
    from tests.infra.procs import all_gone

    script = ("import os, sys\nfrom pathlib import Path\nfrom aadc_doctor.logs.evtx_guard import EvtxGuard\n"
              "from aadc_doctor.logs.evtx_reader import RecordSelector, read_layout\n"
              "path = Path(sys.argv[1]); guard = EvtxGuard()\n"
              "guard.read(path, read_layout(path), range(0, 1), RecordSelector(), lambda record: None)\n"
              "print(guard._process.pid, guard._process._popen.method, flush=True)\nos._exit(0)\n")
    done = subprocess.run([sys.executable, "-c", script, str(corpus / "evtx" / SECURITY)], capture_output=True,
                          text=True, timeout=60, check=False)
    pid, method = done.stdout.split()
    assert method == "fork", done.stderr
    deadline = time.monotonic() + 10
    while not all_gone([pid]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all_gone([pid]), "the guard's helper outlived the main process"
