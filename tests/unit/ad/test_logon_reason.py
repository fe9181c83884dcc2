"""`ad logon`: the bind answer read as the Reason the PTA agent would log (ad_findings.toml [logon.reason])."""

from __future__ import annotations

from aadc_doctor.ad.logon import reason_finding
from aadc_doctor.json_data import to_json_data
from aadc_doctor.model import Severity


def test_a_locked_account_reads_as_the_agents_reason_1909() -> None:
    finding, reason = reason_finding("ann@contoso.com", "dc1.contoso.com", "775")
    assert (finding.id, finding.severity, finding.subject) == ("ad-logon-reason-1909", Severity.ERROR,
                                                               "ann@contoso.com")
    assert finding.title == "ann@contoso.com: Account locked out"
    assert finding.detail == (
        "dc1.contoso.com answered AcceptSecurityContext data 775: the agent's trace would log Reason '1909'. "
        "net helpmsg 1909 (ERROR_ACCOUNT_LOCKED_OUT): The referenced account is currently locked out and may not be "
        "logged on to. User side: The sign-in is refused because the account is locked (most likely AADSTS50053).")
    assert finding.references == (
        "https://learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-pass-through-authentication",)
    assert reason.code == 1909 and finding.remedy == reason.remedy
    # as JSON (flattened into `ad logon`'s results): the reason's words, its code written by LogonResult
    assert to_json_data(reason) == {"reason_name": "ERROR_ACCOUNT_LOCKED_OUT", "reason_title": "Account locked out",
                                    "message": reason.message, "aadsts": 50053, "user_sees": reason.user_sees,
                                    "remedy": reason.remedy}


def test_logon_results_as_json_keep_the_contracts_keys_and_order() -> None:
    """The keys of `ad logon --json` (DESIGN.md): the fixed ones first, then what the outcome adds, in that order."""
    from aadc_doctor.ad.logon import BindFailure, BindRejection, LogonResult
    from aadc_doctor.results import AdLogonResults

    untrusted = LogonResult("ann@contoso.com", "dc1", "ldaps", "tls_untrusted", failure=BindFailure("bad cert", "CN=X"))
    assert list(to_json_data(AdLogonResults(untrusted))) == [
        "upn", "dc", "transport", "outcome", "data_code", "reason", "account", "error", "issuer"]
    refused = LogonResult("ann@contoso.com", "dc1", "ldap", "timeout", failure=BindFailure("no answer"))
    assert to_json_data(refused)["error"] == "no answer" and "issuer" not in to_json_data(refused)
    _, reason = reason_finding("ann@contoso.com", "dc1", "775")
    rejected = LogonResult("ann@contoso.com", "dc1", "ldaps", "rejected", "775", reason.code,
                           rejection=BindRejection(49, "80090308: LdapErr: data 775"), explained=reason)
    data = to_json_data(AdLogonResults(rejected))
    assert list(data) == ["upn", "dc", "transport", "outcome", "data_code", "reason", "account", "ldap_result",
                          "ldap_message", "reason_name", "reason_title", "message", "aadsts", "user_sees", "remedy"]
    assert (data["reason"], data["data_code"], data["account"]) == (1909, "775", None)
