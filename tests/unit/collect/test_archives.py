"""Archived event logs (``Archive-<channel>-<time>.evtx``): `collect` copies those of the channels it exports, bounded
by --since and trimmed oldest first by --max-mb, lists them in the manifest, renders them to XML under --redact (or
withholds them), and `analyze` reads them like the exported logs. The archives are real corpus .evtx files."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import sys
import time
import types
import zipfile
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.server import fake_server
from tests.infra.spinning_evtx import write_spinning_evtx

from aadc_doctor.collect.archives import archive_plan
from aadc_doctor.collect.gather import CollectOptions, collect
from aadc_doctor.collect.system import FolderSystem
from aadc_doctor.commands import RunContext
from aadc_doctor.commands.collect import collect_with

LOGS = "Windows/System32/winevt/Logs"
SECURITY_ARCHIVE = "Archive-Security-2026-12-01-10-00-00-123.evtx"
ADMIN_ARCHIVE = "Archive-Microsoft-AzureADConnect-AuthenticationAgent%4Admin-2026-10-20-08-30-00-007.evtx"
OLD_SECURITY_ARCHIVE = "Archive-Security-2026-10-01-09-00-00-001.evtx"
SYSTEM_ARCHIVE = "Archive-System-2026-12-01-10-00-00-123.evtx"  # a channel collect does not export
SECURITY_SOURCE = fake_server.CORPUS / "evtx" / "e2m_ID4625_bruteforce_valid_users.evtx"  # 5 × 4625, fs01.offsec.lan
OLD_SOURCE = fake_server.CORPUS / "evtx" / "e2m_ID4625_account_restriction.evtx"  # 2 × 4625, FS03.offsec.lan
ADMIN_SOURCE = fake_server.CORPUS / "evtx" / "omerbenamram-evtx_Security_short_selected.evtx"


def _age(path: Path, days: float) -> None:
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))


def _server(root: Path) -> FolderSystem:
    """The fake server plus, in its event-log folder, archives of three exported channels, one of a channel that is
    not exported and the live Security log (which only `wevtutil epl` may read)."""
    system = fake_server.build(root, with_admin_log=False)
    logs = root / LOGS
    logs.mkdir(parents=True)
    for name, source, days in ((SECURITY_ARCHIVE, SECURITY_SOURCE, 5), (ADMIN_ARCHIVE, ADMIN_SOURCE, 20),
                               (OLD_SECURITY_ARCHIVE, OLD_SOURCE, 60), (SYSTEM_ARCHIVE, OLD_SOURCE, 1),
                               ("Security.evtx", OLD_SOURCE, 0)):
        shutil.copyfile(source, logs / name)
        _age(logs / name, days)
    return system


def _args(out: Path, **extra: object) -> argparse.Namespace:
    values = {"out": str(out), "since": None, "max_mb": 200.0, "redact": False, "no_check": True}
    values.update(extra)
    return argparse.Namespace(**values)


def _ctx() -> RunContext:
    return RunContext(json_mode=True, stdout=io.StringIO(), stderr=io.StringIO(), env={})


def _zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_file_names_give_the_channel() -> None:
    plan = archive_plan()
    assert plan.channel_of_name(SECURITY_ARCHIVE) == "Security"
    assert plan.channel_of_name(ADMIN_ARCHIVE) == "Microsoft-AzureADConnect-AuthenticationAgent/Admin"
    assert plan.channel_of_name("Microsoft-AzureADConnect-AuthenticationAgent%4Admin.evtx") == (
        "Microsoft-AzureADConnect-AuthenticationAgent/Admin")
    assert plan.channel_of_name("archive-security-2026-12-01-10-00-00-123.XML") == "security"  # redacted, any case
    assert plan.is_archive(SECURITY_ARCHIVE) and not plan.is_archive("Security.evtx")
    assert not plan.is_archive("Archive-Security-2026-12-01.evtx")  # not Windows' time stamp
    assert plan.wanted(SECURITY_ARCHIVE) and plan.wanted(ADMIN_ARCHIVE) and plan.wanted("Application.evtx")
    assert not plan.wanted(SYSTEM_ARCHIVE) and not plan.wanted("Setup.evtx") and not plan.wanted("notes.txt")


def test_archives_of_the_exported_channels_are_copied_and_listed(tmp_path: Path) -> None:
    system = _server(tmp_path / "server")
    result = collect(system, CollectOptions(), tmp_path / "c.zip")
    files = _zip(tmp_path / "c.zip")
    listed = {f["path"]: f for f in result.manifest["files"]}
    for name, source in ((SECURITY_ARCHIVE, SECURITY_SOURCE), (ADMIN_ARCHIVE, ADMIN_SOURCE),
                         (OLD_SECURITY_ARCHIVE, OLD_SOURCE)):
        entry = listed[f"{LOGS}/{name}"]
        assert entry["kind"] == "eventlog-archive"
        assert entry["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        assert files[f"{LOGS}/{name}"] == source.read_bytes()
        assert entry["source"].endswith(name)
    assert listed[f"{LOGS}/{ADMIN_ARCHIVE}"]["channel"] == "Microsoft-AzureADConnect-AuthenticationAgent/Admin"
    assert listed[f"{LOGS}/{SECURITY_ARCHIVE}"]["channel"] == "Security"
    assert f"{LOGS}/{SYSTEM_ARCHIVE}" not in files and f"{LOGS}/Security.evtx" not in files
    assert result.manifest["withheld"] == []
    assert not [g for g in result.manifest["not_collected"] if "winevt" in g["source"]]


def test_no_archive_is_listed_as_absent(tmp_path: Path) -> None:
    result = collect(fake_server.build(tmp_path / "server"), CollectOptions(), tmp_path / "c.zip")
    absent = {a["source"]: a["reason"] for a in result.manifest["absent"]}
    assert absent[r"%windir%\System32\winevt\Logs\Archive-<channel>-<time>.evtx"] == (
        "no archived log of the exported channels")


def test_since_bounds_archives_by_modification_time(tmp_path: Path) -> None:
    system = _server(tmp_path / "server")
    result = collect(system, CollectOptions(since_days=30), tmp_path / "c.zip")
    names = {f["path"] for f in result.manifest["files"]}
    assert {f"{LOGS}/{SECURITY_ARCHIVE}", f"{LOGS}/{ADMIN_ARCHIVE}"} <= names
    assert f"{LOGS}/{OLD_SECURITY_ARCHIVE}" not in names
    trimmed = {t["path"]: t["reason"] for t in result.manifest["trimmed"]}
    assert trimmed[f"{LOGS}/{OLD_SECURITY_ARCHIVE}"] == "older than --since"


def test_max_mb_trims_the_oldest_archive_first(tmp_path: Path) -> None:
    system = _server(tmp_path / "server")
    full = collect(system, CollectOptions(), tmp_path / "full.zip")
    total = sum(f["size"] for f in full.manifest["files"])
    oldest = OLD_SOURCE.stat().st_size
    trimmed = collect(system, CollectOptions(max_mb=(total - oldest / 2) / 1_048_576), tmp_path / "trim.zip")
    dropped = [t["path"] for t in trimmed.manifest["trimmed"]]
    assert dropped == [f"{LOGS}/{OLD_SECURITY_ARCHIVE}"]  # 60 days old: older than every trace and export
    assert "--max-mb" in trimmed.manifest["trimmed"][0]["reason"]
    assert f"{LOGS}/{SECURITY_ARCHIVE}" in {f["path"] for f in trimmed.manifest["files"]}


def test_redact_renders_archives_to_xml_and_leaves_no_name(tmp_path: Path) -> None:
    system = _server(tmp_path / "server")
    out = tmp_path / "red.zip"
    result = collect_with(system, _args(out, redact=True), _ctx())
    files = _zip(out)
    assert not any(n.endswith(".evtx") for n in files)
    xml = files[f"{LOGS}/{SECURITY_ARCHIVE[:-5]}.xml"].decode("utf-8")
    assert xml.count("<EventID>4625</EventID>") == 5  # every record rendered
    mapping = json.loads(Path(result.report.results.redaction_map).read_text())["mapping"]
    assert {"fs01", "offsec.lan", "admmig", "fs03"} <= set(mapping)
    everything = b"\n".join(files.values()).decode("utf-8", errors="replace")
    for original in [*mapping, "fs01", "FS03", "offsec.lan", "admmig"]:
        assert not re.search(r"(?<![\w-])" + re.escape(original) + r"(?![\w-])", everything, re.IGNORECASE), original
    manifest = json.loads(files["manifest.json"])
    entry = next(f for f in manifest["files"] if f["path"] == f"{LOGS}/{SECURITY_ARCHIVE[:-5]}.xml")
    assert "converted to Event Viewer XML" in entry["source"] and entry["channel"] == "Security"
    assert manifest["withheld"] == []


def test_redact_withholds_an_event_log_it_cannot_rewrite(tmp_path: Path) -> None:
    system = _server(tmp_path / "server")
    broken = tmp_path / "server" / LOGS / SECURITY_ARCHIVE
    broken.write_bytes(b"ElfFile\x00" + b"\xff" * 8000 + "admmig@offsec.lan".encode("utf-16-le"))
    out = tmp_path / "red.zip"
    result = collect_with(system, _args(out, redact=True), _ctx())
    files = _zip(out)
    stem = f"{LOGS}/{SECURITY_ARCHIVE[:-5]}"
    assert f"{stem}.evtx" not in files and f"{stem}.xml" not in files
    assert "admmig".encode("utf-16-le") not in b"".join(files.values())
    manifest = json.loads(files["manifest.json"])
    withheld = manifest["withheld"]
    assert [w["path"] for w in withheld] == [f"{stem}.evtx"]
    assert "left out rather than shipped unredacted" in withheld[0]["reason"]
    assert any("withheld" in m for m in result.report.results.messages)
    assert f"{LOGS}/{ADMIN_ARCHIVE[:-5]}.xml" in files  # the others are still there


def test_redact_withholds_a_damaged_event_log_rather_than_risk_a_hang(tmp_path: Path) -> None:
    """A log the evtx package loops forever on (a chunk checksum fails): withheld with the reason, collect ends."""
    system = _server(tmp_path / "server")
    corpus = Path(__file__).resolve().parents[3] / "corpus"
    write_spinning_evtx(corpus, tmp_path / "server" / LOGS / SECURITY_ARCHIVE)
    out = tmp_path / "red.zip"
    started = time.monotonic()
    collect_with(system, _args(out, redact=True), _ctx())
    assert time.monotonic() - started < 60
    files = _zip(out)
    stem = f"{LOGS}/{SECURITY_ARCHIVE[:-5]}"
    assert f"{stem}.evtx" not in files and f"{stem}.xml" not in files
    (withheld,) = json.loads(files["manifest.json"])["withheld"]
    assert withheld["path"] == f"{stem}.evtx"
    assert "it holds damage the evtx package can loop forever on" in withheld["reason"]
    assert f"{LOGS}/{ADMIN_ARCHIVE[:-5]}.xml" in files  # the others are still there


def _analyze(path: Path, run_cli: Any) -> dict[str, Any]:
    result = run_cli("analyze", str(path), "--json", "--today", "2026-12-05")
    assert result.code in (0, 1), result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_analyze_reads_archives_like_the_exported_security_log(tmp_path: Path, run_cli: Any) -> None:
    """The Security archive's 4625s reach the same analysis as the exported log's: with the archives, the failures
    counted are the export's plus the archives'; from a zip and from a plain copy of the drive alike."""
    bare = tmp_path / "bare.zip"
    collect_with(fake_server.build(tmp_path / "bare", with_admin_log=False), _args(bare), _ctx())
    system = _server(tmp_path / "server")
    out = tmp_path / "case.zip"
    collect_with(system, _args(out), _ctx())

    def failures(report: dict[str, Any]) -> int:
        pta = next(r for r in report["results"]["analysers"] if r["name"] == "pta")
        return int(pta["results"]["other_failures"]["count"])

    without, with_archives = _analyze(bare, run_cli), _analyze(out, run_cli)
    # 5 (Security archive) + 2 (old Security archive) + 2 (the Admin archive: a Security sample standing in)
    assert failures(with_archives) == failures(without) + 5 + 2 + 2
    inputs = with_archives["results"]["inputs"]["event_log"]
    assert {f"{LOGS}/{SECURITY_ARCHIVE}", f"{LOGS}/{ADMIN_ARCHIVE}", f"{LOGS}/{OLD_SECURITY_ARCHIVE}"} <= set(inputs)
    finding = next(f for f in with_archives["findings"] if f["id"] == "logon-reason-1326")
    assert finding["title"].startswith(f"{failures(with_archives) - 2} failed logon(s)")  # 1326: all but FS03's

    # a plain copy of the drive: the same archives read, the channels collect does not export ignored
    plain = _analyze(tmp_path / "server", run_cli)
    plain_inputs = set(plain["results"]["inputs"]["event_log"])
    assert {f"{LOGS}/{SECURITY_ARCHIVE}", f"{LOGS}/{ADMIN_ARCHIVE}", f"{LOGS}/Security.evtx"} <= plain_inputs
    assert f"{LOGS}/{SYSTEM_ARCHIVE}" not in plain_inputs


@pytest.mark.parametrize("redact", [False, True])
def test_analyze_of_a_redacted_collection_reads_the_archives_too(tmp_path: Path, run_cli: Any, redact: bool) -> None:
    out = tmp_path / "case.zip"
    collect_with(_server(tmp_path / "server"), _args(out, redact=redact), _ctx())
    report = _analyze(out, run_cli)
    suffix = ".xml" if redact else ".evtx"
    assert f"{LOGS}/{SECURITY_ARCHIVE[:-5]}{suffix}" in report["results"]["inputs"]["event_log"]
    assert "logon-reason-1326" in {f["id"] for f in report["findings"]}


class _StubRecords:
    """Stands in for evtx's record iterator: a record with a <Binary> payload, a damaged chunk (the package raises,
    then goes on with the next chunk), one more record."""

    def __init__(self) -> None:
        binary = "admmig".encode("utf-16-le").hex().upper()
        self.items: list[Any] = [
            {"data": '<?xml version="1.0"?>\n<Event><System><EventID>1</EventID></System>'
                     f"<EventData><Binary>{binary}</Binary></EventData></Event>"},
            RuntimeError("Failed to parse chunk number 1"),
            {"data": "<Event><System><EventID>2</EventID></System></Event>"},
        ]

    def __iter__(self) -> _StubRecords:
        return self

    def __next__(self) -> Any:
        if not self.items:
            raise StopIteration
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def test_redact_empties_binary_payloads_and_notes_damaged_chunks(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A <Binary> payload is hex no pattern can search (a name in UTF-16 stays a name): it is emptied. A damaged
    chunk loses its records, the rest is rendered and the manifest says so."""
    stub = types.SimpleNamespace(PyEvtxParser=lambda _path: types.SimpleNamespace(records=_StubRecords))
    monkeypatch.setitem(sys.modules, "evtx", stub)
    system = fake_server.build(tmp_path / "server", with_admin_log=False)
    system.event_logs = {"Security": fake_server.SECURITY_EVTX}
    result = collect(system, CollectOptions(redact=True), tmp_path / "c.zip")
    files = _zip(tmp_path / "c.zip")
    xml = files["collected/eventlogs/Security-pta-agent.xml"].decode("utf-8")
    assert "<Binary></Binary>" in xml and "<EventID>2</EventID>" in xml
    assert "admmig".encode("utf-16-le").hex().upper() not in xml
    entry = next(f for f in result.manifest["files"] if f["path"] == "collected/eventlogs/Security-pta-agent.xml")
    assert entry["source"].endswith("; 1 damaged chunk(s) left out)")


def test_analyze_says_which_event_logs_a_redacted_bundle_withheld(tmp_path: Path, run_cli: Any) -> None:
    system = _server(tmp_path / "server")
    (tmp_path / "server" / LOGS / SECURITY_ARCHIVE).write_bytes(b"ElfFile\x00" + b"\xff" * 8000)
    out = tmp_path / "red.zip"
    collect_with(system, _args(out, redact=True), _ctx())
    stem = f"{LOGS}/{SECURITY_ARCHIVE[:-5]}"
    report = _analyze(out, run_cli)
    assert [w["path"] for w in report["results"]["manifest"]["withheld"]] == [f"{stem}.evtx"]
    withheld = [f for f in report["findings"] if f["id"] == "collect-withheld"]
    assert len(withheld) == 1 and withheld[0]["severity"] == "warning"
    assert f"{stem}.evtx" in withheld[0]["detail"]
    text = run_cli("analyze", str(out), "--today", "2026-12-05")
    assert "1 withheld by --redact" in text.stdout
    page = tmp_path / "report.html"
    assert run_cli("analyze", str(out), "--today", "2026-12-05", "--output", str(page)).code in (0, 1)
    assert "Withheld by --redact (1)" in page.read_text(encoding="utf-8")
