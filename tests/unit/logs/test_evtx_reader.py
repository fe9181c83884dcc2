""".evtx reader on the real corpus files: every record counted, damage found, non-evtx refused."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from aadc_doctor.errors import InputError
from aadc_doctor.logs.evtx_reader import (
    CHUNK_SIZE,
    FILE_HEADER_SIZE,
    EvtxFileStats,
    RecordSelector,
    iter_evtx_records,
    read_layout,
)


def _index(corpus) -> dict[str, Counter[int]]:
    expected: dict[str, Counter[int]] = {}
    with open(corpus / "evtx" / "event_index.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            expected.setdefault(row["file"], Counter())[int(row["event_id"])] = int(row["count"])
    return expected


def test_event_counts_match_the_corpus_index(corpus):
    for name, expected in _index(corpus).items():
        path = corpus / "evtx" / name
        stats = EvtxFileStats(name)
        counts: dict[int, int] = {}
        parsed = list(iter_evtx_records(path, stats, RecordSelector(ids=frozenset({4625})), counts))
        assert Counter(counts) == expected, name
        assert stats.records == sum(expected.values()) == stats.expected_records, name
        assert not stats.damaged
        assert len(parsed) == expected.get(4625, 0)


def test_a_truncated_file_reports_what_could_be_read(corpus, tmp_path):
    data = (corpus / "evtx" / "omerbenamram-evtx_security.evtx").read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[:FILE_HEADER_SIZE + 3 * CHUNK_SIZE + 20000])  # three whole chunks, then mid-chunk
    layout = read_layout(cut)
    assert layout.chunks == 3 and layout.truncated_bytes == 20000
    stats = EvtxFileStats(str(cut))
    list(iter_evtx_records(cut, stats, RecordSelector()))
    assert stats.damaged
    assert 0 < stats.records < stats.expected_records
    assert "ends inside a chunk" in stats.errors[0]


def test_the_records_of_a_cut_short_last_chunk_are_read_up_to_the_cut(corpus, tmp_path):
    """The evtx package drops a chunk cut short at the end of a file; its records before the cut were lost."""
    data = (corpus / "evtx" / "omerbenamram-evtx_security.evtx").read_bytes()
    whole_chunks = tmp_path / "three.evtx"
    whole_chunks.write_bytes(data[:FILE_HEADER_SIZE + 3 * CHUNK_SIZE])
    in_three = read_layout(whole_chunks).expected_records
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[:FILE_HEADER_SIZE + 3 * CHUNK_SIZE + 30000])
    stats = EvtxFileStats(str(cut))
    ids = [r.record_id for r in iter_evtx_records(cut, stats, RecordSelector(channel_prefixes=("",)))]
    assert in_three < stats.records < stats.expected_records
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # every record up to the cut, none twice
    assert "up to the cut were read" in stats.errors[0]
    assert cut.stat().st_size == FILE_HEADER_SIZE + 3 * CHUNK_SIZE + 30000  # the user's file is not changed


def test_a_corrupt_chunk_is_counted_and_reading_goes_on(corpus, tmp_path):
    data = bytearray((corpus / "evtx" / "omerbenamram-evtx_security.evtx").read_bytes())
    start = FILE_HEADER_SIZE + 2 * CHUNK_SIZE + 600
    data[start:start + 300] = b"\xff" * 300
    bad = tmp_path / "corrupt.evtx"
    bad.write_bytes(bytes(data))
    stats = EvtxFileStats(str(bad))
    list(iter_evtx_records(bad, stats, RecordSelector()))
    assert stats.errors and stats.records > 2000
    assert stats.records < (stats.expected_records or 0)


@pytest.mark.parametrize("content", [b"", b"hello world" * 100, b"ElfFile\x00"])
def test_not_an_evtx_is_an_input_error(tmp_path, content):
    path = tmp_path / "x.evtx"
    path.write_bytes(content)
    with pytest.raises(InputError):
        list(iter_evtx_records(path, EvtxFileStats(str(path)), RecordSelector(channel_prefixes=("",))))


def test_the_selector_decides_which_records_are_parsed(corpus):
    path = corpus / "evtx" / "e2m_ID4625_bruteforce_valid_users.evtx"  # 4624×2, 4625×5, 4648×2, 4688×2

    def ids(selector: RecordSelector) -> Counter[int]:
        return Counter(r.event_id for r in iter_evtx_records(path, EvtxFileStats(str(path)), selector))

    assert ids(RecordSelector()) == Counter()
    assert ids(RecordSelector(ids=frozenset({4625}))) == Counter({4625: 5})
    # the 4624s and 4648s all name C:\Program Files\OpenSSH-Win64\sshd.exe as ProcessName
    assert ids(RecordSelector(checked_ids=frozenset({4624, 4648}), process_names=("sshd.exe",))) == Counter(
        {4624: 2, 4648: 2})
    assert ids(RecordSelector(checked_ids=frozenset({4648}), process_names=("lsass.exe", "openssh-win64\\sshd.exe"))
               ) == Counter({4648: 2})
    assert ids(RecordSelector(checked_ids=frozenset({4624, 4648}), process_names=("ssh.exe",))) == Counter()
    assert ids(RecordSelector(channel_prefixes=("Secu",))) == Counter({4624: 2, 4625: 5, 4648: 2, 4688: 2})
    assert ids(RecordSelector(channel_prefixes=("Microsoft-AzureADConnect-",))) == Counter()


def test_a_file_cut_at_a_chunk_boundary_is_damaged_too(corpus, tmp_path):
    data = (corpus / "evtx" / "omerbenamram-evtx_Security_with_size_t.evtx").read_bytes()  # header: 6 chunks
    for kept, name in ((FILE_HEADER_SIZE, "header_only.evtx"), (FILE_HEADER_SIZE + 2 * CHUNK_SIZE, "two_chunks.evtx")):
        cut = tmp_path / name
        cut.write_bytes(data[:kept])
        stats = EvtxFileStats(str(cut))
        list(iter_evtx_records(cut, stats, RecordSelector()))
        assert stats.damaged and stats.truncated_bytes == 0, name
        assert "the file header lists 6 chunks of records but the file holds" in stats.errors[0], name
    whole = EvtxFileStats("whole")
    list(iter_evtx_records(corpus / "evtx" / "omerbenamram-evtx_Security_with_size_t.evtx", whole, RecordSelector()))
    assert not whole.damaged


def test_unless_skips_records_holding_the_marker(corpus):
    success = '<Data Name="Status">0x0</Data>'

    def parsed(name: str, selector: RecordSelector) -> int:
        path = corpus / "evtx" / name
        counts: dict[int, int] = {}
        records = list(iter_evtx_records(path, EvtxFileStats(name), selector, counts))
        assert counts[4776] > 0  # every record is still counted
        return sum(1 for r in records if r.event_id == 4776)

    every = RecordSelector(ids=frozenset({4776}))
    failures_only = RecordSelector(ids=frozenset({4776}), unless=((4776, success),))
    assert parsed("omerbenamram-evtx_Security_with_size_t.evtx", every) == 21  # all with Status 0x0
    assert parsed("omerbenamram-evtx_Security_with_size_t.evtx", failures_only) == 0
    assert parsed("omerbenamram-evtx_Security_short_selected.evtx", failures_only) == 1  # 0xc000006a
