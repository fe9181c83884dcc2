"""`aadc-doctor explain`: every input form of the issue, the JSON contract, stdin, and hostile input."""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path

import pytest

from aadc_doctor.errors import ExitCode

CONTRACT_KEYS = {"kind", "code", "name", "message", "cause", "remedy", "see_also"}


def official(corpus: Path, name: str, key: str) -> dict[str, dict[str, str]]:
    with (corpus / "errors" / name).open(encoding="utf-8", newline="") as fh:
        return {row[key]: row for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)}


@pytest.mark.parametrize(("arg", "kind", "code"), [
    ("AADSTS80001", "aadsts", "AADSTS80001"), ("80001", "aadsts", "AADSTS80001"), ("1328", "win32", "1328"),
    ("0x530", "win32", "1328"), ("0xC000006F", "ntstatus", "0xC000006F"), ("C000006F", "ntstatus", "0xC000006F"),
    ("-1073741681", "ntstatus", "0xC000008F"), ("407", "http", "407"),
    ("Proxy Authentication Required", "http", "407"), ("InvalidGrant", "adal", "InvalidGrant"),
    ("invalid grant", "adal", "InvalidGrant"), ("AzureRoleMissing", "adal", "AzureRoleMissing"),
])
def test_every_input_form_of_the_issue(run_cli, arg: str, kind: str, code: str) -> None:
    result = run_cli("explain", arg, "--json")
    assert result.code == ExitCode.OK, result.stderr
    entries = result.json()["results"]["entries"]
    assert (entries[0]["kind"], entries[0]["code"], entries[0]["reading"]) == (kind, code, 1)
    for entry in entries:
        assert entry.keys() >= CONTRACT_KEYS
        assert isinstance(entry["see_also"], list)


def test_pta_trace_line_from_the_corpus(run_cli, corpus: Path) -> None:
    win32 = official(corpus, "win32.tsv", "code")
    for log in sorted((corpus / "logs" / "pta").glob("*.log")):
        result = run_cli("explain", log.read_text(encoding="utf-8"), "--json")
        assert result.code == ExitCode.OK
        first = result.json()["results"]["entries"][0]
        assert first["code"] == "1328" and first["message"] == win32["1328"]["message"]
        assert first["found"] == "Reason: '1328'"
        assert "AADSTS80012" in first["cause"]


def test_invoke_webrequest_error(run_cli, corpus: Path) -> None:
    wizard = official(corpus, "aadconnect_wizard_errors.tsv", "error")
    text = ("Invoke-WebRequest : The remote server returned an error: (407) Proxy Authentication Required.\n"
            "At line:1 char:1\n+ Invoke-WebRequest -Uri https://adminwebservice.microsoftonline.com/"
            "ProvisioningService.svc\n")
    entries = run_cli("explain", text, "--json").json()["results"]["entries"]
    assert [(e["kind"], e["code"]) for e in entries] == [("http", "407")]
    assert entries[0]["message"] == wizard["407"]["comment"]


def test_aadsts_message_with_trace_and_correlation_ids(run_cli, corpus: Path) -> None:
    aadsts = official(corpus, "aadsts.tsv", "code")
    text = ("AADSTS80014: Validation request responded after maximum elapsed time exceeded.\n"
            "Trace ID: 0f4b5a36-3c1d-4b5e-9a33-1b2c3d4e5f60\nCorrelation ID: 7c1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8\n"
            "Timestamp: 2024-05-01 10:11:12Z")
    entries = run_cli("explain", text, "--json").json()["results"]["entries"]
    assert entries[0]["code"] == "AADSTS80014"
    assert entries[0]["message"] == aadsts["80014"]["description"]
    assert len([e for e in entries if e["kind"] in {"win32", "ntstatus"}]) == 0, "no code read from the ids"


def test_the_ids_of_a_pasted_aadsts_error_are_shown_with_their_use(run_cli) -> None:
    text = ("AADSTS50126: Error validating credentials due to invalid username or password.\n"
            "Trace ID: 0f4b5a36-3c1d-4b5e-9a33-1b2c3d4e5f60\nCorrelation ID: 7c1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8\n"
            "Timestamp: 2024-05-01 10:11:12Z")
    results = run_cli("explain", text, "--json").json()["results"]
    assert results["request_ids"] == [{"correlation_id": "7c1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8",
                                       "trace_id": "0f4b5a36-3c1d-4b5e-9a33-1b2c3d4e5f60",
                                       "timestamp": "2024-05-01 10:11:12Z"}]
    human = run_cli("explain", text).stdout
    assert "Correlation  7c1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8" in human
    assert "Sign-in logs" in human
    assert run_cli("explain", "1328", "--json").json()["results"]["request_ids"] == []


def test_every_code_in_the_text_is_explained(run_cli) -> None:
    text = "Reason: '1909' after AADSTS50053; DC says Sub Status: 0xC0000234 and Failure Code: 0x18"
    entries = run_cli("explain", text, "--json").json()["results"]["entries"]
    first_readings = [(e["kind"], e["code"]) for e in entries if e["reading"] == 1]
    assert first_readings == [("win32", "1909"), ("aadsts", "AADSTS50053"), ("ntstatus", "0xC0000234"),
                              ("kerberos", "0x18")]


def test_human_output_shows_the_likeliest_reading_then_the_others(run_cli) -> None:
    result = run_cli("explain", "403")
    assert result.code == ExitCode.OK
    lines = result.stdout.splitlines()
    assert any(line.startswith("HTTP 403") for line in lines)
    also = [line for line in lines if "also read as Win32 403" in line]
    assert also and lines.index(also[0]) > next(i for i, line in enumerate(lines) if line.startswith("HTTP 403"))
    assert all(line == line.rstrip() for line in lines), "no padding at line ends"


def test_free_text_without_a_code_is_ranked(run_cli) -> None:
    result = run_cli("explain", "logon hours", "--json")
    assert result.code == ExitCode.OK
    results = result.json()["results"]
    assert results["matched_by"] == "relevance"
    assert 1 < len(results["entries"]) <= 5
    assert "1328" in [e["code"] for e in results["entries"]]


def test_no_match_exits_1_with_suggestions(run_cli) -> None:
    result = run_cli("explain", "authorisatoinfailure")
    assert result.code == ExitCode.PROBLEMS_FOUND
    assert "No entry matches" in result.stdout
    assert "AuthorizationFailure" in result.stdout
    data = run_cli("explain", "authorisatoinfailure", "--json").json()["results"]
    assert data["entries"] == [] and "AuthorizationFailure" in data["suggestions"]


def test_no_match_without_a_close_name_still_says_what_to_try(run_cli) -> None:
    result = run_cli("explain", "qwzxv")
    assert result.code == ExitCode.PROBLEMS_FOUND
    assert "No entry matches" in result.stdout
    assert "Try a code (1328, 0x530, AADSTS80001" in result.stdout


def test_a_huge_paste_without_any_code_answers_quickly(run_cli) -> None:
    """The "did you mean" search split the whole text into words once per known name: minutes for a megabyte."""
    started = time.monotonic()
    result = run_cli("explain", "x" * 200_000, "--json")
    assert result.code == ExitCode.PROBLEMS_FOUND
    assert time.monotonic() - started < 3


def test_unknown_code_exits_1(run_cli) -> None:
    result = run_cli("explain", "AADSTS99999999", "--json")
    assert result.code == ExitCode.PROBLEMS_FOUND
    assert result.json()["results"]["unknown"] == ["AADSTS99999999"]


@pytest.mark.parametrize("args", [(), ("",), ("   ", "\n\t")])
def test_empty_input_exits_2(run_cli, args: tuple[str, ...]) -> None:
    result = run_cli("explain", *args)
    assert result.code == ExitCode.USAGE_OR_INPUT
    assert result.stderr.startswith("aadc-doctor: error: explain: nothing to explain")
    assert "Traceback" not in result.stderr


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_dash_reads_stdin_utf8_and_utf16(run_cli, monkeypatch: pytest.MonkeyPatch, corpus: Path) -> None:
    log = (corpus / "logs" / "pta" / "msdocs_pta_agent_trace_example.log").read_text(encoding="utf-8")
    _stdin(monkeypatch, log.encode("utf-8"))
    assert run_cli("explain", "-", "--json").json()["results"]["entries"][0]["code"] == "1328"
    _stdin(monkeypatch, log.encode("utf-16"))  # with BOM, as PowerShell 5 writes files
    assert run_cli("explain", "-", "--json").json()["results"]["entries"][0]["code"] == "1328"
    _stdin(monkeypatch, b"")
    assert run_cli("explain", "-").code == ExitCode.USAGE_OR_INPUT


def test_binary_junk_never_tracebacks(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, bytes(range(256)) * 100 + b"\x00Reason: '1330'\x00")
    result = run_cli("explain", "-", "--json")
    assert result.code == ExitCode.OK
    assert result.json()["results"]["entries"][0]["code"] == "1330"
    for junk in ("\x00\x01\x02", "\ufffd" * 10, "%s%n%x", "((((", "0x", "-", "AADSTS", "Reason: ''"):
        result = run_cli("explain", junk) if junk != "-" else run_cli("explain", "--", junk)
        assert result.code in {ExitCode.OK, ExitCode.PROBLEMS_FOUND, ExitCode.USAGE_OR_INPUT}, junk
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, junk


def test_huge_line(run_cli) -> None:
    text = "x" * 500_000 + " Reason: '1331' " + "y" * 500_000
    result = run_cli("explain", text, "--json")
    assert result.json()["results"]["entries"][0]["code"] == "1331"


def test_renamed_errors_show_todays_name_and_the_seeds_code(run_cli) -> None:
    result = run_cli("explain", "AzureRoleMissing")
    title = next(line for line in result.stdout.splitlines() if line.strip())
    assert title.startswith("Microsoft Entra Global Administrator role needed (AzureRoleMissing)")
    assert any(line.startswith("Seed article") for line in result.stdout.splitlines())


def test_see_also_does_not_repeat_the_check_with_command(run_cli) -> None:
    lines = run_cli("explain", "InvalidGrant").stdout.splitlines()
    assert "Check with   aadc-doctor account UPN" in lines
    assert "See also     The password cannot be verified" in lines  # no ", aadc-doctor account UPN" again


@pytest.mark.parametrize(("text", "codes"), [
    ("1330 1331", ["1330", "1331"]),
    ("1328, 1329", ["1328", "1329"]),
    ("1326,1327; 0x530", ["1326", "1327", "1328"]),
])
def test_a_list_of_bare_codes_in_one_argument_reads_each(run_cli, text: str, codes: list[str]) -> None:
    """'1330 1331' matched nothing: a bare number in longer text needed a word such as 'error' before it."""
    result = run_cli("explain", text, "--json")
    assert result.code == ExitCode.OK
    assert [e["code"] for e in result.json()["results"]["entries"] if e["reading"] == 1] == codes


def test_a_winhttp_code_in_hex(run_cli) -> None:
    entries = run_cli("explain", "0x2EE7", "--json").json()["results"]["entries"]
    assert (entries[0]["kind"], entries[0]["code"]) == ("winhttp", "12007")


@pytest.mark.parametrize("text", ["dc.services.visualstudio.com", "nsatc.net",
                                  "connect://dc.services.visualstudio.com:443"])
def test_the_seeds_red_herrings_are_explained(run_cli, text: str) -> None:
    """S1 names hosts that can be ignored in network logs; explain matched nothing or unrelated NERR codes."""
    entries = run_cli("explain", text, "--json").json()["results"]["entries"]
    assert entries[0]["code"] == "NetworkLogRedHerrings"


def test_a_lone_small_number_is_not_matched_to_names_containing_it(run_cli) -> None:
    """'-1' (no table's code) was 'explained' as ERROR_WAIT_1 by relevance on the word '1'."""
    result = run_cli("explain", "--json", "--", "-1")
    assert result.code == ExitCode.PROBLEMS_FOUND
    assert result.json()["results"]["entries"] == []


def test_mfa_required_finds_the_aadsts_code_a_password_sign_in_gets(run_cli) -> None:
    """'MFA required' ranked AADSTS50074 first and never showed AADSTS50076, the code of S2's MFA known issue."""
    entries = run_cli("explain", "MFA required", "--json").json()["results"]["entries"]
    assert entries[0]["code"] == "AADSTS50076"
    assert "known issue" in entries[0]["remedy"]


def test_ids_in_a_pasted_logon_event_are_not_read_as_codes(run_cli) -> None:
    """'Caller Process ID: 0x1f4' was explained as Win32 500 and 'Logon ID: 0x3E7' as Win32 999."""
    event = ("An account failed to log on.\nSubject:\n\tLogon ID:\t\t0x3E7\nFailure Information:\n"
             "\tStatus:\t\t\t0xC000006D\n\tSub Status:\t\t0xC000006A\nProcess Information:\n"
             "\tCaller Process ID:\t0x1f4\n")
    entries = run_cli("explain", event, "--json").json()["results"]["entries"]
    assert [e["code"] for e in entries if e["reading"] == 1] == ["0xC000006D", "0xC000006A"]


def test_types_and_options_in_a_pasted_kerberos_event_are_not_read_as_codes(run_cli) -> None:
    """A successful 4768 was explained as KDC_ERR_CLIENT_REVOKED (its 'Ticket Encryption Type: 0x12', AES256) and
    KDC_ERR_SERVICE_EXP ('Pre-Authentication Type: 2')."""
    event = ("A Kerberos authentication ticket (TGT) was requested.\nNetwork Information:\n"
             "\tClient Address:\t\t::ffff:10.23.123.11\n\tClient Port:\t\t52112\nAdditional Information:\n"
             "\tTicket Options:\t\t0x40810010\n\tResult Code:\t\t0x6\n\tTicket Encryption Type:\t0x12\n"
             "\tPre-Authentication Type:\t2\n")
    entries = run_cli("explain", event, "--json").json()["results"]["entries"]
    assert [(e["kind"], e["code"]) for e in entries if e["reading"] == 1] == [("kerberos", "0x6")]
    assert not [e for e in entries if e["code"] in ("0x12", "0x2", "18", "2")]


@pytest.mark.parametrize(("text", "kind", "code"), [
    ("AADſTS: 50126", "aadsts", "AADSTS50126"),  # long s: "aadſts" is no key of the prefix table
    ("AADſTS50126", "aadsts", "AADSTS50126"),
    ("wİnhttp: 12029", "winhttp", "12029"),  # dotted capital I: "wİnhttp".lower() is 8 characters
    ("wİnİnet: 12007", "winhttp", "12007"),
    ("WİN32: 5", "win32", "5"),
    ("KERBEROſ: 0x18", "kerberos", "0x18"),
    ("nTſTATUS: 0xC000006A", "ntstatus", "0xC000006A"),
    ("reaſon: 1328", "win32", "1328"),
])
@pytest.mark.parametrize("json_output", [True, False], ids=["json", "human"])
def test_prefixes_whose_case_folding_changes_length_are_read(run_cli, text: str, kind: str, code: str,
                                                             json_output: bool) -> None:
    """Issue 17: such a prefix matched the case-insensitive pattern, then its lower-case form indexed the prefix
    table: KeyError, exit 4."""
    result = run_cli("explain", text, *(["--json"] if json_output else []))
    assert result.code == ExitCode.OK, result.stderr
    assert "internal error" not in result.stderr
    if json_output:
        first = result.json()["results"]["entries"][0]
        assert (first["kind"], first["code"], first["reading"]) == (kind, code, 1)
    else:
        assert code in result.stdout
