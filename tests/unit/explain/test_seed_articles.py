"""Walk both seed articles: every error heading, code and error name they contain must be explained.

The headings and codes are read from the seed files themselves, so a heading this table does not
classify fails the test. Answers are checked against the official tables in corpus (not
against the package's copies).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from aadc_doctor.errors import ExitCode

S1 = "000_7b02501e1c753b8b.txt"  # connectivity article
S2 = "004_c2be89e9c6c0a16e.txt"  # PTA article

# seed heading -> (kind, code) of the first answer, and the `error` key of the official wizard table
# whose comment must be the answer's message (None when the current article has no row for it).
ERROR_HEADINGS: dict[str, tuple[str, str, str | None]] = {
    # S1: errors in the wizard, and the retired Sign-in Assistant
    "The installation wizard has not been correctly configured": ("wizard", "WizardNotConfigured", None),
    "The MFA endpoint cannot be reached": ("wizard", "MfaEndpointUnreachable", None),
    "The password cannot be verified": ("wizard", "PasswordCannotBeVerified", None),
    "The Sign-in assistant has not been correctly configured": ("wizard", "SignInAssistantNotConfigured", None),
    # S1: authentication errors (ADAL / PowerShell)
    "Invalid Grant": ("adal", "InvalidGrant", "Invalid grant"),
    "Unknown User Type": ("adal", "UnknownUserType", "Unknown user type"),
    "User Realm Discovery Failed": ("adal", "UserRealmDiscoveryFailed", "User realm discovery failed"),
    "User Password Expired": ("adal", "UserPasswordExpired", "User password expired"),
    "AuthorizationFailure": ("adal", "AuthorizationFailure", "Authorization failure"),
    "Authentication Cancelled": ("adal", "AuthenticationCancelled", "Authentication canceled"),
    "ConnectToMSOnline": ("adal", "ConnectToMSOnline", "Connect to MSOnline failed"),
    "AzureRoleMissing": ("adal", "AzureRoleMissing", "Microsoft Entra Global Administrator role needed"),
    "PrivilegedIdentityManagement": ("adal", "PrivilegedIdentityManagement", "Privileged Identity Management enabled"),
    "CompanyInfoUnavailable": ("adal", "CompanyInfoUnavailable", "Company information unavailable"),
    "RetrieveDomains": ("adal", "RetrieveDomains", "Domain information unavailable"),
    # S2: installation, registration, uninstallation, enabling
    "An Azure AD Application Proxy connector already exists": ("pta", "AppProxyConnectorAlreadyExists", None),
    "An unexpected error occured": ("pta", "InstallUnexpectedError", None),
    "Registration of the connecter failed due to blocked port(s)": ("pta", "RegistrationBlockedPorts", None),
    "Registration of the connector failed due to token or account authorization errors":
        ("pta", "RegistrationTokenErrors", None),
    "An unexpected error occurred": ("pta", "RegistrationUnexpectedError", None),
    "Warning message when uninstalling Azure AD Connect": ("pta", "UninstallWarning", None),
    "The enabling of the feature failed because there were no connectors available": ("pta", "EnableNoAgents", None),
    "The enabling of the feature failed due to blocked port(s)": ("pta", "EnableBlockedPorts", None),
    "The enabling of the feature failed due to token or account authorization errors":
        ("pta", "EnableTokenErrors", None),
    # S2: where the logs are (current and seed locations)
    "Connector event logs": ("reference", "PtaEventLogs", None),
    "Detailed trace logs": ("reference", "PtaTraceLogs", None),
    "Domain Controller logs": ("reference", "PtaSecurityLogQuery", None),
}
# Headings that name a procedure or hold a table, not an error (the table's codes are walked below).
NOT_ERROR_HEADINGS = {"Verify proxy connectivity", "Reference proxy logs", "User-facing sign-in errors"}

# The seed's AADSTS code -> the code it means (S2 prints AADSTS8002 for AADSTS80002).
SEED_AADSTS = {"AADSTS80001": 80001, "AADSTS8002": 80002, "AADSTS80004": 80004, "AADSTS80005": 80005,
               "AADSTS80007": 80007}


def table(corpus: Path, name: str) -> list[dict[str, str]]:
    with (corpus / "errors" / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def seed_text(corpus: Path, name: str) -> str:
    return (corpus / "seeds" / name).read_text(encoding="utf-8")


def headings(corpus: Path) -> set[str]:
    found: set[str] = set()
    for name in (S1, S2):
        found |= {m.strip() for m in re.findall(r"^### (.+)$", seed_text(corpus, name), re.MULTILINE)}
    return found


def test_every_heading_of_both_seeds_is_classified(corpus: Path) -> None:
    assert headings(corpus) == set(ERROR_HEADINGS) | NOT_ERROR_HEADINGS


@pytest.mark.parametrize("heading", sorted(ERROR_HEADINGS))
def test_error_heading_is_explained(run_cli, corpus: Path, heading: str) -> None:
    kind, code, official_key = ERROR_HEADINGS[heading]
    result = run_cli("explain", heading, "--json")
    assert result.code == ExitCode.OK, result.stderr
    first = result.json()["results"]["entries"][0]
    assert (first["kind"], first["code"], first["reading"]) == (kind, code, 1)
    assert first["cause"] and first["remedy"]
    if official_key is not None:
        official = {r["error"]: r for r in table(corpus, "aadconnect_wizard_errors.tsv")}
        assert first["message"] == official[official_key]["comment"]
        assert first["name"] == official[official_key]["text"] or official[official_key]["text"] == "Unexpected error"


def test_seed_aadsts_codes_are_exactly_these(corpus: Path) -> None:
    found = set(re.findall(r"AADSTS\d+", seed_text(corpus, S1) + seed_text(corpus, S2)))
    assert found == set(SEED_AADSTS)


@pytest.mark.parametrize("seed_code", sorted(SEED_AADSTS))
def test_seed_aadsts_code_is_explained_from_the_official_tables(run_cli, corpus: Path, seed_code: str) -> None:
    code = SEED_AADSTS[seed_code]
    official = {r["code"]: r for r in table(corpus, "aadsts.tsv")}
    pta_rows = [r for r in table(corpus, "pta_signin_errors.tsv") if r["code"].removeprefix("AADSTS") == str(code)]
    for query in (seed_code, seed_code.removeprefix("AADSTS")):
        result = run_cli("explain", query, "--json")
        assert result.code == ExitCode.OK
        entries = result.json()["results"]["entries"]
        first = next(e for e in entries if e["kind"] == "aadsts")
        assert first["code"] == f"AADSTS{code}"
        if str(code) in official:
            assert first["message"] == official[str(code)]["description"]
        else:
            assert first["message"] in {r["reason"] for r in pta_rows}
        for row in pta_rows:
            assert any(row["resolution"] in note for note in first["notes"]), row
        assert first["remedy"] and first["checked_by"]
    if seed_code == "AADSTS8002":
        first = run_cli("explain", seed_code, "--json").json()["results"]["entries"][0]
        assert "typo" in first["why"] and any("typo" in n for n in first["notes"])


@pytest.mark.parametrize(("query", "status"), [("403", "403"), ("Forbidden", "403"), ("407", "407"),
                                               ("Proxy Authentication Required", "407")])
def test_proxy_error_table_of_s1(run_cli, corpus: Path, query: str, status: str) -> None:
    assert f"| {status} |" in seed_text(corpus, S1)
    official = {r["error"]: r for r in table(corpus, "aadconnect_wizard_errors.tsv")}
    first = run_cli("explain", query, "--json").json()["results"]["entries"][0]
    assert (first["kind"], first["code"]) == ("http", status)
    assert first["name"] == official[status]["text"]
    assert first["message"] == official[status]["comment"]


def test_unable_to_connect_to_the_remote_server(run_cli, corpus: Path) -> None:
    assert "**Unable to connect to the remote server**" in seed_text(corpus, S1)
    official = {r["error"]: r for r in table(corpus, "aadconnect_wizard_errors.tsv")}
    first = run_cli("explain", "Unable to connect to the remote server", "--json").json()["results"]["entries"][0]
    assert (first["kind"], first["code"]) == ("powershell", "UnableToConnect")
    assert first["message"] == official["Unable to connect to the remote server"]["comment"]


def test_net_helpmsg_1328_and_the_trace_example_of_s2(run_cli, corpus: Path) -> None:
    text = seed_text(corpus, S2)
    assert "`Net helpmsg 1328`" in text
    message = {r["code"]: r["message"] for r in table(corpus, "win32.tsv")}["1328"]
    assert run_cli("helpmsg", "1328").stdout == f"\n{message}\n\n"
    first = run_cli("explain", "Net helpmsg 1328", "--json").json()["results"]["entries"][0]
    assert (first["code"], first["message"]) == ("1328", message)
    example = re.search(r"```\n(\s*ApplicationProxyConnectorService\.exe.*?)```", text, re.DOTALL)
    assert example is not None
    entries = run_cli("explain", example.group(1), "--json").json()["results"]["entries"]
    assert (entries[0]["kind"], entries[0]["code"], entries[0]["message"]) == ("win32", "1328", message)
    assert "PtaTraceLogs" in [e["code"] for e in entries], "the trace line also points at where the logs are today"


def test_uninstall_warning_quote(run_cli, corpus: Path) -> None:
    quote = re.search(r'warning message: "(.+?)"', seed_text(corpus, S2))
    assert quote is not None
    first = run_cli("explain", quote.group(1), "--json").json()["results"]["entries"][0]
    assert first["code"] == "UninstallWarning"
