"""explain.lookup and matcher: ranked readings, named errors, relevance and suggestions."""

from __future__ import annotations

import pytest

from aadc_doctor.explain import matcher
from aadc_doctor.explain.lookup import explain_all, explain_text, http_status_entry
from aadc_doctor.explain.netmsg import fill_inserts, helpmsg


def kinds_codes(text: str) -> list[tuple[str, str, int]]:
    return [(r.entry.kind, r.entry.code, r.rank) for r in explain_text(text).readings]


@pytest.mark.parametrize(("text", "first"), [
    ("AADSTS80001", ("aadsts", "AADSTS80001")),
    ("80001", ("aadsts", "AADSTS80001")),
    ("1328", ("win32", "1328")),
    ("0x530", ("win32", "1328")),
    ("0xC000006F", ("ntstatus", "0xC000006F")),
    ("C000006F", ("ntstatus", "0xC000006F")),
    ("-1073741713", ("ntstatus", "0xC000006F")),
    ("-1073741681", ("ntstatus", "0xC000008F")),  # the int32 form of 0xC000008F, not of 0xC000006F
    ("407", ("http", "407")),
    ("Proxy Authentication Required", ("http", "407")),
    ("InvalidGrant", ("adal", "InvalidGrant")),
    ("invalid grant", ("adal", "InvalidGrant")),
    ("invalid_grant", ("adal", "InvalidGrant")),
    ("AzureRoleMissing", ("adal", "AzureRoleMissing")),
    ("12029", ("winhttp", "12029")),
    ("ERROR_LOGON_FAILURE", ("win32", "1326")),
    ("OnPremiseStoreIsNotAvailable", ("aadsts", "AADSTS80001")),
    ("STATUS_ACCOUNT_LOCKED_OUT", ("ntstatus", "0xC0000234")),
    ("-2147023568", ("win32", "1328")),  # HRESULT 0x80070530
    ("0x80072EE2", ("winhttp", "12002")),  # HRESULT_FROM_WIN32(ERROR_WINHTTP_TIMEOUT): was "not in any table"
    ("HRESULT: 0x80072EFD", ("winhttp", "12029")),
    ("-2147012894", ("winhttp", "12002")),  # 0x80072EE2 as a signed int32
])
def test_likeliest_reading_first(text: str, first: tuple[str, str]) -> None:
    readings = kinds_codes(text)
    assert readings, text
    assert readings[0][:2] == first
    assert readings[0][2] == 1


def test_ambiguous_number_shows_the_other_readings_after() -> None:
    assert kinds_codes("403") == [("http", "403", 1), ("win32", "403", 2)]
    assert kinds_codes("win32:403") == [("win32", "403", 1)]
    assert kinds_codes("Failure Code: 0x18") == [("kerberos", "0x18", 1), ("win32", "24", 2)]
    assert kinds_codes("0x18")[:2] == [("win32", "24", 1), ("kerberos", "0x18", 2)]


def test_aadsts_8002_reads_as_80002_and_says_it_is_a_typo() -> None:
    readings = explain_text("AADSTS8002").readings
    assert readings[0].entry.code == "AADSTS80002"
    assert "typo" in readings[0].why
    bare = explain_text("8002").readings  # Win32 8002 exists: it comes first, the typo reading after
    assert [r.entry.code for r in bare] == ["8002", "AADSTS80002"]


def test_reason_line_explains_what_the_user_saw_and_the_fix() -> None:
    reading = explain_text("Reason: '1328'").readings[0]
    assert reading.entry.name == "ERROR_INVALID_LOGON_HOURS"
    assert "AADSTS80012" in reading.entry.cause
    assert "Logon Hours" in reading.entry.remedy
    assert reading.entry.checked_by == "aadc-doctor pta trace PATH"


def test_named_errors_in_text_and_longest_label_wins() -> None:
    assert kinds_codes("An unexpected error occured") == [("pta", "InstallUnexpectedError", 1)]
    assert kinds_codes("Unexpected error") == [("adal", "UnspecifiedAuthenticationFailure", 1)]


def test_free_text_is_ranked_by_relevance() -> None:
    answer = explain_text("password expired")
    assert answer.by_relevance
    codes_found = [r.entry.code for r in answer.readings]
    assert codes_found[0] == "UserPasswordExpired"
    assert "1330" in codes_found
    assert [r.rank for r in answer.readings] == list(range(1, len(answer.readings) + 1))
    scores = [r.score for r in answer.readings]
    assert scores == sorted(scores, reverse=True)


def test_no_match_gives_suggestions() -> None:
    answer = explain_text("authorisatoinfailure")
    assert not answer.matched
    assert "AuthorizationFailure" in answer.suggestions
    misspelt = explain_text("AzureRoleMisssing")  # its words still find the entry by relevance
    assert "AzureRoleMissing" in [r.entry.code for r in misspelt.readings]
    unknown = explain_text("AADSTS99999999")
    assert not unknown.matched and unknown.unknown == ("AADSTS99999999",)
    assert not explain_text("qwxzv").matched


def test_explain_all_merges_arguments_without_duplicates() -> None:
    answer = explain_all(["1328", "Reason: '1328'", "AADSTS80001"])
    assert [r.entry.code for r in answer.readings] == ["1328", "AADSTS80001"]


def test_generic_http_statuses() -> None:
    entry = http_status_entry(502)
    assert entry is not None and entry.name == "Bad Gateway"
    assert http_status_entry(799) is None


def test_an_hresult_wrapping_a_winhttp_code_reads_both_tables(corpus) -> None:
    rows = [line.split("\t") for line in (corpus / "errors/wininet_winhttp.tsv").read_text().splitlines()[1:]]
    expected = {(row[3].lower(), row[2], row[4]) for row in rows if row[0] == "12002"}
    readings = explain_text("0x80072EE2").readings
    assert {(r.entry.kind, r.entry.name, r.entry.message) for r in readings} == expected
    assert all("HRESULT 0x80072EE2 wraps" in r.why for r in readings)


def test_matcher_words_split_names() -> None:
    assert matcher.words("OnPremiseStoreIsNotAvailable") == ["premise", "store", "available"]
    assert matcher.words("ERROR_LOGON_FAILURE") == ["logon"]


def test_helpmsg_text_layout_and_inserts(corpus) -> None:
    assert helpmsg(1328).text == "\nYour account has time restrictions that keep you from signing in right now.\n\n"
    assert helpmsg(193).text == "\n*** is not a valid Win32 application.\n\n"
    assert helpmsg(193, raw=True).text == "\n%1 is not a valid Win32 application.\n\n"
    missing = helpmsg(99999)
    assert not missing.found
    assert missing.text == ("\n99999 is not a valid message number.\n\n"
                            "More help is available by typing NET HELPMSG 3871.\n\n")
    assert fill_inserts("%1 and %2!s! but not %hs") == "*** and *** but not %hs"


@pytest.mark.parametrize(("query", "first"), [
    ("agent cannot reach active directory", "AADSTS80001"),
    ("machine.config", "WizardNotConfigured"),
    ("TLS inspection", "TlsInspection"),
    ("account locked out", "1909"),
    ("global admin role missing", "AzureRoleMissing"),
    ("sign-in assistant", "SignInAssistantNotConfigured"),
])
def test_relevance_puts_the_entry_an_admin_means_first(query: str, first: str) -> None:
    assert explain_text(query).readings[0].entry.code == first


def test_an_entry_with_all_the_words_beats_one_with_a_single_title_word() -> None:
    codes_found = [r.entry.code for r in explain_text("agent cannot reach active directory").readings]
    assert codes_found.index("AADSTS80001") < codes_found.index("EnableNoAgents")


def test_an_entry_seen_twice_keeps_its_best_reading() -> None:
    answer = explain_all(["0x18", "Failure Code: 0x18"])
    assert [(r.entry.kind, r.entry.code, r.rank) for r in answer.readings] == [
        ("win32", "24", 1), ("kerberos", "0x18", 1)]


def test_a_number_passed_over_as_unknown_has_no_reading_indeed() -> None:
    """A paste of many codes passes over the numbers outside a known superset without reading each table: for every
    number up to 0x10400, every NTSTATUS and HRESULT neighbour, that shortcut must agree with the tables."""
    from aadc_doctor.explain import lookup
    from aadc_doctor.explain.code_finder import FoundCode, Hint
    from aadc_doctor.knowledge import codes

    known = lookup._numbers_known()
    values = [*range(0x10400), *codes.ntstatus_codes(), *(s + 1 for s in codes.ntstatus_codes()),
              *range(0x80070000, 0x80070000 + 0x3F00, 7), 0xFFFFFFFF, 10**10 - 1]
    passed_over = 0
    for value in values:
        found = FoundCode(value, str(value), 0, Hint.NONE)
        if lookup._surely_unknown(found, known):
            passed_over += 1
            assert lookup.readings_for(found) == [], value
    assert passed_over > 50_000  # the shortcut is taken for most numbers


def test_many_codes_explained_as_each_is_alone() -> None:
    """The shortcut changes nothing: a paste of many numbers gives, per number, the readings it gives alone."""
    values = [0, 5, 403, 407, 1328, 8002, 12007, 16000, 50126, 65537, 80002, 99999, 3221225581, 2147942405]
    text = "\n".join(str(v) for v in values * 30)
    together = {(r.entry.kind, r.entry.code) for r in explain_text(text).readings}
    alone = {(r.entry.kind, r.entry.code) for v in values for r in explain_text(str(v)).readings}
    assert together == alone
    assert ("aadsts", "AADSTS50126") in together
