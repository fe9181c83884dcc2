"""knowledge.codes: every lookup answers from the official tables in corpus, typed and lazily loaded."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from aadc_doctor.knowledge import codes, win32_table


def corpus_rows(corpus: Path, name: str) -> list[dict[str, str]]:
    with (corpus / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_package_copies_are_byte_identical_to_the_corpus(corpus: Path) -> None:
    data = Path(codes.__file__).parent / "data"
    for name in ("win32.tsv", "ntstatus.tsv", "kerberos.tsv", "wininet_winhttp.tsv", "aadsts.tsv",
                 "pta_signin_errors.tsv", "aadconnect_wizard_errors.tsv"):
        assert (data / name).read_bytes() == (corpus / "errors" / name).read_bytes(), name


def test_every_win32_message_matches_the_official_table(corpus: Path) -> None:
    rows = corpus_rows(corpus, "errors/win32.tsv")
    assert len(rows) == 3066
    for row in rows:
        assert codes.win32_message(int(row["code"])) == row["message"]


@pytest.mark.parametrize(("code", "name"), [
    (1326, "ERROR_LOGON_FAILURE"), (1328, "ERROR_INVALID_LOGON_HOURS"), (1329, "ERROR_INVALID_WORKSTATION"),
    (1330, "ERROR_PASSWORD_EXPIRED"), (1331, "ERROR_ACCOUNT_DISABLED"), (1793, "ERROR_ACCOUNT_EXPIRED"),
    (1907, "ERROR_PASSWORD_MUST_CHANGE"), (1909, "ERROR_ACCOUNT_LOCKED_OUT"), (1311, "ERROR_NO_LOGON_SERVERS"),
])
def test_win32_entry_names_and_pta_meaning(code: int, name: str) -> None:
    entry = codes.win32_entry(code)
    assert entry is not None
    assert entry.kind == "win32" and entry.code == str(code) and entry.name == name
    assert entry.remedy, "logon failures carry the admin remedy of the PTA reason"
    assert entry.hex == f"0x{code:X}"


def test_unknown_codes_are_none() -> None:
    assert codes.win32_entry(16999) is None
    assert codes.win32_message(99999) is None
    assert codes.ntstatus_entry(0xC0FFEE00) is None
    assert codes.kerberos_entry(999) is None
    assert codes.aadsts_entry(12345) is None
    assert codes.winhttp_entries(12999) == []
    assert codes.pta_reason(5) is None
    assert codes.wizard_error("NoSuchError") is None


@pytest.mark.parametrize(("status", "win32"), [
    (0xC000006A, 1326), (0xC0000064, 1317), (0xC000006F, 1328), (0xC0000070, 1329), (0xC0000071, 1330),
    (0xC0000072, 1331), (0xC0000193, 1793), (0xC0000224, 1907), (0xC0000234, 1909), (0xC000015B, 1385),
    (0xC000006D, 1326), (0xC000006E, 1327), (0xC000005E, 1311), (0xC0000133, 1398), (0xC0000413, 1935),
])
def test_ntstatus_to_win32_logon_family(status: int, win32: int) -> None:
    assert codes.ntstatus_to_win32(status) == win32
    assert codes.ntstatus_to_win32(status - 2**32) == win32  # the negative int32 form


def test_ntstatus_map_pairs_matching_names(corpus: Path) -> None:
    """RtlNtStatusToDosError pairs STATUS_X with ERROR_X; our table must not pair mismatched names by mistake."""
    nt_names = {int(r["code_hex"], 16): r["name"] for r in corpus_rows(corpus, "errors/ntstatus.tsv")}
    win_names = {int(r["code"]): r["name"] for r in corpus_rows(corpus, "errors/win32.tsv")}
    known_renames = {0xC000006A, 0xC0000064, 0xC000006D, 0xC0000133}  # logon-basis rows and documented renames
    data = Path(codes.__file__).parent / "data" / "ntstatus_win32.tsv"
    for row in csv.DictReader(data.open(encoding="utf-8"), delimiter="\t"):
        status, win32 = int(row["ntstatus"], 16), int(row["win32"])
        assert status in nt_names and win32 in win_names, row
        if status not in known_renames:
            assert nt_names[status].removeprefix("STATUS_") == win_names[win32].removeprefix("ERROR_"), row


def test_hresult_facility_win32_maps_to_low_word() -> None:
    assert codes.ntstatus_to_win32(0x80070530) == 1328
    assert codes.ntstatus_to_win32(0x12345678) is None


def test_ntstatus_entry_normalises_negative_int32_and_explains_the_logon_meaning(corpus: Path) -> None:
    entry = codes.ntstatus_entry(0xC000006F - 2**32)
    assert entry is not None
    assert entry.code == "0xC000006F" and entry.name == "STATUS_INVALID_LOGON_HOURS"
    official = {r["code_hex"]: r["message"] for r in corpus_rows(corpus, "errors/ntstatus.tsv")}
    assert entry.message == official["0xC000006F"]
    assert "1328" in entry.see_also and "AADSTS80012" in entry.see_also
    assert "Logon Hours" in entry.remedy


def test_kerberos_entry_adds_the_windows_cause(corpus: Path) -> None:
    entry = codes.kerberos_entry(0x18)
    assert entry is not None and entry.name == "KDC_ERR_PREAUTH_FAILED"
    assert entry.message == "Pre-authentication information was invalid"
    assert entry.cause == "The wrong password was provided."


def test_winhttp_and_wininet_both_answer_a_12xxx_code(corpus: Path) -> None:
    entries = codes.winhttp_entries(12007)
    assert [e.kind for e in entries] == ["winhttp", "wininet"]
    official = {(r["code"], r["api"]): r["message"] for r in corpus_rows(corpus, "errors/wininet_winhttp.tsv")}
    assert entries[0].message == official[("12007", "WinHTTP")]
    assert entries[1].message == official[("12007", "WinINet")]


def test_every_aadsts_code_of_the_official_table_is_answered(corpus: Path) -> None:
    rows = corpus_rows(corpus, "errors/aadsts.tsv")
    assert len(rows) == 304
    for row in rows:
        entry = codes.aadsts_entry(int(row["code"]))
        assert entry is not None
        assert entry.code == row["error"] and entry.name == row["name"] and entry.message == row["description"]


def test_pta_sign_in_codes_carry_the_pta_articles_resolutions(corpus: Path) -> None:
    for row in corpus_rows(corpus, "errors/pta_signin_errors.tsv"):
        entry = codes.aadsts_entry(int(row["code"].removeprefix("AADSTS")))
        assert entry is not None
        assert any(row["reason"].rstrip(".") in note and row["resolution"] in note for note in entry.notes), row
        assert entry.cause and entry.remedy and entry.checked_by, row["code"]


def test_aadsts_8002_typo_is_recorded() -> None:
    entry = codes.aadsts_entry(80002)
    assert entry is not None
    assert codes.aadsts_aliases()["aadsts8002"] == 80002
    assert any("typo" in note for note in entry.notes)


@pytest.mark.parametrize(("name", "code"), [
    ("InvalidGrant", "InvalidGrant"), ("Invalid Grant", "InvalidGrant"), ("invalid grant", "InvalidGrant"),
    ("invalid_grant", "InvalidGrant"), ("AzureRoleMissing", "AzureRoleMissing"),
    ("Authentication Canceled", "AuthenticationCancelled"), ("get-msoldomain-failed", "RetrieveDomains"),
    ("Unable to connect to the remote server", "UnableToConnect"),
])
def test_wizard_error_accepts_any_spelling(name: str, code: str) -> None:
    entry = codes.wizard_error(name)
    assert entry is not None and entry.code == code


def test_http_entries_come_from_the_official_wizard_table(corpus: Path) -> None:
    official = {r["error"]: r for r in corpus_rows(corpus, "errors/aadconnect_wizard_errors.tsv")}
    for status in (403, 407):
        entry = codes.http_entry(status)
        assert entry is not None and entry.kind == "http"
        assert entry.name == official[str(status)]["text"]
        assert entry.message == official[str(status)]["comment"]
    assert codes.wizard_error("407") is None, "HTTP statuses are not wizard errors"


def test_curated_official_messages_match_the_corpus(corpus: Path) -> None:
    official = {r["comment"] for r in corpus_rows(corpus, "errors/aadconnect_wizard_errors.tsv")}
    with_official = [e for e in codes.curated_entries() if "aadconnect_wizard_errors.tsv" in e.source]
    assert len(with_official) == 15, "every row of the official wizard table is used once"
    for entry in with_official:
        assert entry.message in official


def test_every_curated_entry_is_complete() -> None:
    keys = set()
    for entry in codes.curated_entries():
        assert entry.kind in {"wizard", "adal", "http", "powershell", "pta", "reference"}
        assert entry.name and entry.message and entry.cause and entry.remedy, entry.code
        assert entry.key not in keys
        keys.add(entry.key)
        for command in filter(None, [entry.checked_by]):
            assert command.startswith("aadc-doctor ")


def test_pta_reasons_point_at_known_codes() -> None:
    reasons = codes.pta_reasons()
    assert {1326, 1327, 1328, 1329, 1330, 1331, 1793, 1907, 1909, 1311} <= {r.win32_code for r in reasons}
    for reason in reasons:
        assert codes.win32_message(reason.win32_code) is not None
        assert reason.aadsts_code is None or codes.aadsts_entry(reason.aadsts_code) is not None
        assert reason.aadsts_basis in {"documented", "inference"}
        for status in reason.ntstatus:
            # a SubStatus under STATUS_LOGON_FAILURE reaches LogonUser callers as 1326
            assert codes.ntstatus_to_win32(status) == reason.win32_code or reason.win32_code == 1326


def test_current_facts_keep_the_seed_version_beside_them() -> None:
    trace = codes.curated_entry("Detailed trace logs")
    assert trace is not None
    assert "AzureADConnectAuthenticationAgentService.exe" in trace.current
    assert "ApplicationProxyConnectorService.exe" in trace.seed
    urls = codes.curated_entry("required URLs")
    assert urls is not None and "entrust.net" in urls.current and "entrust.com" in urls.seed


def test_entries_are_frozen() -> None:
    entry = codes.win32_entry(1328)
    assert entry is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.code = "1"  # type: ignore[misc]


def test_import_reads_no_table() -> None:
    """Importing codes must not load data (start-up speed of helpmsg)."""
    probe = ("import aadc_doctor.knowledge.codes as c, aadc_doctor.knowledge as k;"
             "print(k.read_tsv.cache_info().currsize, c.win32_rows.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "0"]


def test_all_entries_covers_every_table() -> None:
    kinds = {e.kind for e in codes.all_entries()}
    assert {"wizard", "adal", "http", "powershell", "pta", "reference", "aadsts", "win32", "ntstatus", "kerberos",
            "winhttp", "wininet"} <= kinds


def test_read_tsv_reads_every_table_as_csv_does() -> None:
    """The fast split reader agrees with the csv module on every TSV shipped in the package."""
    import io

    from aadc_doctor.knowledge import data_text, read_tsv

    data = Path(codes.__file__).parent / "data"
    for path in sorted(data.glob("*.tsv")):
        expected = [dict(r) for r in csv.DictReader(io.StringIO(data_text(path.name)), delimiter="\t",
                                                     quoting=csv.QUOTE_NONE)]
        assert list(read_tsv(path.name)) == expected, path.name


def test_single_row_scan_agrees_with_the_whole_table(corpus: Path) -> None:
    """helpmsg's fast path (scan for one line) returns what the parsed table holds, for every code."""
    rows = {int(r["code"]): r for r in corpus_rows(corpus, "errors/win32.tsv")}
    for code, row in rows.items():
        assert win32_table.win32_row_scan(code) == row
    for missing in (-1, 16999, 99999, 12002):
        assert win32_table.win32_row_scan(missing) is None


def test_every_named_command_exists_in_the_cli() -> None:
    """checked_by and "aadc-doctor ..." see-also entries must be commands the real parser accepts."""
    from aadc_doctor.cli import build_parser

    parser = build_parser()
    placeholders = {"UPN": "user@contoso.com", "PATH": "trace.log", "FILE": "proxy.log", "N": "1328"}
    commands = {e.checked_by for e in codes.all_entries() if e.checked_by}
    commands |= {s for e in codes.curated_entries() for s in e.see_also if s.startswith("aadc-doctor ")}
    commands |= {r.checked_by for r in codes.pta_reasons() if r.checked_by}
    assert len(commands) > 10
    for command in sorted(commands):
        argv = [placeholders.get(word, word) for word in command.split()[1:]]
        args = parser.parse_args(argv)
        assert args.command == argv[0], command
