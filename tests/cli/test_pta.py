"""`aadc-doctor pta trace|events|dc-query` end to end, in-process."""

from __future__ import annotations

import importlib.util
import zipfile
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from aadc_doctor.errors import ExitCode

_spec = importlib.util.spec_from_file_location("tracegen", Path(__file__).parents[1] / "fixtures/pta/tracegen.py")
assert _spec and _spec.loader
tg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tg)


def _ids(report) -> list[str]:
    return [f["id"] for f in report["findings"]]


def test_trace_on_the_published_example(corpus, run_cli):
    example = str(corpus / "logs/pta/msdocs_pta_agent_trace_example.log")
    result = run_cli("pta", "trace", example, "--json")
    assert result.code == ExitCode.OK, result.stderr  # a warning: below the default --fail-on error
    report = result.json()
    assert report["command"] == "pta trace"
    [request] = report["results"]["requests"]
    assert request["request_id"] == "df63f4a4-68b9-44ae-8d81-6ad2d844d84e" and request["reason"] == 1328
    assert request["aadsts"] == 80012
    [row] = report["results"]["by_reason"]
    assert row["reason"] == 1328 and row["count"] == 1 and row["aadsts"] == 80012
    assert row["message"] == "Your account has time restrictions that keep you from signing in right now."
    finding = report["findings"][0]
    assert finding["id"] == "pta-reason-1328" and "AADSTS80012" in finding["detail"]
    strict = run_cli("pta", "trace", example, "--fail-on", "warning")
    assert strict.code == ExitCode.PROBLEMS_FOUND
    assert "1328" in strict.stdout and "Logon Hours" in strict.stdout


def _trace_folder(root: Path) -> Path:
    """Two generations, UTF-8 and UTF-16, rotated: the newer file sorts first by name."""
    folder = root / "Trace"
    folder.mkdir()
    older = "".join(tg.failure_entry(tg.LEGACY_EXE, tg.request_id(i), 1328, tg.T0 + tg.minutes(i)) for i in range(3))
    older += tg.other_entry(tg.LEGACY_EXE, "Warning", "Bootstrap request failed; retrying.", tg.T0 + tg.minutes(5))
    newer = "".join(tg.failure_entry(tg.CURRENT_EXE, tg.request_id(10 + i), 1311, tg.T0 + timedelta(hours=1, minutes=i))
                    for i in range(2))
    newer += tg.other_entry(tg.CURRENT_EXE, "Error", "Failed to renew the trust certificate: renewTrust returned 403",
                            tg.T0 + timedelta(hours=1, minutes=30))
    tg.write_trace(folder / "AzureADConnectAuthenticationAgent_1.log", older, "utf-16", "\r\n")
    tg.write_trace(folder / "AzureADConnectAuthenticationAgent_0.log", newer, "utf-8")
    return folder


def test_trace_entry_cut_by_rotation_keeps_its_time(tmp_path, run_cli):
    """The agent rotated between a failure's header line and its ThreadId=/DateTime= lines."""
    folder = tmp_path / "Trace"
    folder.mkdir()
    cut = tg.failure_entry(tg.CURRENT_EXE, tg.request_id(2), 1909, tg.T0 + tg.minutes(1))
    header, fields = cut.split("\n", 1)
    tg.write_trace(folder / "AzureADConnectAuthenticationAgent_1.log",
                   tg.failure_entry(tg.CURRENT_EXE, tg.request_id(1), 1909, tg.T0) + header + "\n")
    tg.write_trace(folder / "AzureADConnectAuthenticationAgent_0.log",
                   fields + tg.failure_entry(tg.CURRENT_EXE, tg.request_id(3), 1909, tg.T0 + tg.minutes(2)))
    results = run_cli("pta", "trace", str(folder), "--json").json()["results"]
    assert [r["request_id"] for r in results["requests"]] == [tg.request_id(n) for n in (1, 2, 3)]
    assert all(r["time"] for r in results["requests"])
    assert [(f["entries"], f["bad_lines"]) for f in results["files"]] == [(2, 0), (1, 0)]


def test_a_cut_off_gzip_trace_is_read_up_to_the_cut(tmp_path, run_cli):
    """A .gz copied half-way was exit 2 when named and, in a folder, 'skipped' while its failures were counted."""
    import gzip

    text = "".join(tg.failure_entry(tg.CURRENT_EXE, tg.request_id(i), 1328, tg.T0 + tg.minutes(i % 600))
                   for i in range(3000))
    whole = gzip.compress(text.encode())
    folder = tmp_path / "Trace"
    folder.mkdir()
    cut = folder / "AzureADConnectAuthenticationAgent_0.log.gz"
    cut.write_bytes(whole[:len(whole) // 2])
    named = run_cli("pta", "trace", str(cut), "--json")
    assert named.code == ExitCode.OK, named.stderr  # warnings only (1328 is an account reason); was exit 2
    [file] = named.json()["results"]["files"]
    assert file["format"] == "trace" and 100 < file["entries"] < 3000 and "ends early" in file["cut_short"]
    finding = next(f for f in named.json()["findings"] if f["id"] == "trace-file-cut-short")
    assert finding["severity"] == "warning" and f"{file['entries']} entries" in finding["detail"]
    # every entry read is a failure, but the last one may be cut before its reason (the reader keeps every byte)
    assert file["entries"] - 1 <= sum(r["count"] for r in named.json()["results"]["by_reason"]) <= file["entries"]
    in_folder = run_cli("pta", "trace", str(folder), "--json").json()
    assert not [f for f in in_folder["findings"] if f["id"] == "trace-file-skipped"]
    assert in_folder["results"]["files"] == named.json()["results"]["files"]


def test_trace_folder_both_generations_encodings_and_rotation(tmp_path, run_cli):
    folder = _trace_folder(tmp_path)
    result = run_cli("pta", "trace", str(folder), "--json")
    assert result.code == ExitCode.PROBLEMS_FOUND  # 1311: the agent cannot reach a DC
    results = result.json()["results"]
    reasons = [r["reason"] for r in results["requests"]]
    assert reasons == [1328, 1328, 1328, 1311, 1311]  # time order across the rotated files
    assert {r["reason"]: r["count"] for r in results["by_reason"]} == {1328: 3, 1311: 2}
    assert results["by_hour"] == [{"hour": "2024-03-05T08:00Z", "count": 3}, {"hour": "2024-03-05T09:00Z", "count": 2}]
    assert {e["category"] for e in results["other_errors"]} == {"bootstrap", "trust-renewal"}
    assert [f["encoding"] for f in results["files"]] == ["utf-16", "utf-8"]
    assert results["summary"]["agents"] == [tg.LEGACY_EXE, tg.CURRENT_EXE]
    findings = result.json()["findings"]
    dc = next(f for f in findings if f["id"] == "pta-reason-1311")
    assert dc["severity"] == "error" and "AADSTS80007" in dc["detail"]
    assert {"pta-trace-bootstrap", "pta-trace-trust-renewal"} <= set(_ids(result.json()))


def test_trace_zip_gives_the_same_answer(tmp_path, run_cli):
    folder = _trace_folder(tmp_path)
    archive = tmp_path / "trace.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, f"Trace/{path.name}")
    direct = run_cli("pta", "trace", str(folder), "--json").json()["results"]["by_reason"]
    zipped = run_cli("pta", "trace", str(archive), "--json").json()["results"]["by_reason"]
    assert direct == zipped


def test_trace_and_security_events_are_correlated(tmp_path, run_cli):
    trace = tg.write_trace(tmp_path / "t.log", "".join(
        tg.failure_entry(tg.CURRENT_EXE, tg.request_id(i), 1329, tg.T0 + tg.minutes(i)) for i in range(3)))
    events = [tg.failed_logon(tg.T0 + tg.minutes(i) + timedelta(seconds=1), f"user{i}", "0xc000006e", "0xc0000070",
                              record_id=i + 1) for i in range(3)]
    export = tmp_path / "security.xml"
    export.write_text(tg.events_document(events), encoding="utf-8")
    result = run_cli("pta", "trace", str(trace), "--events", str(export), "--json").json()
    correlated = result["results"]["correlated"]
    assert [(c["request_id"], c["account"]) for c in correlated] == [
        (tg.request_id(i), f"CONTOSO\\user{i}") for i in range(3)]
    assert result["results"]["by_reason"][0]["count"] == 3  # each sign-in counted once
    finding = next(f for f in result["findings"] if f["id"] == "pta-reason-1329")
    assert "Log On To" in finding["remedy"] and "3 account(s)" in finding["detail"]
    same = run_cli("pta", "events", str(export), "--trace", str(trace), "--json").json()
    assert same["results"]["correlated"] == correlated


def test_events_xml_lockout_burst_time_skew_and_admin_log(tmp_path, run_cli):
    events = [tg.failed_logon(tg.T0 + timedelta(seconds=20 * i), f"user{i % 15}", "0xc0000234", "0x0", record_id=i)
              for i in range(40)]
    events.append(tg.failed_logon(tg.T0 + timedelta(hours=2), "clock", "0xc0000133", "0x0", record_id=99))
    events.append(tg.security_event_xml(
        1000, tg.T0, {"Message": "Connector re-registration failed: The Connector trust certificate expired."},
        channel="Microsoft-AadApplicationProxy-Connector/Admin", provider="Microsoft-AadApplicationProxy-Connector",
        level=2))
    export = tmp_path / "export.xml"
    export.write_bytes(tg.events_document(events).encode("utf-16"))
    result = run_cli("pta", "events", str(export), "--json")
    assert result.code == ExitCode.PROBLEMS_FOUND
    report = result.json()
    burst = next(f for f in report["findings"] if f["id"] == "pta-lockout-burst")
    assert "40 failures within 13.0 minutes" in burst["detail"] and "15 distinct account(s)" in burst["detail"]
    skew = next(f for f in report["findings"] if f["id"] == "pta-reason-1398")
    assert "AADSTS80013" in skew["detail"]
    assert "pta-agent-event-1000" in _ids(report)
    assert report["results"]["files"] == [{"name": str(export), "format": "xml", "records": 42, "bad": 0}]
    human = run_cli("pta", "events", str(export))
    assert "Failed sign-ins by reason" in human.stdout and "pta-lockout-burst" in human.stdout


def test_dc_query_prints_the_query_for_both_generations(run_cli):
    result = run_cli("pta", "dc-query")
    assert result.code == ExitCode.OK
    root = ET.fromstring(result.stdout)
    select = root.find("Query/Select")
    assert select is not None and select.get("Path") == "Security"
    assert tg.CURRENT_PATH in select.text and tg.LEGACY_PATH in select.text
    assert select.text.startswith("*[EventData[Data[@Name='ProcessName'] and (")
    assert "agent" in result.stderr and "not on the domain controllers" in result.stderr


def test_dc_query_escapes_a_custom_process_path(run_cli):
    path = r"D:\Tom's & Jerry's <Agents>\AzureADConnectAuthenticationAgentService.exe"
    report = run_cli("pta", "dc-query", "--process", path, "--json").json()
    select = ET.fromstring(report["results"]["query_xml"]).find("Query/Select")
    assert select is not None and select.text.endswith(f'(Data="{path}")]]')
    assert report["results"]["processes"] == [path]
    both = r"C:\it's \"odd\".exe"
    assert run_cli("pta", "dc-query", "--process", both).code == ExitCode.USAGE_OR_INPUT


def test_dc_query_help_says_where_to_run_it(run_cli, capsys):
    result = run_cli("pta", "dc-query", "--help")
    assert result.code == ExitCode.OK
    text = " ".join((result.stdout + capsys.readouterr().out).split())
    assert "on every server where a PTA Authentication Agent runs" in text


@pytest.mark.parametrize("args", [("pta",), ("pta", "trace"), ("pta", "nosuch")])
def test_usage_errors_exit_2(run_cli, args):
    assert run_cli(*args).code == ExitCode.USAGE_OR_INPUT


def test_bad_inputs_are_one_line_exit_2(tmp_path, run_cli):
    junk = tmp_path / "trace.log"
    junk.write_bytes(bytes(range(256)) * 40)
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\nnothing here\n")
    broken = tmp_path / "broken.xml"
    broken.write_text("<Events><Event><System><EventID>4625</EventID>", encoding="utf-8")
    for args in (("trace", str(junk)), ("trace", str(text)), ("events", str(text)), ("events", str(broken)),
                 ("trace", str(tmp_path / "missing"))):
        result = run_cli("pta", *args)
        assert result.code == ExitCode.USAGE_OR_INPUT, args
        assert "Traceback" not in result.stderr and result.stderr.startswith("aadc-doctor: error: "), args


def test_worker_processes_give_the_same_results(corpus, run_cli):
    files = [str(p) for p in sorted((corpus / "evtx").glob("*.evtx"))]
    serial = run_cli("pta", "events", *files, "--jobs", "1", "--json").json()
    parallel = run_cli("pta", "events", *files, "--jobs", "2", "--json").json()
    assert serial["results"] == parallel["results"]
    assert serial["findings"] == parallel["findings"]


def test_dc_events_are_attributed_with_agent_host(corpus, run_cli):
    log = str(corpus / "evtx/e2m_ID4771_kerberos_bruteforce_valid_user.evtx")
    plain = run_cli("pta", "events", log, "--json").json()
    note = next(f for f in plain["findings"] if f["id"] == "pta-no-agent-events")
    assert "--agent-host" in note["remedy"]
    assert plain["results"]["requests"] == [] and plain["results"]["other_failures"]["count"] == 54
    tied = run_cli("pta", "events", log, "--agent-host", "::ffff:10.23.123.11", "--json").json()
    assert len(tied["results"]["requests"]) == 54
    assert "pta-reason-1326" in _ids(tied)


def test_a_file_named_twice_or_inside_a_named_folder_is_read_once(tmp_path, corpus, run_cli):
    folder = _trace_folder(tmp_path)
    one = str(folder / "AzureADConnectAuthenticationAgent_0.log")
    alone = run_cli("pta", "trace", str(folder), "--json").json()["results"]
    again = run_cli("pta", "trace", str(folder), one, one, "--json").json()["results"]
    assert [f["name"] for f in again["files"]] == [f["name"] for f in alone["files"]]
    assert again["by_reason"] == alone["by_reason"]
    log = corpus / "evtx/e2m_ID4625_account_restriction.evtx"
    twice = run_cli("pta", "events", str(log), str(log.parent / ".." / "evtx" / log.name), "--json").json()["results"]
    assert len(twice["files"]) == 1 and twice["summary"]["failed"] == 2


@pytest.mark.parametrize(("process", "says"), [
    ("AzureADConnectAuthenticationAgentService.exe", "full path"),  # the query would match nothing
    ("C:/Program Files/Agent/Agent.exe", "backslashes"),
    ("C:\\Agents\\Agent.exe\n", "control character"),  # a pasted line break: invalid in the XML too
    ("C:\\Age\x01nts\\Agent.exe", "control character"),
])
def test_dc_query_refuses_a_process_the_query_could_never_match(run_cli, process, says):
    result = run_cli("pta", "dc-query", "--process", process)
    assert result.code == ExitCode.USAGE_OR_INPUT
    assert says in result.stderr and result.stdout == ""


def test_dc_query_accepts_unc_paths(run_cli):
    path = r"\\fileserver\agents\AzureADConnectAuthenticationAgentService.exe"
    report = run_cli("pta", "dc-query", "--process", path, "--json").json()
    assert report["results"]["processes"] == [path]


def test_an_unreadable_file_inside_a_trace_folder_or_zip_is_skipped_and_reported(tmp_path, run_cli):
    folder = _trace_folder(tmp_path)
    intact = run_cli("pta", "trace", str(folder), "--json")
    crashed = folder / "AzureADConnectAuthenticationAgent_2.log"
    crashed.write_bytes(bytes(8192))  # NUL bytes: what a crash leaves behind
    whole = run_cli("pta", "trace", str(folder), "--json")
    assert whole.code == intact.code and whole.stderr == "", whole.stderr
    report = whole.json()
    skipped = next(f for f in report["findings"] if f["id"] == "trace-file-skipped")
    assert skipped["subject"] == str(crashed) and "NUL bytes" in skipped["detail"]
    assert report["results"]["by_reason"] == intact.json()["results"]["by_reason"]  # the other files all counted
    assert [f["name"] for f in report["results"]["files"] if f["format"] == "skipped"] == [str(crashed)]
    human = run_cli("pta", "trace", str(folder))
    assert f"{crashed}: skipped (holds only NUL bytes" in " ".join(human.stdout.split())
    archive = tmp_path / "Trace.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(folder.iterdir()):
            z.write(p, f"Trace/{p.name}")
    zipped = run_cli("pta", "trace", str(archive), "--json").json()
    assert "trace-file-skipped" in _ids(zipped)
    assert zipped["results"]["by_reason"] == report["results"]["by_reason"]
    # named on its own, the same file is an input error (exit 2), as any file that is not a log
    alone = run_cli("pta", "trace", str(crashed))
    assert alone.code == ExitCode.USAGE_OR_INPUT and "only NUL bytes" in alone.stderr


def test_an_empty_trace_file_is_called_empty(tmp_path, run_cli):
    empty = tmp_path / "AzureADConnectAuthenticationAgent_4.log"
    empty.write_bytes(b"")
    result = run_cli("pta", "trace", str(empty))
    assert result.code == ExitCode.USAGE_OR_INPUT
    assert "empty" in result.stderr and "not a .NET trace log" not in result.stderr


def test_events_reads_a_folder_of_exports_and_points_trace_logs_to_pta_trace(tmp_path, corpus, run_cli):
    folder = tmp_path / "exports"
    (folder / "dc01").mkdir(parents=True)
    names = ["e2m_ID4625_account_restriction.evtx", "e2m_ID4776-4625_local_bruteforce.evtx"]
    for name in names:
        (folder / "dc01" / name).write_bytes((corpus / "evtx" / name).read_bytes())
    (folder / "notes.md").write_text("collected on Monday")
    by_folder = run_cli("pta", "events", str(folder), "--json").json()["results"]
    by_files = run_cli("pta", "events", *(str(folder / "dc01" / n) for n in names), "--json").json()["results"]
    assert by_folder == by_files and len(by_folder["files"]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no .evtx or .xml" in run_cli("pta", "events", str(empty)).stderr
    trace = corpus / "logs/pta/msdocs_pta_agent_trace_example.log"
    renamed = tmp_path / "Security.evtx"  # a trace log saved under the wrong name
    renamed.write_bytes(trace.read_bytes())
    for path in (trace, renamed):
        result = run_cli("pta", "events", str(path))
        assert result.code == ExitCode.USAGE_OR_INPUT
        assert "`aadc-doctor pta trace` reads those" in result.stderr


def test_hours_name_the_year_when_the_failures_span_years(corpus, tmp_path, run_cli):
    files = [str(p) for p in sorted((corpus / "evtx").glob("*.evtx"))]  # failures from 2015 to 2023
    text = " ".join(run_cli("pta", "events", *files).stdout.split())
    assert "By hour (UTC): 2015-08-23 10h: 7," in text
    one_year = " ".join(run_cli("pta", "trace", str(_trace_folder(tmp_path))).stdout.split())
    assert "By hour (UTC): 03-05 08h: 3, 03-05 09h: 2" in one_year


def test_an_empty_event_file_and_an_over_long_trace_line_are_named(tmp_path, corpus, run_cli):
    empty = tmp_path / "Security.evtx"
    empty.write_bytes(b"")
    result = run_cli("pta", "events", str(empty))
    assert result.code == ExitCode.USAGE_OR_INPUT and "empty (0 bytes)" in result.stderr
    huge = tmp_path / "trace.log"
    huge.write_text("x" * 2_000_000 + "\n" + (corpus / "logs/pta/msdocs_pta_agent_trace_example.log").read_text())
    text = " ".join(run_cli("pta", "trace", str(huge)).stdout.split())
    assert "1 entry, 1 unreadable line(s), 1 over-long line(s) cut at 1 MiB, utf-8" in text


@pytest.mark.parametrize("option", [("--jobs", "0"), ("--jobs", "-1"), ("--process", ""), ("--agent-host", " ")])
def test_meaningless_option_values_are_usage_errors(corpus, run_cli, option):
    log = str(corpus / "evtx/e2m_ID4625_account_restriction.evtx")
    for command in (("events", log), ("trace", str(corpus / "logs/pta"))):
        result = run_cli("pta", *command, *option)
        assert result.code == ExitCode.USAGE_OR_INPUT, (command, option)
        assert result.stderr.startswith(f"aadc-doctor: error: {option[0]}"), result.stderr


def test_an_event_log_given_to_trace_is_pointed_to_events(corpus, tmp_path, run_cli):
    export = tmp_path / "Security.xml"
    export.write_text(tg.events_document([tg.failed_logon(tg.T0, "u", "0xc000006d", "0xc000006a", record_id=1)]),
                      encoding="utf-8")
    for path, kind in ((corpus / "evtx/e2m_ID4625_account_restriction.evtx", "an .evtx event log"),
                       (export, "an event log XML export")):
        result = run_cli("pta", "trace", str(path))
        assert result.code == ExitCode.USAGE_OR_INPUT
        assert f"{kind}, not a trace log" in result.stderr and "pta events" in result.stderr


def test_a_stray_file_in_an_event_folder_is_skipped_but_a_named_one_is_an_error(corpus, tmp_path, run_cli):
    folder = tmp_path / "collected"
    folder.mkdir()
    log = folder / "Security.evtx"
    log.write_bytes((corpus / "evtx/e2m_ID4625_account_restriction.evtx").read_bytes())
    config = folder / "TrustSettings.xml"
    config.write_text('<?xml version="1.0"?><ConnectorTrustSettingsFile><CloudProxyTrust/>'
                      "</ConnectorTrustSettingsFile>")
    report = run_cli("pta", "events", str(folder), "--json").json()
    skipped = next(f for f in report["findings"] if f["id"] == "event-file-skipped")
    assert skipped["subject"] == str(config) and skipped["severity"] == "info"
    assert report["results"]["summary"]["failed"] == 2
    assert run_cli("pta", "events", str(config)).code == ExitCode.USAGE_OR_INPUT
    log.unlink()
    only_junk = run_cli("pta", "events", str(folder))
    assert only_junk.code == ExitCode.USAGE_OR_INPUT and "no event log among the files found" in only_junk.stderr


def test_a_busy_agent_servers_xml_export_lists_its_failures_and_counts_its_successes(tmp_path, run_cli):
    export = tmp_path / "security.xml"
    successes, failures = tg.write_busy_security_log(export, 3000, failure_every=100)
    result = run_cli("pta", "events", "--json", str(export))
    results = result.json()["results"]
    assert (successes, failures) == (2970, 30)
    assert results["successes"]["count"] == 2970 and len(results["successes"]["by_hour"]) == 1
    assert len(results["requests"]) == results["requests_total"] == 30 and not results["requests_truncated"]
    assert {r["outcome"] for r in results["requests"]} == {"failure"}
    [row] = results["by_reason"]
    assert (row["reason"], row["count"]) == (1326, 30)
    human = run_cli("pta", "events", str(export))
    assert "latest 10 of 30" in human.stdout
    assert "successful sign-ins by the agent: 2970 (counted, not listed)" in human.stdout


def test_trace_lists_the_latest_1000_failed_requests_and_counts_them_all(tmp_path, run_cli):
    text = "".join(tg.failure_entry(tg.CURRENT_EXE, tg.request_id(i), 1326 if i % 3 else 1909,
                                    tg.T0 + timedelta(seconds=7 * i)) for i in range(1500))
    trace = tg.write_trace(tmp_path / "AzureADConnectAuthenticationAgent.log", text)
    results = run_cli("pta", "trace", str(trace), "--json").json()["results"]
    assert results["requests_total"] == 1500 and results["requests_truncated"] is True
    assert [r["request_id"] for r in results["requests"]] == [tg.request_id(i) for i in range(500, 1500)]
    assert {r["reason"]: r["count"] for r in results["by_reason"]} == {1326: 1000, 1909: 500}
    assert sum(h["count"] for h in results["by_hour"]) == 1500
    assert {b["reason"]: b["count"] for b in results["bursts"]} == {1326: 1000, 1909: 500}
    human = run_cli("pta", "trace", str(trace))
    assert "latest 10 of 1500 (--json lists the latest 1000)" in human.stdout
