"""`pta events` on several processes: a large .evtx read in chunk slices gives the report one process gives.

The slices are planned from file sizes alone, so every kind of damage a slice boundary can meet is tried
on a real 33-chunk Security log: cut mid-chunk, cut at a chunk boundary, pre-allocated empty space, a chunk
whose signature is gone, a chunk with garbage inside.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from tests.infra.procs import all_gone, wait_for_children

from aadc_doctor import parallel
from aadc_doctor.errors import ExitCode
from aadc_doctor.logs import pta_event_logs
from aadc_doctor.logs.evtx_reader import CHUNK_SIZE, FILE_HEADER_SIZE, read_layout
from aadc_doctor.logs.pta_event_logs import LogFile, find_files, plan_tasks

BIG = "omerbenamram-evtx_security.evtx"  # 33 chunks, 2,261 records


def _report(run_cli, files: list[Path], jobs: int) -> dict:
    result = run_cli("pta", "events", *map(str, files), "--jobs", str(jobs), "--json")
    assert result.code in (ExitCode.OK, ExitCode.PROBLEMS_FOUND), result.stderr
    report = result.json()
    return {"results": report["results"], "findings": report["findings"]}


def _variants(corpus: Path, folder: Path) -> list[Path]:
    data = (corpus / "evtx" / BIG).read_bytes()
    chunk = FILE_HEADER_SIZE + 10 * CHUNK_SIZE
    variants = {
        "whole.evtx": data,
        "cut_mid_chunk.evtx": data[:FILE_HEADER_SIZE + 20 * CHUNK_SIZE + 30000],
        "cut_at_chunk.evtx": data[:FILE_HEADER_SIZE + 20 * CHUNK_SIZE],
        "preallocated.evtx": data + bytes(6 * CHUNK_SIZE),
        "signature_gone.evtx": data[:chunk] + b"XXXXXXXX" + data[chunk + 8:],
        "garbage_inside.evtx": data[:chunk + 900] + b"\xff" * 400 + data[chunk + 1300:],
        "header_damaged.evtx": data[:chunk + 40] + b"\xff" * 8 + data[chunk + 48:],  # its CRC no longer holds
        "gap_of_unused_slots.evtx": data[:chunk] + bytes(3 * CHUNK_SIZE) + data[chunk:],
        # the walk stops at garbage; a cut-short chunk after it is dropped, as the package drops it from the file
        "garbage_then_cut_chunk.evtx": data[:chunk] + b"\x01" * CHUNK_SIZE + data[chunk + CHUNK_SIZE:
                                                                                 chunk + 5 * CHUNK_SIZE + 40000],
        "garbage_tail_cut.evtx": data + b"\x01" * (CHUNK_SIZE + 300),
    }
    paths = []
    for name, content in variants.items():
        path = folder / name
        path.write_bytes(content)
        paths.append(path)
    return paths


def test_the_plan_really_cuts_a_large_log_into_slices(corpus):
    assert read_layout(corpus / "evtx" / BIG).clean_slots == 33  # every chunk header intact: any slice will do
    logs = find_files([str(corpus / "evtx" / BIG)])
    tasks = plan_tasks(logs, 3)
    spans = [piece.span for task in tasks for piece in task]
    assert len(tasks) > 1 and all(span is not None for span in spans)
    assert sum(span[1] for span in spans if span) == 33  # every slot once
    assert plan_tasks(logs, 1) == [[tasks[0][0].__class__(0, logs[0].name)]]  # one process: the file whole


def test_slices_follow_the_files_in_order_and_small_files_stay_whole():
    logs = [LogFile("a.evtx", FILE_HEADER_SIZE + CHUNK_SIZE, False),
            LogFile("b.evtx", FILE_HEADER_SIZE + 200 * CHUNK_SIZE, False),
            LogFile("c.xml", 50 * CHUNK_SIZE, False), LogFile("d.evtx", FILE_HEADER_SIZE + 3 * CHUNK_SIZE, False)]
    tasks = plan_tasks(logs, 2)
    pieces = [piece for task in tasks for piece in task]
    assert [p.file_index for p in pieces] == sorted(p.file_index for p in pieces)
    assert [p.span for p in pieces if p.file_index == 0] == [None]
    assert [p.span for p in pieces if p.file_index == 2] == [None]  # an XML export is never cut
    b_spans = [p.span for p in pieces if p.file_index == 1]
    assert len(b_spans) > 1 and b_spans[0] is not None and b_spans[0][0] == 0
    assert sum(span[1] for span in b_spans if span) == 200
    assert len(tasks) <= 2 * 4 + 1


class _TasksReadHere:
    """Counts the tasks this process reads itself (a helper's count stays in the helper), optionally slowly."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, delay: float = 0.0) -> None:
        self.count = 0
        self._read = pta_event_logs.read_pieces
        self._delay = delay
        monkeypatch.setattr(pta_event_logs, "read_pieces", self)

    def __call__(self, pieces, matcher):
        self.count += 1
        time.sleep(self._delay)
        return self._read(pieces, matcher)


def test_a_large_log_read_in_slices_gives_the_same_report(corpus, tmp_path, run_cli, monkeypatch):
    files = [*sorted((corpus / "evtx").glob("*.evtx")), *_variants(corpus, tmp_path)]
    serial = _report(run_cli, files, 1)
    for jobs in (2, 3):
        here = _TasksReadHere(monkeypatch)
        assert _report(run_cli, files, jobs) == serial, jobs
        tasks = plan_tasks(find_files(list(map(str, files))), jobs)
        assert 0 < here.count < len(tasks), (jobs, here.count, len(tasks))  # helpers read the rest
    by_name = {Path(f["name"]).name: f for f in serial["results"]["files"]}
    assert by_name["whole.evtx"]["records"] == 2261 and not by_name["whole.evtx"]["damaged"]
    assert by_name["preallocated.evtx"]["records"] == 2261 and not by_name["preallocated.evtx"]["damaged"]
    for damaged in ("cut_mid_chunk.evtx", "cut_at_chunk.evtx"):
        assert by_name[damaged]["damaged"] and 0 < by_name[damaged]["records"] < 2261, damaged
    assert read_layout(tmp_path / "signature_gone.evtx").clean_slots == 10  # where slices must stop
    assert read_layout(tmp_path / "header_damaged.evtx").clean_slots == 10
    assert read_layout(tmp_path / "gap_of_unused_slots.evtx").clean_slots == 36  # unused slots are no damage
    assert by_name["gap_of_unused_slots.evtx"]["records"] == 2261
    assert read_layout(tmp_path / "preallocated.evtx").clean_slots == 39
    assert "chunk number 10" in by_name["signature_gone.evtx"]["errors"][0]  # counted in the file, not the slice


def test_helpers_that_are_spawned_give_the_same_report(corpus, tmp_path, run_cli, monkeypatch):
    """As on Windows and macOS; this process reads slowly, so the spawned helper (slow to start) takes tasks."""
    files = _variants(corpus, tmp_path)[:2]
    serial = _report(run_cli, files, 1)
    monkeypatch.setattr(parallel, "cheap_start_available", lambda: False)
    here = _TasksReadHere(monkeypatch, delay=0.5)
    assert _report(run_cli, files, 2) == serial
    assert 0 < here.count < len(plan_tasks(find_files(list(map(str, files))), 2))


def test_without_helper_processes_this_process_reads_everything(corpus, tmp_path, run_cli, monkeypatch):
    files = _variants(corpus, tmp_path)[:1]
    serial = _report(run_cli, files, 1)

    def refused() -> int:
        raise OSError("fork: resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refused)
    assert _report(run_cli, files, 3) == serial


def test_a_named_file_that_is_no_event_log_is_exit_2_and_one_in_a_folder_is_skipped(corpus, tmp_path, run_cli):
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(corpus / "evtx" / BIG, folder / BIG)
    stray = folder / "settings.xml"
    stray.write_text("<configuration><appSettings/></configuration>", encoding="utf-8")
    named = run_cli("pta", "events", str(folder / BIG), str(stray), "--jobs", "3")
    assert named.code == ExitCode.USAGE_OR_INPUT
    assert "settings.xml: neither an .evtx file nor an Event Viewer XML export" in named.stderr
    report = run_cli("pta", "events", str(folder), "--jobs", "3", "--json").json()
    assert [f["format"] for f in report["results"]["files"]] == ["evtx", "skipped"]
    assert "event-file-skipped" in {f["id"] for f in report["findings"]}


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_a_missing_file_fails_before_anything_is_read(tmp_path, corpus, run_cli, jobs):
    result = run_cli("pta", "events", str(corpus / "evtx" / BIG), str(tmp_path / "gone.evtx"), "--jobs", jobs)
    assert result.code == ExitCode.USAGE_OR_INPUT
    assert result.stderr.startswith("aadc-doctor: error: ") and "gone.evtx: no such file" in result.stderr


@pytest.mark.parametrize("whole_group", [True, False], ids=["ctrl-c to the group", "sigint to the main process"])
def test_ctrl_c_mid_read_exits_130_and_leaves_no_helper_behind(corpus, tmp_path, whole_group):
    """A real SIGINT while a helper is reading a 160 MB log: 130, one line, every helper gone."""
    import signal
    import subprocess
    import sys

    data = (corpus / "evtx" / BIG).read_bytes()
    files = []
    for n in range(75):  # separate copies: the same file named twice would be read once
        path = tmp_path / f"security_{n}.evtx"
        path.write_bytes(data)
        files.append(str(path))
    proc = subprocess.Popen([sys.executable, "-m", "aadc_doctor", "pta", "events", "--json", "--jobs", "2", *files],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        helpers = wait_for_children(proc, 10)
        assert helpers, "no helper process was seen while the logs were read"
        if whole_group:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        else:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    # 130, or killed by SIGINT (which a shell also shows as 130): CPython ends a process that way when the
    # KeyboardInterrupt it handled passed through code compiled at run time (an import defining a dataclass)
    assert proc.returncode in (130, -signal.SIGINT), err
    assert err.strip() == "aadc-doctor: interrupted" and "Traceback" not in out + err
    assert all_gone(helpers)


def test_the_error_list_is_capped_per_file_and_the_count_stays_exact(corpus, tmp_path, run_cli, monkeypatch):
    """A log with more damaged chunks than the list keeps is still read to its end, with every error counted."""
    from aadc_doctor.logs import evtx_reader

    monkeypatch.setattr(evtx_reader, "MAX_ERRORS", 5)  # forked helpers inherit it
    data = (corpus / "evtx" / BIG).read_bytes()
    bad_chunk = bytearray(data[FILE_HEADER_SIZE:FILE_HEADER_SIZE + CHUNK_SIZE])
    bad_chunk[600:900] = b"\xff" * 300  # records damaged, header intact
    damaged = tmp_path / "many_bad.evtx"
    damaged.write_bytes(data[:FILE_HEADER_SIZE] + bytes(bad_chunk) * 40 + data[FILE_HEADER_SIZE:])
    serial = _report(run_cli, [damaged], 1)
    assert _report(run_cli, [damaged], 3) == serial
    [entry] = serial["results"]["files"]
    assert len(entry["errors"]) <= 5 and entry["error_count"] >= 40
    assert entry["records"] >= 2261  # the good chunks after the bad ones are read too


def test_the_last_slice_reads_on_to_the_end_the_file_has_now(corpus):
    """A log still growing while it is copied: chunks added after the plan are read by the file's last slice."""
    from aadc_doctor.logs.pta_event_logs import Piece, _spans_to_read

    layout = read_layout(corpus / "evtx" / BIG)  # 33 slots now; say the plan saw 20
    assert _spans_to_read(Piece(0, BIG, (0, 10), last=False), layout) == [range(0, 10)]
    assert _spans_to_read(Piece(0, BIG, (10, 10), last=True), layout) == [range(10, 33)]
    assert _spans_to_read(Piece(0, BIG, (30, 10), last=True), layout) == [range(30, 33)]  # or shrank


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_named_pipe_is_refused_instead_of_read_forever(tmp_path, run_cli):
    fifo = tmp_path / "Security.evtx"
    os.mkfifo(fifo)
    result = run_cli("pta", "events", str(fifo))
    assert result.code == ExitCode.USAGE_OR_INPUT
    assert "Security.evtx: not a regular file" in result.stderr


def _with_unreadable_event_id(chunk: bytes, header: bytes) -> bytes:
    """The chunk with its first record's EventID value typed as a string, so it renders as no number.

    The substitution descriptor of a UInt16 value is (size 2, type 6); typed 1 (a UTF-16 string) instead,
    the same two bytes render as one character. The descriptor that feeds EventID is found by trying.
    """
    import io
    import re
    import struct

    import evtx

    one = bytearray(header)
    struct.pack_into("<H", one, 42, 1)
    size = struct.unpack_from("<I", chunk, 516)[0]
    for found in re.finditer(re.escape(b"\x02\x00\x06\x00"), chunk[512:512 + size]):
        patched = bytearray(chunk)
        patched[512 + found.start() + 2] = 0x01
        first = next(iter(evtx.PyEvtxParser(io.BytesIO(bytes(one) + bytes(patched)), number_of_threads=1).records()))
        event_id = re.search(r"<EventID[^>]*>([^<]*)<", first["data"])
        if event_id is not None and not event_id.group(1).strip().isdigit():
            return bytes(patched)
    raise AssertionError("no EventID descriptor found in the chunk's first record")


def test_records_without_a_readable_event_id_are_reported_once_per_file(corpus, tmp_path, run_cli):
    data = bytearray((corpus / "evtx" / BIG).read_bytes())
    for slot in (3, 20, 25):  # in different slices with 2 and 3 processes
        at = FILE_HEADER_SIZE + slot * CHUNK_SIZE
        data[at:at + CHUNK_SIZE] = _with_unreadable_event_id(bytes(data[at:at + CHUNK_SIZE]), bytes(data[:4096]))
    path = tmp_path / "unreadable_ids.evtx"
    path.write_bytes(bytes(data))
    serial = _report(run_cli, [path], 1)
    for jobs in (2, 3):
        assert _report(run_cli, [path], jobs) == serial, jobs
    [entry] = serial["results"]["files"]
    assert entry["damaged"] and entry["records"] == 2261
    unreadable = [e for e in entry["errors"] if "without a readable EventID" in e]
    assert unreadable and sum(int(e.split()[0]) for e in unreadable) == 3
    assert entry["error_count"] == len(entry["errors"]) == len(unreadable)  # one line per distinct text


def test_records_the_package_skips_silently_are_reported_as_damage(corpus, tmp_path, run_cli):
    """Zeroed record data inside a chunk: the package drops those records without a word."""
    data = bytearray((corpus / "evtx" / BIG).read_bytes())
    at = FILE_HEADER_SIZE + 20 * CHUNK_SIZE + 20000
    data[at:at + 20000] = bytes(20000)
    path = tmp_path / "zeroed_inside.evtx"
    path.write_bytes(bytes(data))
    serial = _report(run_cli, [path], 1)
    assert _report(run_cli, [path], 3) == serial
    [entry] = serial["results"]["files"]
    assert entry["records"] < entry["expected_records"] == 2261
    assert entry["damaged"] and "could not be read" in entry["errors"][-1]
    assert "evtx-damaged" in {f["id"] for f in serial["findings"]}
