"""`pta events` on the real .evtx corpus, checked against an independent parse (python-evtx), plus
binary .evtx records patched to the statuses the corpus lacks, and truncated or non-evtx files."""

from __future__ import annotations

import re
import struct
import zlib
from collections import Counter
from pathlib import Path

import pytest

from aadc_doctor.errors import ExitCode

pytestmark = pytest.mark.integration

_PAIR = re.compile(r'<Data Name="(Status|SubStatus)">([^<]*)</Data>')
_EVENT_ID = re.compile(r"<EventID[^>]*>(\d+)</EventID>")
SOURCE = "e2m_ID4625_bruteforce_valid_users.evtx"  # 5 × 4625 0xc000006d/0xc000006a from sshd.exe
SSHD = r"C:\Program Files\OpenSSH-Win64\sshd.exe"
CHUNK = slice(4096, 4096 + 65536)


_SUB = r"\[(?:Normal|Conditional) Substitution\(index=(\d+), type=\d+\)\]"
_TEMPLATE_FIELDS = {
    "EventID": re.compile(r"<EventID[^>]*>(?:" + _SUB + r"|([^<\[]*))</EventID>"),
    "Status": re.compile(r'<Data Name="Status">(?:' + _SUB + r"|([^<\[]*))</Data>"),
    "SubStatus": re.compile(r'<Data Name="SubStatus">(?:' + _SUB + r"|([^<\[]*))</Data>"),
}
_NESTED = re.compile(r"\[(?:Normal|Conditional) Substitution\(index=(\d+), type=33\)\]")  # BinXml inside


def _template_values(root, plans: dict, out: dict[str, str]) -> dict[str, str]:
    """EventID/Status/SubStatus of one record from python-evtx's own BinXml parse, without rendering its XML.

    Each template is read once (python-evtx's template view, which shows where each substitution goes);
    a record then needs only its substitution values. Same parser, same values as ``record.xml()`` (the
    small-file test below checks that), about ten times faster, which keeps this suite quick.
    """
    import Evtx.Nodes as Nodes
    from Evtx.Views import evtx_template_readable_view

    key = (root._chunk.offset(), root.template_instance().template_offset())
    plan = plans.get(key)
    if plan is None:
        template = evtx_template_readable_view(root)
        found = {}
        for name, pattern in _TEMPLATE_FIELDS.items():
            match = pattern.search(template)
            if match:
                found[name] = (int(match.group(1)), None) if match.group(1) else (None, match.group(2))
        plan = plans[key] = (found, [int(i) for i in _NESTED.findall(template)])
    found, nested = plan
    subs = root.substitutions()
    for name, (index, literal) in found.items():
        out.setdefault(name, literal if index is None else subs[index].string())
    for index in nested:
        if isinstance(subs[index], Nodes.BXmlTypeNode):
            _template_values(subs[index].root(), plans, out)
    return out


def _python_evtx_4625(path: Path, render_xml: bool = False) -> tuple[Counter[int], Counter[tuple[str, str]]]:
    """The independent parse: python-evtx (pure Python), normalising its 0x00000000 to the evtx package's 0x0.

    ``render_xml`` reads each record's full XML rendering instead of its template values (slow).
    """
    import Evtx.Evtx as PyEvtx

    ids: Counter[int] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    plans: dict = {}
    with PyEvtx.Evtx(str(path)) as log:
        for record in log.records():
            if render_xml:
                xml = record.xml()
                values = {"EventID": _EVENT_ID.search(xml).group(1), **dict(_PAIR.findall(xml))}
            else:
                values = _template_values(record.root(), plans, {})
            eid = int(values["EventID"])
            ids[eid] += 1
            if eid == 4625:
                pairs[(hex(int(values["Status"], 16)), hex(int(values["SubStatus"], 16)))] += 1
    return ids, pairs


def test_the_template_reading_of_python_evtx_equals_its_xml_rendering(corpus):
    for name in ("e2m_ID4625_account_restriction.evtx", "e2m_ID4625_bruteforce_nonexisting_users.evtx",
                 "e2m_ID4776-4625_local_bruteforce.evtx", "omerbenamram-evtx_Security_short_selected.evtx"):
        fast = _python_evtx_4625(corpus / "evtx" / name)
        assert fast == _python_evtx_4625(corpus / "evtx" / name, render_xml=True), name
        assert sum(fast[0].values()) > 0


def test_counts_and_4625_statuses_match_python_evtx(corpus, run_cli):
    files = sorted((corpus / "evtx").glob("*.evtx"))
    result = run_cli("pta", "events", *map(str, files), "--json")
    assert result.code in (ExitCode.OK, ExitCode.PROBLEMS_FOUND), result.stderr
    report = result.json()["results"]
    ours_ids = Counter({row["event_id"]: row["count"] for row in report["events_by_id"]})
    ours_pairs = Counter({(hex(int(r["status"], 16)), hex(int(r["substatus"], 16))): r["count"]
                          for r in report["by_status"] if r["event_id"] == 4625})
    theirs_ids: Counter[int] = Counter()
    theirs_pairs: Counter[tuple[str, str]] = Counter()
    for path in files:
        ids, pairs = _python_evtx_4625(path)
        theirs_ids += ids
        theirs_pairs += pairs
    assert ours_ids == theirs_ids
    assert ours_pairs == theirs_pairs
    assert sum(theirs_pairs.values()) == 44
    names = {(r["status"], r["substatus"]): (r["status_name"], r["substatus_name"]) for r in report["by_status"]}
    assert names[("0xc000006d", "0xc000006a")] == ("STATUS_LOGON_FAILURE", "STATUS_WRONG_PASSWORD")
    assert names[("0xc000006e", "0xc0000072")] == ("STATUS_ACCOUNT_RESTRICTION", "STATUS_ACCOUNT_DISABLED")
    assert names[("0xc0000224", "0x0")][0] == "STATUS_PASSWORD_MUST_CHANGE"


def test_kerberos_brute_force_against_unknown_accounts_is_seen_in_4768(corpus, run_cli):
    """46 of the 50 4768 events are refused tickets for accounts the KDC does not know (Status 0x6); only the two
    4771 were read before, so a spray against non-existing users showed as '2 failed logons'."""
    name = corpus / "evtx/e2m_ID4768-4771_kerberos_bruteforce_nonexisting_users.evtx"
    report = run_cli("pta", "events", str(name), "--json").json()
    by_status = {(r["event_id"], r["status"]): r for r in report["results"]["by_status"]}
    assert by_status[(4768, "0x6")]["count"] == 46  # corpus/evtx/event_index.tsv: 0x6=46
    assert by_status[(4768, "0x6")]["status_name"] == "KDC_ERR_C_PRINCIPAL_UNKNOWN"
    assert by_status[(4768, "0x6")]["reason"] == 1317
    assert by_status[(4771, "0x18")]["count"] == 2
    assert (4768, "0x0") not in by_status  # tickets issued are no failures
    assert any(f["id"] == "password-spray-suspected" for f in report["findings"])


def _patch_statuses(source: Path, target: Path, status: int, substatus: int) -> Path:
    """Rewrite the Status/SubStatus values inside the records' binary XML, then fix both chunk CRC32s."""
    data = bytearray(source.read_bytes())
    chunk = data[CHUNK]
    free = struct.unpack_from("<I", chunk, 48)[0]
    area = bytes(chunk[512:free])
    assert area.count(struct.pack("<I", 0xC000006D)) == 5 and area.count(struct.pack("<I", 0xC000006A)) == 5
    area = area.replace(struct.pack("<I", 0xC000006D), struct.pack("<I", status))
    area = area.replace(struct.pack("<I", 0xC000006A), struct.pack("<I", substatus))
    chunk[512:free] = area
    struct.pack_into("<I", chunk, 52, zlib.crc32(bytes(chunk[512:free])))
    struct.pack_into("<I", chunk, 124, zlib.crc32(bytes(chunk[:120] + chunk[128:512])))
    data[CHUNK] = chunk
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize(("status", "substatus", "reason", "aadsts"), [
    (0xC0000234, 0x0, 1909, "AADSTS50053"),  # locked out
    (0xC000006E, 0xC000006F, 1328, "AADSTS80012"),  # logon hours
    (0xC000006E, 0xC0000070, 1329, "AADSTS50126"),  # not allowed on the agent server ("Log On To")
    (0xC0000133, 0x0, 1398, "AADSTS80013"),  # clock skew
])
def test_statuses_the_corpus_lacks_in_patched_binary_records(corpus, tmp_path, run_cli, status, substatus, reason,
                                                             aadsts):
    import evtx

    patched = _patch_statuses(corpus / "evtx" / SOURCE, tmp_path / "patched.evtx", status, substatus)
    # the evtx package itself accepts the file with checksum validation on
    assert sum(1 for _ in evtx.PyEvtxParser(str(patched), validate_checksums=True).records()) == 11
    result = run_cli("pta", "events", str(patched), "--process", SSHD, "--json")
    report = result.json()
    finding = next(f for f in report["findings"] if f["id"] == f"pta-reason-{reason}")
    assert aadsts in finding["detail"]
    [row] = [r for r in report["results"]["by_reason"]]
    assert (row["reason"], row["count"], row["pta_agent_count"]) == (reason, 5, 5)
    [status_row] = report["results"]["by_status"]
    assert int(status_row["status"], 16) == status and int(status_row["substatus"], 16) == substatus
    _ids, pairs = _python_evtx_4625(patched)
    assert pairs == Counter({(hex(status), hex(substatus)): 5})


def test_truncated_evtx_is_reported_with_what_was_read(corpus, tmp_path, run_cli):
    data = (corpus / "evtx" / "omerbenamram-evtx_Security_with_size_t.evtx").read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[:4096 + 5 * 65536 + 12345])
    result = run_cli("pta", "events", str(cut), "--json")
    assert result.code == ExitCode.PROBLEMS_FOUND
    assert "Traceback" not in result.stderr
    report = result.json()
    damaged = next(f for f in report["findings"] if f["id"] == "evtx-damaged")
    [file_info] = report["results"]["files"]
    assert file_info["damaged"] and 0 < file_info["records"] < file_info["expected_records"]
    assert f"{file_info['records']} records could still be read" in damaged["detail"]


def test_a_file_that_is_not_evtx_is_exit_2(tmp_path, run_cli):
    path = tmp_path / "Security.evtx"
    path.write_bytes(b"MZ\x90\x00" + bytes(5000))
    result = run_cli("pta", "events", str(path))
    assert result.code == ExitCode.USAGE_OR_INPUT
    assert result.stderr.count("\n") <= 2 and "Traceback" not in result.stderr


SERVICES = r"C:\Windows\System32\services.exe"  # logs 416 successful 4624s in the corpus's Security log


def test_memory_and_output_do_not_grow_with_successful_sign_ins(corpus, tmp_path, run_cli):
    """Every 4624 of the agent was kept and listed in requests: 24 copies of a log took 8x the memory of 4."""
    import shutil
    import tracemalloc

    source = corpus / "evtx/omerbenamram-evtx_security.evtx"
    copies = []
    for i in range(24):
        copies.append(str(shutil.copyfile(source, tmp_path / f"{i:02d}_security.evtx")))
    run_cli("pta", "events", "--json", copies[0])  # imports and caches, outside the measurement

    def measure(files: list[str]) -> tuple[float, dict, int]:
        tracemalloc.start()
        try:
            result = run_cli("pta", "events", "--json", "--process", SERVICES, *files)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.code == ExitCode.OK, result.stderr
        return peak / 1e6, result.json()["results"], len(result.stdout)

    small_peak, small, small_out = measure(copies[:4])
    large_peak, large, large_out = measure(copies)
    assert small["successes"]["count"] == 4 * 416 and large["successes"]["count"] == 24 * 416
    assert large["summary"]["succeeded_by_agent"] == 24 * 416 and large["requests"] == []
    # before: 5.5 MB and 32 MB traced peaks, a 4.4 MB report; now 0.13 and 0.27 MB, 6 and 12 KB of JSON
    assert large_peak < 2.0 and large_peak - small_peak < 1.0, (small_peak, large_peak)
    assert large_out < 3 * small_out, (small_out, large_out)

