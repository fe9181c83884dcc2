"""PTA trace-log parser: both agent generations, multi-line entries, encodings, rotation, zip, junk."""

from __future__ import annotations

import importlib.util
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aadc_doctor.errors import InputError
from aadc_doctor.logs.pta_trace import (
    TraceFileStats,
    TraceParser,
    collect_sources,
    failed_sign_in,
    order_sources,
    parse_trace_time,
    read_source,
)

_spec = importlib.util.spec_from_file_location("tracegen", Path(__file__).parents[2] / "fixtures/pta/tracegen.py")
assert _spec and _spec.loader
tg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tg)


def _read(path: Path) -> tuple[list, TraceFileStats]:
    [source] = collect_sources([str(path)])
    stats = TraceFileStats(source.name)
    return list(read_source(source, stats)), stats


@pytest.mark.parametrize(("name", "exe"), [
    ("msdocs_pta_agent_trace_example.log", "AzureADConnectAuthenticationAgentService.exe"),
    ("msdocs_pta_connector_trace_example_legacy.log", "ApplicationProxyConnectorService.exe"),
])
def test_the_published_examples_of_both_generations(corpus, name, exe):
    entries, stats = _read(corpus / "logs" / "pta" / name)
    assert len(entries) == 1 and stats.bad_lines == 0
    failure = failed_sign_in(entries[0])
    assert failure is not None
    assert (failure.agent, failure.request_id, failure.reason) == (exe, "df63f4a4-68b9-44ae-8d81-6ad2d844d84e", 1328)
    assert failure.thread_id == 5
    assert failure.time is None  # the doc's DateTime is a placeholder (xxxx-xx-xx...)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-8-sig"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_multiline_entries_in_each_encoding(tmp_path, encoding, newline):
    text = (tg.failure_entry(tg.CURRENT_EXE, tg.request_id(1), 1909, tg.T0)
            + tg.other_entry(tg.CURRENT_EXE, "Error", "Bootstrap failed: System.Net.WebException: The remote name "
                             "could not be resolved\nSystem.Net.WebException: inner line two", tg.T0 + timedelta(1),
                             full_fields=True)
            + tg.failure_entry(tg.CURRENT_EXE, tg.request_id(2), 1311, tg.T0 + timedelta(2), thread=9))
    path = tg.write_trace(tmp_path / "trace.log", "garbage before any entry\n" + text, encoding, newline)
    entries, stats = _read(path)
    assert [e.level for e in entries] == ["Error", "Error", "Error"]
    assert stats.bad_lines == 1 and stats.entries == 3
    assert entries[1].message.splitlines()[1] == "System.Net.WebException: inner line two"
    assert entries[1].process_id == 4312
    assert "TraceSource.TraceEvent" in entries[1].callstack
    assert entries[2].thread_id == 9
    assert failed_sign_in(entries[2]).reason == 1311
    assert entries[0].time == tg.T0


def test_dotnet_seven_digit_fractions_and_placeholders():
    assert parse_trace_time("2024-03-05T08:00:00.1234567Z") == datetime(2024, 3, 5, 8, 0, 0, 123456, tzinfo=UTC)
    assert parse_trace_time("xxxx-xx-xxTxx:xx:xx.xxxxxxZ") is None
    assert parse_trace_time("not a time") is None


def test_rotated_files_are_read_oldest_first(tmp_path):
    # the newer file sorts first by name: order must come from the DateTime inside
    tg.write_trace(tmp_path / "a_trace.log", tg.failure_entry(tg.CURRENT_EXE, tg.request_id(2), 1326,
                                                              tg.T0 + timedelta(days=1)))
    tg.write_trace(tmp_path / "b_trace.log", tg.failure_entry(tg.CURRENT_EXE, tg.request_id(1), 1326, tg.T0),
                   "utf-16")
    ordered = order_sources(collect_sources([str(tmp_path)]))
    assert [Path(s.name).name for s in ordered] == ["b_trace.log", "a_trace.log"]


def _split_rotation(tmp_path: Path, second_top: str) -> list:
    """Two rotated files: the first ends with a failure header whose fields start the second file."""
    cut = tg.failure_entry(tg.CURRENT_EXE, tg.request_id(2), 1328, tg.T0 + timedelta(minutes=5))
    header, fields = cut.split("\n", 1)
    tg.write_trace(tmp_path / "a.log", tg.failure_entry(tg.CURRENT_EXE, tg.request_id(1), 1328, tg.T0) + header + "\n")
    tg.write_trace(tmp_path / "b.log", (fields if second_top == "fields" else "") + tg.failure_entry(
        tg.CURRENT_EXE, tg.request_id(3), 1328, tg.T0 + timedelta(minutes=10)), "utf-16")
    parser = TraceParser()
    entries, all_stats = [], []
    for source in order_sources(collect_sources([str(tmp_path)])):
        stats = TraceFileStats(Path(source.name).name)
        all_stats.append(stats)
        entries.extend(read_source(source, stats, parser))
    entries.extend(parser.finish())
    return [entries, all_stats]


def test_an_entry_cut_by_rotation_takes_its_fields_from_the_next_file(tmp_path):
    entries, (first, second) = _split_rotation(tmp_path, "fields")
    assert [failed_sign_in(e).request_id for e in entries] == [tg.request_id(n) for n in (1, 2, 3)]
    assert [e.time for e in entries] == [tg.T0 + timedelta(minutes=m) for m in (0, 5, 10)]
    assert (entries[1].file, entries[1].thread_id) == ("a.log", 5)
    assert (first.entries, first.bad_lines, first.last_time) == (2, 0, tg.T0 + timedelta(minutes=5))
    assert (second.entries, second.bad_lines, second.lines) == (1, 0, 5)


def test_a_complete_last_entry_is_not_extended_by_the_next_file(tmp_path):
    entries, _ = _split_rotation(tmp_path, "header")
    assert [e.time for e in entries] == [tg.T0, None, tg.T0 + timedelta(minutes=10)]
    # lines at the top of a file that repeat fields the previous entry has are unreadable, not a continuation
    tg.write_trace(tmp_path / "b.log", "    DateTime=2024-03-05T09:00:00.0000000Z\n" + tg.failure_entry(
        tg.CURRENT_EXE, tg.request_id(3), 1328, tg.T0 + timedelta(minutes=10)))
    tg.write_trace(tmp_path / "a.log", tg.failure_entry(tg.CURRENT_EXE, tg.request_id(1), 1328, tg.T0))
    parser = TraceParser()
    stats = [TraceFileStats("a"), TraceFileStats("b")]
    entries = [*read_source(collect_sources([str(tmp_path / "a.log")])[0], stats[0], parser),
               *read_source(collect_sources([str(tmp_path / "b.log")])[0], stats[1], parser), *parser.finish()]
    assert [e.time for e in entries] == [tg.T0, tg.T0 + timedelta(minutes=10)]
    assert stats[1].bad_lines == 1


def test_zip_of_a_trace_folder(tmp_path):
    folder = tmp_path / "Trace"
    folder.mkdir()
    tg.write_trace(folder / "one.log", tg.failure_entry(tg.LEGACY_EXE, tg.request_id(1), 1328, tg.T0, indent="\t    "))
    archive = tmp_path / "trace.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(folder / "one.log", "Trace/one.log")
        zf.writestr("Trace/readme.md", "not a log")
    sources = collect_sources([str(archive)])
    assert [s.name for s in sources] == [f"{archive}!Trace/one.log"]
    stats = TraceFileStats(sources[0].name)
    [entry] = list(read_source(sources[0], stats))
    assert failed_sign_in(entry).reason == 1328


def test_binary_junk_is_an_input_error(tmp_path):
    junk = tmp_path / "trace.log"
    junk.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InputError, match="binary file"):
        _read(junk)


def test_a_file_of_nul_bytes_is_named_as_such(tmp_path):
    crashed = tmp_path / "AzureADConnectAuthenticationAgent_3.log"
    crashed.write_bytes(bytes(70000))
    with pytest.raises(InputError, match="only NUL bytes"):
        _read(crashed)


def test_missing_path_and_empty_folder_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        collect_sources([str(tmp_path / "nope")])
    with pytest.raises(InputError, match="no trace logs"):
        collect_sources([str(tmp_path)])


# ---- the shared text reader (logs/text_input.py) that the trace parser stands on -------------------

def test_text_reader_handles_gzip_bom_less_utf16_ansi_and_huge_lines(tmp_path):
    import gzip

    from aadc_doctor.logs.text_input import TextStats, read_text_lines

    cases = {
        "a.log.gz": (gzip.compress(b"one\r\ntwo\n"), ["one", "two"], "utf-8"),
        "b.log": ("héllo\r\nwörld\r\n".encode("utf-16-le"), ["héllo", "wörld"], "utf-16-le"),
        "c.log": ("café\nx\n".encode("cp1252"), ["café", "x"], "cp1252"),
        "d.log": (b"x" * 3_000_000 + b"\nnext\n", None, "utf-8"),
    }
    for name, (data, expected, encoding) in cases.items():
        (tmp_path / name).write_bytes(data)
        stats = TextStats()
        lines = list(read_text_lines(tmp_path / name, stats))
        assert stats.encoding == encoding, name
        if expected is not None:
            assert lines == expected, name
    assert stats.truncated_lines == 1 and lines[1] == "next"


def test_text_reader_reports_a_truncated_gzip(tmp_path):
    import gzip
    import os

    from aadc_doctor.logs.text_input import TextStats, read_text_lines

    path = tmp_path / "cut.log.gz"
    whole = gzip.compress(os.urandom(200_000).hex().encode())
    path.write_bytes(whole[:12])  # the header and nothing of the data
    with pytest.raises(InputError, match="damaged or truncated"):
        list(read_text_lines(path))
    path.write_bytes(whole[:5000])  # part of the one long line: read, and said to be cut
    stats = TextStats()
    [line] = list(read_text_lines(path, stats))
    assert 5000 < len(line) < 400_000 and "ends early" in stats.cut_short


def test_a_gzip_cut_after_some_lines_yields_them_and_says_where_it_stops(tmp_path):
    import gzip

    from aadc_doctor.logs.text_input import TextStats, read_text_lines

    path = tmp_path / "cut.log.gz"
    whole = gzip.compress("".join(f"line {i} {'x' * (i % 50)}\n" for i in range(50_000)).encode())
    path.write_bytes(whole[:len(whole) // 2])
    stats = TextStats()
    lines = list(read_text_lines(path, stats))
    assert 10_000 < len(lines) < 50_000 and stats.lines == len(lines)
    assert lines[:2] == ["line 0 ", "line 1 x"]
    assert f"after line {len(lines)}" in stats.cut_short and "ends early" in stats.cut_short
