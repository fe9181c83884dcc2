"""`pta`'s per-file facts are typed (``results.pta.FileRead``) and their JSON is the contract's, key for key.

The readers' own stats classes (``EvtxFileStats``, ``TraceFileStats``) gave the JSON before the files were typed;
each typed entry must give exactly their JSON (same keys, same order), survive pickling (worker processes) and
keep its type when `analyze` makes its paths relative.
"""

from __future__ import annotations

import gzip
import pickle
import shutil
from pathlib import Path

import pytest
from tests.fixtures.pta import tracegen as tg

from aadc_doctor.analysis.pta import PtaEvidence, analyse
from aadc_doctor.analyze.run import AnalyserRun, _relative
from aadc_doctor.errors import InputError
from aadc_doctor.json_data import to_json_data
from aadc_doctor.logs.evtx_reader import EvtxFileStats, RecordSelector, iter_evtx_records
from aadc_doctor.logs.pta_event_logs import collect_events
from aadc_doctor.logs.pta_trace import TraceFileStats, collect_sources, read_source
from aadc_doctor.logs.pta_trace_reader import collect_trace
from aadc_doctor.results.pta import EvtxFileRead, PtaResults, SkippedFile, TraceFileRead, XmlFileRead

EVTX = "e2m_ID4625_account_restriction.evtx"
DAMAGED_FROM = "omerbenamram-evtx_security.evtx"


def _events_folder(tmp_path: Path, corpus: Path) -> Path:
    """An .evtx, a damaged (cut) .evtx, an XML export cut short and a stray config file, in one folder."""
    folder = tmp_path / "events"
    folder.mkdir()
    shutil.copyfile(corpus / "evtx" / EVTX, folder / "a_Security.evtx")
    data = (corpus / "evtx" / DAMAGED_FROM).read_bytes()
    (folder / "b_cut.evtx").write_bytes(data[: len(data) // 2 + 12345])
    events = [tg.failed_logon(tg.T0 + tg.minutes(i), f"u{i}", "0xc000006d", "0xc000006a", record_id=i + 1)
              for i in range(30)]
    document = tg.events_document(events).encode()
    (folder / "c_export.xml").write_bytes(document[: len(document) * 2 // 3])
    (folder / "d_TrustSettings.xml").write_text('<?xml version="1.0"?><ConnectorTrustSettingsFile/>')
    return folder


def _whole_file_stats(path: Path) -> EvtxFileStats:
    """The reader's own figures for a file read in one go: what the JSON was built from before."""
    stats = EvtxFileStats(str(path))
    for _ in iter_evtx_records(path, stats, RecordSelector(ids=frozenset({4625}))):
        pass
    return stats


@pytest.mark.parametrize("jobs", [1, 2])
def test_event_files_are_typed_and_give_the_readers_json(tmp_path, corpus, jobs):
    folder = _events_folder(tmp_path, corpus)
    evidence = collect_events([str(folder)], ((), ()), jobs)
    assert [type(f) for f in evidence.files] == [EvtxFileRead, EvtxFileRead, XmlFileRead, SkippedFile]
    good, cut, export, stray = evidence.files
    for entry in (good, cut):
        assert isinstance(entry, EvtxFileRead)
        reference = to_json_data(_whole_file_stats(Path(entry.name)))
        assert list(to_json_data(entry).items()) == list(reference.items())  # keys, order and values
    assert isinstance(good, EvtxFileRead) and isinstance(cut, EvtxFileRead)
    assert cut.damaged and not good.damaged
    assert evidence.damaged == [cut]
    assert isinstance(export, XmlFileRead) and export.cut_short
    assert list(to_json_data(export)) == ["name", "format", "records", "bad", "cut_short"]
    assert to_json_data(export)["format"] == "xml"
    assert to_json_data(stray) == {"format": "skipped", "name": str(folder / "d_TrustSettings.xml"),
                                   "reason": f"{folder / 'd_TrustSettings.xml'}: neither an .evtx file nor an "
                                             "Event Viewer XML export"}
    whole = to_json_data(XmlFileRead("x.xml", 3, 0))
    assert whole == {"name": "x.xml", "format": "xml", "records": 3, "bad": 0}  # no cut_short key when whole


def test_trace_files_are_typed_and_give_the_readers_json(tmp_path):
    folder = tmp_path / "Trace"
    folder.mkdir()
    text = "".join(tg.failure_entry(tg.CURRENT_EXE, tg.request_id(i), 1326, tg.T0 + tg.minutes(i)) for i in range(6))
    tg.write_trace(folder / "AzureADConnectAuthenticationAgent_1.log", text, "utf-16", "\r\n")
    (folder / "AzureADConnectAuthenticationAgent_2.log.gz").write_bytes(gzip.compress(text.encode())[:-30])
    (folder / "AzureADConnectAuthenticationAgent_3.log").write_bytes(bytes(4096))  # a crash's NUL bytes
    evidence = PtaEvidence()
    collect_trace([str(folder)], evidence)
    assert [type(f) for f in evidence.files] == [TraceFileRead, TraceFileRead, SkippedFile]
    for entry in evidence.files[:2]:
        assert isinstance(entry, TraceFileRead)
        [source] = collect_sources([entry.name])
        stats = TraceFileStats(source.name)
        for _ in read_source(source, stats):
            pass
        assert list(to_json_data(entry).items()) == list({"format": "trace", **to_json_data(stats)}.items())
    utf16, gz, _ = evidence.files
    assert isinstance(gz, TraceFileRead) and gz.cut_short and isinstance(utf16, TraceFileRead)
    assert to_json_data(utf16)["cut_short"] is None  # null, not "", for a whole file
    findings, results = analyse(evidence, expect_agent=True)
    assert "trace-file-cut-short" in {f.id for f in findings} and results.files == tuple(evidence.files)


def test_file_entries_pickle_and_stay_typed_when_analyze_makes_paths_relative(tmp_path, corpus):
    folder = _events_folder(tmp_path, corpus)
    evidence = collect_events([str(folder)], ((), ()), 1)
    assert pickle.loads(pickle.dumps(evidence)).files == evidence.files
    findings, results = analyse(evidence, expect_agent=False)
    assert {"evtx-damaged", "event-xml-cut-short", "event-file-skipped"} <= {f.id for f in findings}
    run = _relative(AnalyserRun("pta", "ok", results=results), tmp_path)
    assert isinstance(run.results, PtaResults)
    assert [type(f) for f in run.results.files] == [type(f) for f in results.files]
    # relative to the input root, with this system's separator ('\\' on Windows)
    names = [f.name.replace("\\", "/") for f in run.results.files]
    assert names == ["events/a_Security.evtx", "events/b_cut.evtx", "events/c_export.xml", "events/d_TrustSettings.xml"]
    stray = run.results.files[3]
    assert isinstance(stray, SkippedFile) and stray.reason.replace("\\", "/").startswith("events/d_TrustSettings.xml: ")


def test_a_named_file_that_cannot_be_read_leaves_the_files_read_before_it_listed(tmp_path):
    """`analyze` names each trace file and goes on after an InputError: the report lists what was read."""
    text = "".join(tg.failure_entry(tg.CURRENT_EXE, tg.request_id(i), 1326, tg.T0 + tg.minutes(i)) for i in range(4))
    good = tg.write_trace(tmp_path / "AzureADConnectAuthenticationAgent_1.log", text)
    crashed = tmp_path / "AzureADConnectAuthenticationAgent_2.log"
    crashed.write_bytes(bytes(4096))
    evidence = PtaEvidence()
    with pytest.raises(InputError, match="only NUL bytes"):
        collect_trace([str(good), str(crashed)], evidence)
    [entry] = evidence.files
    assert isinstance(entry, TraceFileRead) and entry.name == str(good) and entry.entries == 4
    assert evidence.trace_entries == 4 and evidence.agents_seen == {tg.CURRENT_EXE}  # the last entry too
    _, results = analyse(evidence, expect_agent=True)
    assert results.summary.failed == 4 and to_json_data(results.files)[0]["format"] == "trace"
