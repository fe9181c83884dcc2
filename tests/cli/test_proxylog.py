"""`aadc-doctor proxylog` end to end in-process: the corpus samples, encodings, filters, and input errors."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import SEEDS
from tests.infra.procs import all_gone

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "proxylog"
SEED = SEEDS / "000_7b02501e1c753b8b.txt"
RunCli = Callable[..., Any]

SQUID_LINES = [
    "1700000000.000      5 10.0.5.20 TCP_TUNNEL/200 900 CONNECT login.microsoftonline.com:443 - HIER_DIRECT/1.1.1.1 -",
    "1700000010.000      5 10.0.5.20 TCP_DENIED/403 30 CONNECT adminwebservice.microsoftonline.com:443 - HIER_NONE/- -",
    "1700000020.000      5 10.7.7.7 TCP_TUNNEL/200 900 CONNECT www.example.org:443 - HIER_DIRECT/2.2.2.2 -",
    "1700000030.000      5 10.0.5.20 TCP_DENIED/403 30 CONNECT adminwebservice.microsoftonline.com:443 - HIER_NONE/- -",
    "1700000040.000 garbage line about login.microsoftonline.com",
]


def test_the_corpus_reference_listing_is_the_three_phases(run_cli: RunCli, corpus: Path) -> None:
    result = run_cli("proxylog", "--json", str(corpus / "logs/aadconnect/msdocs_reference_proxy_log.tsv"))
    assert result.code == 0, result.stderr
    report = result.json()
    r = report["results"]
    assert report["command"] == "proxylog" and r["format"] == "listing"
    assert (r["lines"], r["records"], r["skipped"]) == (22, 21, 1)
    assert [p["status"] for p in r["phases"]] == ["complete", "complete", "complete"]
    assert r["phase_summary"]["reached"] == ["connect", "configure", "initial-sync"]
    assert report["findings"] == []  # every phase reached: nothing to diagnose
    login = next(e for e in r["endpoints"] if e["host"] == "login.microsoftonline.com")
    assert (login["requests"], login["statuses"], login["classification"]) == (6, {"-": 6}, "required")
    assert {rule["rule"] for rule in login["required_by"]} >= {"microsoftonline", "login-microsoftonline"}


def test_the_seed_article_itself(run_cli: RunCli) -> None:
    result = run_cli("proxylog", str(SEED))
    assert result.code == 0
    assert "reached  Connect to Azure AD: 6/6 steps" in result.stdout
    assert "reached  Initial Sync: 4/4 steps" in result.stdout


@pytest.mark.parametrize(("name", "fmt", "lines"), [
    ("logs/proxy/plaso_squid_access.log", "squid", 8),
    ("logs/proxy/plaso_iis6_w3c.log", "w3c", 15),
    ("logs/proxy/stroom-docs_sampleBluecoat_w3c-elff.log", "w3c", 33),
])
def test_corpus_proxy_samples_without_azure_traffic(run_cli: RunCli, corpus: Path, name: str, fmt: str,
                                                    lines: int) -> None:
    result = run_cli("proxylog", "--json", str(corpus / name))
    r = result.json()["results"]
    assert (r["format"], r["lines"], r["records"], r["line_counts"]["bad"]) == (fmt, lines, 0, 0)
    assert [f["id"] for f in result.json()["findings"]] == ["proxylog-no-azure-traffic"]
    assert result.code == 0  # a warning, below the default --fail-on error
    full = run_cli("proxylog", "--json", "--full-parse", str(corpus / name)).json()["results"]
    assert full["line_counts"]["bad"] == 0 and full["unrelated_count"] > 0


def test_tmg_fixture_denials_and_stop(run_cli: RunCli) -> None:
    result = run_cli("proxylog", "--json", str(FIXTURES / "tmg_w3c_webproxy.log"))
    assert result.code == 1
    report = result.json()
    ids = [f["id"] for f in report["findings"]]
    assert "proxylog-required-denied" in ids and "proxylog-phase-stops" in ids
    prov = next(e for e in report["results"]["endpoints"] if e["host"] == "provisioningapi.microsoftonline.com")
    assert prov["statuses"] == {"403": 1}
    connect = report["results"]["phases"][0]
    assert (connect["matched_steps"], connect["blocked"]["status"]) == (3, 403)  # the 2nd sign-in is not logged
    assert connect["next_step"] == {"step": 5, "url": "connect://provisioningapi.microsoftonline.com:443",
                                    "expects": "provisioningapi.microsoftonline.com:443",
                                    "describes": connect["next_step"]["describes"]}


def test_the_json_keys_keep_their_order(run_cli: RunCli, tmp_path: Path) -> None:
    """The typed results (analysis/proxylog_summary.py) give the JSON the dict-built report gave, keys in the same
    order: the golden files compare values only, so the order is held here."""
    log = tmp_path / "access.log"
    tunnel = ("1700000050.000 120000 10.0.5.20 TCP_TUNNEL/200 900 CONNECT login.microsoftonline.com:443 - "
              "HIER_DIRECT/1.1.1.1 -")
    log.write_text("\n".join([*SQUID_LINES[:4], tunnel] * 3) + "\n")
    results = run_cli("proxylog", "--json", "--client", "10.0.5.0/24", str(log)).json()["results"]
    assert list(results) == [
        "format", "files", "lines", "records", "skipped", "line_counts", "filters", "endpoints", "ignorable",
        "unrelated_count", "phases", "phase_summary", "clients", "clients_total", "auth_runs", "auth_runs_total",
        "tunnels", "timeline", "bad_line_samples"]
    assert list(results["line_counts"]) == ["not_candidate", "no_request", "bad", "overlong", "filtered_out", "records"]
    assert list(results["filters"]) == ["client", "since", "until"]
    assert list(results["endpoints"][0]) == [
        "host", "port", "classification", "port_mismatch", "required_by", "requests", "allowed", "denied",
        "denied_unresolved_407", "auth_challenges", "other", "no_status", "statuses", "first_seen", "last_seen",
        "clients", "clients_capped", "longest_tunnel_seconds", "cut_short", "failed", "decrypted",
        "tunnels_logged_500_after_transfer", "denied_by_parent"]
    assert list(results["endpoints"][0]["required_by"][0]) == [
        "rule", "pattern", "port", "profiles", "purpose", "required", "current"]
    assert list(results["phases"][0]) == [
        "id", "name", "current_name", "identity", "total_steps", "status", "matched_steps", "in_order", "first_seen",
        "last_seen", "hosts", "next_step", "blocked"]
    assert list(results["phases"][0]["next_step"]) == ["step", "url", "expects", "describes"]
    assert list(results["phase_summary"]) == ["client", "reached", "stops_at"]
    assert list(results["clients"][0]) == [
        "client", "requests", "denied", "auth_407", "azure_ad_connect_like", "probe_run", "phases_reached"]
    assert list(results["tunnels"]) == [
        "tunnels_measured", "longest_seconds", "explicit_timeouts", "suspected_seconds", "ending_at_longest"]
    assert list(results["timeline"][0]) == ["host", "port", "bucket_seconds", "points"]
    assert list(results["timeline"][0]["points"][0]) == ["start", "denied", "statuses"]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_bad_lines_are_counted_and_sampled_gz_and_utf16_give_the_same(run_cli: RunCli, tmp_path: Path) -> None:
    text = "\r\n".join(SQUID_LINES) + "\r\n"
    outputs = []
    for path in (_write(tmp_path, "a.log", text.encode()), _write(tmp_path, "b.log.gz", gzip.compress(text.encode())),
                 _write(tmp_path, "c.log", text.encode("utf-16"))):
        result = run_cli("proxylog", "--json", str(path))
        assert result.code == 1
        r = result.json()["results"]
        outputs.append((r["lines"], r["records"], r["line_counts"], r["endpoints"]))
        assert r["bad_line_samples"][0]["line"] == 5 and "garbage" in r["bad_line_samples"][0]["text"]
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0][2] == {"not_candidate": 1, "no_request": 0, "bad": 1, "overlong": 0, "filtered_out": 0,
                             "records": 3}


def test_filters_client_since_until(run_cli: RunCli, tmp_path: Path) -> None:
    path = _write(tmp_path, "a.log", ("\n".join(SQUID_LINES[:4]) + "\n").encode())
    r = run_cli("proxylog", "--json", "--client", "10.0.5.0/24", str(path)).json()["results"]
    assert (r["records"], r["line_counts"]["filtered_out"]) == (3, 0)
    r = run_cli("proxylog", "--json", "--client", "10.9.9.9", str(path)).json()["results"]
    assert (r["records"], r["line_counts"]["filtered_out"]) == (0, 3)
    r = run_cli("proxylog", "--json", "--since", "2023-11-14T22:13:25Z", "--until", "1700000015", str(path))
    assert r.json()["results"]["records"] == 1
    r = run_cli("proxylog", "--json", "--since", "2023-11-14 23:13:25+01:00", str(path)).json()["results"]
    assert r["records"] == 2 and r["filters"]["since"] == "2023-11-14T22:13:25Z"


def test_format_can_be_forced(run_cli: RunCli, corpus: Path) -> None:
    result = run_cli("proxylog", "--json", "--format", "squid", str(corpus / "logs/aadconnect/"
                                                                           "msdocs_reference_proxy_log.tsv"))
    r = result.json()["results"]
    assert r["format"] == "squid" and r["line_counts"]["bad"] == 21  # every connect:// row, as squid: bad


@pytest.mark.parametrize(("setup", "message"), [
    (lambda d: _write(d, "trace.log", b"AzureADConnectAuthenticationAgentService.exe Error: 0 : failed\n"),
     "not a proxy log"),
    (lambda d: _write(d, "junk.bin", bytes(range(256)) * 10), "binary data"),
    (lambda d: _write(d, "empty.log", b""), "empty"),
    (lambda d: d / "missing.log", "no such file"),
])
def test_input_errors_are_one_line_and_exit_2(run_cli: RunCli, tmp_path: Path, setup: Callable[[Path], Path],
                                              message: str) -> None:
    result = run_cli("proxylog", str(setup(tmp_path)))
    assert result.code == 2
    assert result.stderr.startswith("aadc-doctor: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--since", "2024-01-02", "--until", "2024-01-01"],
                                  ["--format", "csv"], []])
def test_usage_errors(run_cli: RunCli, corpus: Path, args: list[str]) -> None:
    files = [str(corpus / "logs/proxy/plaso_squid_access.log")] if args else []
    result = run_cli("proxylog", *args, *files)
    assert result.code == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--since", "nan"], ["--since", "inf"], ["--until", "1e400"], ["--since", "1e20"],
                                  ["--since", "0001-01-01T00:00+01:00"], ["--client", "999.1.1.1"],
                                  ["--client", "10.0.0.0/99"]])
def test_impossible_times_and_addresses_are_one_line_usage_errors(run_cli: RunCli, corpus: Path,
                                                                 args: list[str]) -> None:
    """float() takes nan/inf/1e400 and they crashed later (exit 4); a mistyped address became a client name."""
    result = run_cli("proxylog", *args, str(corpus / "logs/proxy/plaso_squid_access.log"))
    assert result.code == 2, result.stderr
    assert result.stderr.startswith(f"aadc-doctor: error: {args[0]} ")
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_human_output_names_denials(run_cli: RunCli, tmp_path: Path) -> None:
    path = _write(tmp_path, "a.log", ("\n".join(SQUID_LINES[:4]) + "\n").encode())
    result = run_cli("proxylog", str(path))
    assert result.code == 1
    assert "adminwebservice.microsoftonline.com:443: 2x 403" in result.stdout
    assert "[ERROR] The proxy denied adminwebservice.microsoftonline.com:443 (2x 403)" in result.stdout


def test_the_line_summary_says_which_lines_were_only_counted(run_cli: RunCli, corpus: Path) -> None:
    """It said '0 to unrelated hosts' for a log whose every line goes to an unrelated host (counted, not parsed)."""
    sample = str(corpus / "logs/proxy/plaso_squid_access.log")
    fast = run_cli("proxylog", sample).stdout.splitlines()[1]
    assert fast == "8 lines: 8 naming no Azure AD domain (counted, not parsed), 0 parsed in full, 0 analysed " \
                   "(times in UTC)"
    full = run_cli("proxylog", "--full-parse", sample).stdout.splitlines()[1]
    assert full == "8 lines: 8 parsed in full, 8 analysed, 8 of them to unrelated hosts (times in UTC)"


def test_filters_that_leave_nothing_are_named_in_the_title(run_cli: RunCli, corpus: Path) -> None:
    """The title said no request names an Azure AD endpoint although 21 did, all outside --client."""
    listing = str(corpus / "logs/aadconnect/msdocs_reference_proxy_log.tsv")
    finding = run_cli("proxylog", "--json", "--client", "10.9.9.9", listing).json()["findings"][0]
    assert finding["title"] == ("No request in this log within the --client/--since/--until filters names an "
                                "Azure AD endpoint")
    assert "21 catalog lines filtered out" in finding["detail"]
    unfiltered = run_cli("proxylog", "--json", str(corpus / "logs/proxy/plaso_squid_access.log")).json()
    assert unfiltered["findings"][0]["title"] == "No request in this log names an Azure AD endpoint"


def test_a_run_of_407s_is_not_called_handshake_legs(run_cli: RunCli, tmp_path: Path) -> None:
    """31 407s then a tunnel: the table note called them all 'handshake legs' next to a finding saying the
    account cannot authenticate."""
    lines = [f"{1700000000 + i}.100      5 10.0.0.5 TCP_DENIED/407 3900 CONNECT login.microsoftonline.com:443 - "
             "HIER_NONE/- text/html" for i in range(31)]
    lines.append("1700000040.100      5 10.0.0.5 TCP_TUNNEL/200 3900 CONNECT login.microsoftonline.com:443 "
                 "CONTOSO\\\\svc HIER_DIRECT/1.2.3.4 -")
    path = _write(tmp_path, "access.log", ("\n".join(lines) + "\n").encode())
    result = run_cli("proxylog", str(path))
    assert "login.microsoftonline.com:443: 1x 200, 31x 407 (31 407 answers before a successful retry)" \
        in result.stdout
    assert "handshake legs" not in result.stdout
    assert "proxylog-auth-failing" in result.stdout


def test_the_endpoint_counts_survive_an_80_column_console(run_cli: RunCli, tmp_path: Path) -> None:
    """At 80 columns rich dropped req/ok/denied/other entirely: the time span and profiles could not wrap."""
    lines = [f"{1700000000 + i * 100000}.000 5 10.0.0.5 TCP_DENIED/403 39 CONNECT "
             "adminwebservice.microsoftonline.com:443 - HIER_NONE/- -" for i in range(3)]
    path = _write(tmp_path, "access.log", ("\n".join(lines) + "\n").encode())
    out = run_cli("proxylog", str(path), env={"COLUMNS": "80"}).stdout.splitlines()
    header = next(line for line in out if line.startswith("endpoint"))
    assert header.split()[:5] == ["endpoint", "req", "ok", "denied", "other"]
    row = next(line for line in out if line.startswith("adminwebservice.microsoftonline.com:443"))
    assert row.split()[1:5] == ["3", "0", "3", "0"]


def test_an_empty_rotated_file_among_others_is_skipped_not_fatal(run_cli: RunCli, tmp_path: Path) -> None:
    """`proxylog access.log*` stopped with 'the file is empty' when a just-rotated log was among the files."""
    log = _write(tmp_path, "access.log", ("\n".join(SQUID_LINES[:4]) + "\n").encode())
    rotated = _write(tmp_path, "access.log.1", b"")
    result = run_cli("proxylog", "--json", str(log), str(rotated))
    assert result.code == 1, result.stderr
    doc = result.json()
    assert doc["results"]["records"] == 3
    assert ("proxylog-empty-files", str(rotated)) in [(f["id"], f["subject"]) for f in doc["findings"]]
    alone = run_cli("proxylog", str(rotated), str(rotated))
    assert alone.code == 2 and alone.stderr.startswith("aadc-doctor: error: every file given is empty")


def test_the_fast_path_finds_mixed_case_host_names(tmp_path: Path, run_cli: RunCli) -> None:
    """W3C and combined logs keep the client's spelling: the fast path (no --full-parse) must still see them."""
    w3c = tmp_path / "ex.log"
    w3c.write_text("#Fields: date time c-ip cs-method cs-uri sc-status\n"
                   + "2024-01-01 10:00:00 10.0.5.20 CONNECT www.example.org:443 200\n" * 50
                   + "2024-01-01 10:00:01 10.0.5.20 CONNECT Login.MicrosoftOnline.COM:443 403\n", encoding="utf-8")
    combined = tmp_path / "access.log"
    combined.write_text('10.0.5.20 - - [01/Jan/2024:10:00:01 +0000] "CONNECT www.example.org:443 HTTP/1.1" 200 5\n' * 50
                        + '10.0.5.20 - - [01/Jan/2024:10:00:02 +0000] "CONNECT ProvisioningAPI.microsoftonline.com:443'
                          ' HTTP/1.1" 403 5\n', encoding="utf-8")
    for path, host, fmt in ((w3c, "login.microsoftonline.com", "w3c"),
                            (combined, "provisioningapi.microsoftonline.com", "combined")):
        result = run_cli("proxylog", "--json", str(path))
        assert result.code == 1, result.stderr
        report = result.json()
        assert (report["results"]["format"], report["results"]["files"][0]["fast_path"]) == (fmt, True)
        assert [(f["id"], f["subject"]) for f in report["findings"]] == [("proxylog-required-denied", f"{host}:443")]


# ---- the reading helper process (--jobs): the same report as one process -----------------------------------------

TINYPROXY_LINES = [
    'CONNECT   Nov 21 10:00:00.000 [1]: Connect (file descriptor 7): 10.0.5.20',
    'CONNECT   Nov 21 10:00:00.000 [1]: Request (file descriptor 7): CONNECT login.microsoftonline.com:443 HTTP/1.1',
    'INFO      Nov 21 10:00:00.000 [1]: Established connection to host "login.microsoftonline.com" using file '
    'descriptor 8.',
    'CONNECT   Nov 21 10:00:01.000 [1]: Connect (file descriptor 9): 10.0.5.20',
    'CONNECT   Nov 21 10:00:01.000 [1]: Request (file descriptor 9): CONNECT adminwebservice.microsoftonline.com:443 '
    'HTTP/1.1',
]


LINUX_FORK = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="proxylog's reading helper is forked: Linux only (elsewhere a thread reads)")


def _parallel_inputs(folder: Path) -> list[tuple[Path, tuple[str, ...]]]:
    """Inputs that exercise every fact the helper sends back: bad lines (numbered), an overlong line, NUL bytes,
    lone CR line ends, a cut .gz, UTF-16, W3C in mixed case, tinyproxy's open requests at the end of the file."""
    block = "\n".join(SQUID_LINES * 40) + "\n"
    squid = folder / "squid.log"
    overlong = "1700000050.000 x " + "login.microsoftonline.com" * 50_000 + "\n"
    squid.write_text("\n".join(SQUID_LINES[:4] * 750) + "\n" + block * 30 + overlong + block * 5)
    nul = folder / "nul.log"
    nul.write_bytes(block.encode() * 10 + b"\x00" * 5000 + block.encode() * 10)
    lone_cr = folder / "cr.log"
    lone_cr.write_bytes(block.replace("\n", "\r").encode() * 20)
    cut_gz = folder / "cut.log.gz"
    cut_gz.write_bytes(gzip.compress(block.encode() * 40)[:-200])
    utf16 = folder / "utf16.log"
    utf16.write_bytes(("\ufeff" + block * 20).encode("utf-16-le"))
    w3c = folder / "w3c.log"
    w3c.write_text("#Software: Microsoft Internet Security and Acceleration Server 2006\n"
                   "#Fields: c-ip date time cs-method cs-uri sc-status\n"
                   + "10.0.5.20 2024-05-01 08:00:01 CONNECT Login.MicrosoftOnline.com:443 200\n"
                   "10.0.5.20 2024-05-01 08:00:02 CONNECT ADMINWEBSERVICE.microsoftonline.com:443 403\n"
                   "10.0.5.20 2024-05-01 08:00:03 CONNECT www.example.org:443\n" * 2000)
    tinyproxy = folder / "tinyproxy.log"
    tinyproxy.write_text("\n".join(TINYPROXY_LINES * 500) + "\n")
    return [(squid, ()), (squid, ("--full-parse",)), (squid, ("--client", "10.0.5.20")), (nul, ()), (lone_cr, ()),
            (cut_gz, ()), (utf16, ()), (w3c, ()), (tinyproxy, ())]


def _without_times(report: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in report.items() if key not in ("started_at", "finished_at")}


@LINUX_FORK
def test_a_helper_process_gives_the_report_one_process_gives(run_cli: RunCli, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Small chunks (4 KiB) cut every input into many, so chunk boundaries meet every kind of line."""
    from aadc_doctor import parallel
    from aadc_doctor.logs import chunked_reader

    monkeypatch.setattr(chunked_reader, "CHUNK_BYTES", 4096)
    helpers = []
    real_stream = parallel.forked_stream

    def counted(produce: Any) -> Any:
        helpers.append(produce)
        return real_stream(produce)

    monkeypatch.setattr(parallel, "forked_stream", counted)
    # in this shared test process an earlier test may have left a library's native thread pool idle (the evtx
    # package's), which makes the CLI keep to one process; a command line run starts with none
    monkeypatch.setattr(parallel, "cheap_start_available", lambda: True)
    for path, options in _parallel_inputs(tmp_path):
        one = run_cli("proxylog", "--json", "--jobs", "1", *options, str(path))
        assert not helpers, path
        two = run_cli("proxylog", "--json", "--jobs", "2", *options, str(path))
        assert len(helpers) == 1, f"{path}: no helper process read it (a thread running?)"
        helpers.clear()
        assert (two.code, two.stderr) == (one.code, one.stderr), path
        assert _without_times(two.json()) == _without_times(one.json()), (path, options)
        assert one.json()["results"]["lines"] > 100
    squid = tmp_path / "squid.log"
    report = run_cli("proxylog", "--json", "--jobs", "2", str(squid)).json()["results"]
    bad = [n for n, line in enumerate(squid.read_text().splitlines(), 1) if "garbage" in line]
    assert bad[0] > 3000 and [s["line"] for s in report["bad_line_samples"]] == bad[:10]  # counted in the helper
    assert report["line_counts"]["overlong"] == 1


def test_jobs_must_be_a_positive_number(run_cli: RunCli, tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("\n".join(SQUID_LINES) + "\n")
    result = run_cli("proxylog", "--jobs", "0", str(log))
    assert result.code == 2 and result.stderr.count("\n") <= 2 and "--jobs 0" in result.stderr


def _big_logs(folder: Path, copies: int) -> list[str]:
    """``copies`` names of one 20 MB Squid log (symbolic links: written once, read from the page cache)."""
    block = ("\n".join(SQUID_LINES[:4] * 25 + [SQUID_LINES[2]] * 900) + "\n").encode()
    log = folder / "big.log"
    with log.open("wb") as out:
        for _ in range(20 * 1024 * 1024 // len(block)):
            out.write(block)
    names = []
    for n in range(copies):
        name = folder / f"access-{n}.log"
        name.symlink_to(log)
        names.append(str(name))
    return names


def _start_and_wait_for_helper(files: list[str]) -> tuple[Any, list[str]]:
    import subprocess
    import sys

    from tests.infra.procs import wait_for_children

    proc = subprocess.Popen([sys.executable, "-m", "aadc_doctor", "proxylog", "--json", "--jobs", "2", *files],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    return proc, wait_for_children(proc, 20)


@LINUX_FORK
@pytest.mark.parametrize("whole_group", [True, False], ids=["ctrl-c to the group", "sigint to the main process"])
def test_ctrl_c_while_a_helper_reads_exits_130_and_leaves_no_helper(tmp_path: Path, whole_group: bool) -> None:
    import os
    import signal

    proc, helpers = _start_and_wait_for_helper(_big_logs(tmp_path, 30))
    try:
        assert helpers, "no helper process was seen while the logs were read"
        if whole_group:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        else:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode in (130, -signal.SIGINT), err  # see tests/cli/test_pta_parallel.py
    assert err.strip() == "aadc-doctor: interrupted" and "Traceback" not in out + err
    assert all_gone(helpers)


@LINUX_FORK
def test_a_helper_killed_mid_read_is_a_run_that_could_not_complete(tmp_path: Path) -> None:
    import os
    import signal

    proc, helpers = _start_and_wait_for_helper(_big_logs(tmp_path, 30))
    try:
        assert helpers, "no helper process was seen while the logs were read"
        os.kill(int(helpers[0]), signal.SIGKILL)  # the OOM killer, or an admin
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 3, err
    assert "ended before it was done" in err and "--jobs 1" in err and "Traceback" not in out + err
    assert all_gone(helpers)
