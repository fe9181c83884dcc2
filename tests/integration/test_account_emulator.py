"""`aadc-doctor account` end to end against the TLS tenant emulator: every authentication error of the
connectivity article and the PTA registration/enable/uninstall cases, each with its finding and remedy.

Given the emulator on 127.0.0.1 (reached with --connect-to and --ca-file, as a real run would be),
when the whole CLI runs in-process with --json, then the expected finding id is reported with a remedy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aadc_doctor.lab.tenant import LAB_PASSWORD, TenantEmulator, start_tenant_emulator

PW = ("--password-env", "LAB_PW")
ENV = {"LAB_PW": LAB_PASSWORD, "WRONG_PW": "not-the-password"}


@pytest.fixture(scope="module")
def lab() -> Iterator[TenantEmulator]:
    with start_tenant_emulator() as emulator:
        yield emulator


@pytest.fixture
def account(lab: TenantEmulator, run_cli: Callable[..., Any]) -> Callable[..., tuple[int, dict[str, Any]]]:
    def run(upn: str, *extra: str) -> tuple[int, dict[str, Any]]:
        result = run_cli("account", upn, "--direct", *lab.cli_args(), "--this-server", "AADC01.contoso.com",
                         "--json", *extra, env=ENV)
        assert result.stdout, result.stderr
        return result.code, result.json()

    return run


def _ids(report: dict[str, Any]) -> list[str]:
    return [f["id"] for f in report["findings"]]


CASES = [
    # connectivity article, "Authentication errors"
    ("Invalid Grant", "admin@contoso.com", ("--password-env", "WRONG_PW"), "invalid-grant"),
    ("Unknown User Type", "admin@nothere.example", (), "unknown-user-type"),
    ("User Password Expired", "expired@contoso.com", PW, "user-password-expired"),
    ("User Password Expired (AD, 50144)", "adexpired@contoso.com", PW, "user-password-expired-on-premises"),
    ("AuthorizationFailure", "blocked@contoso.com", PW, "authorization-failure"),
    ("Authentication Cancelled", "declined@contoso.com", (), "authentication-cancelled"),
    ("ConnectToMSOnline", "tokenrejected@contoso.com", (), "directory-api-rejected-token"),
    ("AzureRoleMissing", "helpdesk@contoso.com", (), "azure-role-missing"),
    ("AzureRoleMissing (group)", "groupadmin@contoso.com", (), "role-through-group"),
    ("PrivilegedIdentityManagement", "pim@contoso.com", (), "privileged-identity-management"),
    ("CompanyInfoUnavailable", "orgfail@contoso.com", (), "company-info-unavailable"),
    ("RetrieveDomains", "domainfail@contoso.com", (), "retrieve-domains-failed"),
    # the sign-in answers the issue names
    ("MFA required (50076)", "mfa@contoso.com", PW, "mfa-required"),
    ("MFA registration (50079)", "mfaenroll@contoso.com", PW, "mfa-registration-required"),
    ("locked (50053)", "locked@contoso.com", PW, "account-locked"),
    ("disabled (50057)", "disabled@contoso.com", PW, "account-disabled"),
    ("unknown user (50034)", "ghost@contoso.com", PW, "user-not-found"),
    ("Microsoft account (50059)", "someone@outlook.com", (), "microsoft-account"),
    ("device code expired", "slow@contoso.com", (), "authentication-timed-out"),
    # PTA article: registration, enabling, uninstallation
    ("PTA: synchronized admin", "synced@contoso.com", (), "account-synchronized"),
    ("PTA: federated admin", "idp@adatum.com", (), "federated-account"),
    ("PTA: no agents available", "admin@fabrikam.com", (), "pta-no-active-agents"),
    ("PTA: last agent is this server", "admin@tailspintoys.com", ("--this-server", "AADC01"), "pta-last-active-agent"),
    ("PTA: fewer than three", "admin@wingtiptoys.com", (), "pta-fewer-than-recommended"),
    ("PTA: agent list forbidden", "noagentscope@contoso.com", (), "pta-agents-unreadable"),
]


@pytest.mark.parametrize(("case", "upn", "extra", "finding_id"), CASES, ids=[c[0] for c in CASES])
def test_each_error_yields_its_finding_and_remedy(account: Callable[..., tuple[int, dict[str, Any]]], case: str,
                                                  upn: str, extra: tuple[str, ...], finding_id: str) -> None:
    code, report = account(upn, *extra)
    found = {f["id"]: f for f in report["findings"]}
    assert finding_id in found, (case, _ids(report))
    assert found[finding_id]["remedy"], case
    severity = found[finding_id]["severity"]
    assert code == (1 if any(f["severity"] == "error" for f in report["findings"]) else 0)
    assert severity in ("error", "warning")


def test_healthy_admin_has_no_problem(account: Callable[..., tuple[int, dict[str, Any]]]) -> None:
    code, report = account("admin@contoso.com")
    assert code == 0
    assert {f["severity"] for f in report["findings"]} <= {"info"}
    results = report["results"]
    assert results["realm"]["namespace_type"] == "Managed"
    assert results["tenant"]["cloud"] == "worldwide"
    assert results["sign_in"] == {**results["sign_in"], "flow": "device_code", "succeeded": True}
    graph = results["graph"]
    assert graph["account"]["cloud_only"] is True
    assert graph["roles"]["direct"] == ["Global Administrator"]
    assert graph["pta_agents"]["active"] == 3
    assert [a["machine_name"] for a in graph["pta_agents"]["agents"] if a["this_server"]] == ["AADC01.contoso.com"]
    assert results["stopped_at"] is None


def test_mfa_admin_signs_in_with_device_code(account: Callable[..., tuple[int, dict[str, Any]]]) -> None:
    code, report = account("mfa@contoso.com")
    assert code == 0, _ids(report)
    assert report["results"]["sign_in"]["succeeded"] is True


def test_hybrid_identity_administrator_is_enough(account: Callable[..., tuple[int, dict[str, Any]]]) -> None:
    code, report = account("hia@contoso.com")
    assert code == 0
    assert "hybrid-identity-administrator-only" in _ids(report)
    assert "azure-role-missing" not in _ids(report)


def test_last_agent_warning_only_for_this_server(account: Callable[..., tuple[int, dict[str, Any]]]) -> None:
    _, report = account("admin@tailspintoys.com", "--this-server", "OTHERHOST")
    assert "pta-last-active-agent" not in _ids(report)
    assert "pta-fewer-than-recommended" in _ids(report)


def test_without_credentials_reports_tenant_and_national_cloud(
        account: Callable[..., tuple[int, dict[str, Any]]]) -> None:
    code, report = account("admin@contoso-gov.us", "--no-sign-in")
    assert code == 0
    assert report["results"]["tenant"]["cloud"] == "usgov"
    assert report["results"]["tenant"]["login_host"] == "login.microsoftonline.us"
    assert report["results"]["tenant"]["graph_host"] == "graph.microsoft.us"
    assert "national-cloud" in _ids(report)
    assert report["results"]["sign_in"] is None


def test_microsoft_account_found_without_sign_in(account: Callable[..., tuple[int, dict[str, Any]]]) -> None:
    code, report = account("someone@outlook.com", "--no-sign-in")
    assert code == 1
    assert _ids(report) == ["microsoft-account"]


def test_federated_domain_with_password_skips_sign_in(account: Callable[..., tuple[int, dict[str, Any]]]) -> None:
    _, report = account("idp@adatum.com", *PW)
    assert "federated-account" in _ids(report)
    assert "skipped" in report["results"]["sign_in"]


def test_user_realm_discovery_failed_when_unreachable(run_cli: Callable[..., Any], lab: TenantEmulator) -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = run_cli("account", "admin@contoso.com", "--direct", "--connect-to",
                     f"login.microsoftonline.com:443:127.0.0.1:{port}", "--ca-file", str(lab.ca_file), "--json")
    report = result.json()
    assert result.code == 1
    assert _ids(report) == ["user-realm-discovery-failed"]
    assert report["results"]["realm"]["failure"]["outcome"] == "tcp_refused"
    assert "aadc-doctor check" in report["findings"][0]["remedy"]


def test_untrusted_certificate_is_a_tls_failure(run_cli: Callable[..., Any], lab: TenantEmulator) -> None:
    result = run_cli("account", "admin@contoso.com", "--direct", *lab.connect_to_args(), "--json")
    report = result.json()
    assert _ids(report) == ["user-realm-discovery-failed"]
    assert report["results"]["realm"]["failure"]["outcome"] == "tls_failure"


def test_human_output_names_each_step(lab: TenantEmulator, run_cli: Callable[..., Any]) -> None:
    result = run_cli("account", "pim@contoso.com", "--direct", *lab.cli_args(), env=ENV)
    assert result.code == 1
    for text in ("User realm    Managed (contoso.com, Contoso)", "Sign-in       succeeded, device code flow",
                 "PrivilegedIdentityManagement: Global Administrator is eligible", "Fix: Activate the role"):
        assert text in result.stdout
    assert "https://microsoft.com/devicelogin" in result.stderr
    # the emulator says that nobody has to act on it (the demo prints this too)
    assert "aadc-doctor lab: nothing to do, the tenant emulator completes this sign-in by itself as " \
        "pim@contoso.com" in " ".join(result.stderr.split())


def test_bad_upn_is_a_usage_error(run_cli: Callable[..., Any]) -> None:
    result = run_cli("account", "not-an-upn", "--direct")
    assert result.code == 2
    assert "not a user principal name" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_password_variable_is_a_usage_error(run_cli: Callable[..., Any]) -> None:
    result = run_cli("account", "admin@contoso.com", "--direct", "--password-env", "NO_SUCH_VARIABLE_X")
    assert result.code == 2
    assert "NO_SUCH_VARIABLE_X" in result.stderr


def test_resolve_on_the_real_port_keeps_the_names(run_cli: Callable[..., Any]) -> None:
    """--resolve as in curl: the emulator on 443 of a spare 127.x address, URLs and certificates unchanged."""
    from tests.infra.ports import spare_loopback_address
    from tests.infra.tools import is_root

    if not is_root():
        pytest.fail("this test binds port 443 and needs root (CI runs as root)", pytrace=False)
    address = spare_loopback_address(tcp_ports=(443,))
    with start_tenant_emulator(host=address, port=443) as on_443:
        result = run_cli("account", "admin@fabrikam.com", "--direct", "--ca-file", str(on_443.ca_file),
                         "--resolve", f"login.microsoftonline.com:443:{address}",
                         "--resolve", f"graph.microsoft.com:443:{address}", "--json", env=ENV)
        report = result.json()
        assert report["results"]["sign_in"]["succeeded"] is True
        assert [f["id"] for f in report["findings"]] == ["pta-no-active-agents", "pta-inactive-agents"]
        assert {host for _, host, _ in on_443.requests} == {"login.microsoftonline.com", "graph.microsoft.com"}


def test_national_cloud_sign_in_uses_that_clouds_hosts(account: Callable[..., tuple[int, dict[str, Any]]],
                                                       lab: TenantEmulator) -> None:
    before = len(lab.requests)
    _, report = account("admin@contoso-gov.us")
    assert report["results"]["sign_in"]["succeeded"] is True
    hosts = {host for _, host, path in lab.requests[before:]
             if "userrealm" not in path and "contoso-gov.us" not in path}
    assert hosts == {"login.microsoftonline.us", "graph.microsoft.us"}
