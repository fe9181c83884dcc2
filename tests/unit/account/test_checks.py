"""Pure analysis: evidence in, findings out (no network, no patching)."""

from __future__ import annotations

import pytest

from aadc_doctor.account import checks
from aadc_doctor.account.models import (
    Agent,
    CallFailure,
    DirectoryUser,
    Domain,
    GraphEvidence,
    Outcome,
    RoleRef,
    SignInResult,
    TenantInfo,
    UserRealm,
)
from aadc_doctor.account.oauth import parse_oauth_error
from aadc_doctor.knowledge import read_toml

GA = RoleRef("62e90394-69f5-4237-9190-012177145e10", "Global Administrator")
HIA = RoleRef("8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2", "Hybrid Identity Administrator")
USER = DirectoryUser("u1", "admin@contoso.com", "Admin", None, True, "Member")


def _ids(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [f.id for f in findings]


def _tenant(**overrides: str) -> TenantInfo:
    values = {"tenant_id": "t1", "cloud": "worldwide", "cloud_instance_name": "microsoftonline.com",
              "tenant_region_scope": "EU", "tenant_region_sub_scope": "", "token_endpoint": "x",
              "login_host": "login.microsoftonline.com", "graph_host": "graph.microsoft.com"}
    values.update(overrides)
    return TenantInfo(**values)


def test_every_finding_entry_is_complete_and_every_mapping_points_to_one() -> None:
    data = read_toml("account_errors.toml")
    for finding_id, spec in data["finding"].items():
        assert spec["severity"] in ("error", "warning", "info"), finding_id
        assert spec["title"] and spec["remedy"] and spec["references"], finding_id
    for target in [*data["aadsts"].values(), *data["device_flow_errors"].values()]:
        assert target in data["finding"]


@pytest.mark.parametrize(("namespace", "expected"), [("Managed", []), ("Federated", ["federated-account"]),
                                                     ("Unknown", ["unknown-user-type"])])
def test_realm(namespace: str, expected: list[str]) -> None:
    realm = UserRealm("a@contoso.com", namespace, "contoso.com")
    assert _ids(checks.realm_findings("a@contoso.com", realm)) == expected


def test_realm_network_failure_points_at_check() -> None:
    failure = CallFailure(url="https://login.microsoftonline.com/x", outcome="proxy_forbidden", message="403")
    [found] = checks.realm_findings("a@contoso.com", failure)
    assert found.id == "user-realm-discovery-failed"
    assert "proxy_forbidden" in found.detail
    assert "aadc-doctor check" in found.remedy


def test_realm_block_page_is_an_unexpected_answer() -> None:
    failure = CallFailure(url="u", outcome="http_error", message="not JSON", status=200)
    assert _ids(checks.realm_findings("a@contoso.com", failure)) == ["user-realm-unexpected-answer"]


def test_national_cloud_and_gcc() -> None:
    assert _ids(checks.tenant_findings("a@x.us", _tenant(cloud="usgov"), will_sign_in=True)) == ["national-cloud"]
    gcc = _tenant(tenant_region_sub_scope="GCC")
    assert "GCC" in checks.tenant_findings("a@x.com", gcc, will_sign_in=True)[0].title
    assert checks.tenant_findings("a@x.com", _tenant(), will_sign_in=True) == []


def test_tenant_not_found() -> None:
    error = parse_oauth_error({"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant 'x' not found."})
    assert _ids(checks.tenant_findings("a@x.com", error, will_sign_in=True)) == ["tenant-not-found"]


@pytest.mark.parametrize(("code", "expected"), [
    (50126, "invalid-grant"), (50055, "user-password-expired"), (50144, "user-password-expired-on-premises"),
    (50076, "mfa-required"), (50074, "mfa-required"), (50079, "mfa-registration-required"),
    (50059, "microsoft-account"), (50053, "account-locked"), (50057, "account-disabled"),
    (50034, "user-not-found"), (53003, "authorization-failure"),
])
def test_sign_in_codes(code: int, expected: str) -> None:
    result = SignInResult(flow="password", succeeded=False, error="invalid_grant", codes=(code,), description="d")
    [found] = checks.sign_in_findings("a@contoso.com", result)
    assert found.id == expected
    assert found.remedy


@pytest.mark.parametrize(("error", "expected"), [("authorization_declined", "authentication-cancelled"),
                                                 ("expired_token", "authentication-timed-out")])
def test_device_flow_endings(error: str, expected: str) -> None:
    result = SignInResult(flow="device_code", succeeded=False, error=error, description="d")
    assert _ids(checks.sign_in_findings("a@contoso.com", result)) == [expected]


def test_correlation_id_is_kept_for_support() -> None:
    result = SignInResult(flow="password", succeeded=False, error="invalid_grant", codes=(50126,),
                          description="bad", correlation_id="c-1", timestamp="2026-01-01 00:00:00Z")
    assert "Correlation ID: c-1" in checks.sign_in_findings("a@contoso.com", result)[0].detail


def _evidence(**kw: object) -> GraphEvidence:
    base: dict[str, object] = {"me": Outcome(value=USER), "direct_roles": Outcome(value=(GA,)),
                               "transitive_roles": Outcome(value=(GA,)), "eligible_roles": Outcome(value=()),
                               "organization": Outcome(value={"id": "t1", "display_name": "Contoso"}),
                               "domains": Outcome(value=(Domain("contoso.com", True, "Managed", True),)),
                               "agents": Outcome(value=tuple(Agent(str(i), f"PTA{i}", "", "active") for i in range(3)))}
    base.update(kw)
    return GraphEvidence(**base)  # type: ignore[arg-type]


def _graph(evidence: GraphEvidence, server: str = "AADC01") -> list[str]:
    return _ids(checks.graph_findings("admin@contoso.com", evidence, this_server=server, tenant_subject="t1"))


def test_healthy_graph_evidence_has_no_finding() -> None:
    assert _graph(_evidence()) == []


def test_roles() -> None:
    assert _graph(_evidence(direct_roles=Outcome(value=()), transitive_roles=Outcome(value=()))) == \
        ["azure-role-missing"]
    assert _graph(_evidence(direct_roles=Outcome(value=()))) == ["role-through-group"]
    assert _graph(_evidence(direct_roles=Outcome(value=()), transitive_roles=Outcome(value=()),
                            eligible_roles=Outcome(value=(GA,)))) == ["privileged-identity-management"]
    assert _graph(_evidence(direct_roles=Outcome(value=(HIA,)))) == ["hybrid-identity-administrator-only"]
    pim_unknown = _evidence(direct_roles=Outcome(value=()), transitive_roles=Outcome(value=()),
                            eligible_roles=Outcome(failure=CallFailure("u", "http_error", "403", status=403)))
    assert _graph(pim_unknown) == ["azure-role-missing", "pim-status-unknown"]


def test_synchronized_account() -> None:
    synced = DirectoryUser("u1", "admin@contoso.com", "Admin", True, True, "Member")
    assert _graph(_evidence(me=Outcome(value=synced))) == ["account-synchronized"]


def test_rejected_token_is_one_finding() -> None:
    failure = CallFailure("https://graph.microsoft.com/v1.0/me", "http_error", "HTTP 401", status=401)
    assert _graph(_evidence(me=Outcome(failure=failure), organization=Outcome(failure=failure))) == \
        ["directory-api-rejected-token"]


def test_organization_and_domains_failures() -> None:
    failure = CallFailure("u", "http_error", "HTTP 500 UnknownError", status=500, request_id="r-1")
    found = checks.graph_findings("admin@contoso.com", _evidence(organization=Outcome(failure=failure),
                                                                  domains=Outcome(failure=failure)),
                                  this_server="x", tenant_subject="t1")
    assert _ids(found) == ["company-info-unavailable", "retrieve-domains-failed"]
    assert "r-1" in found[0].remedy


def test_unverified_upn_domain() -> None:
    domains = (Domain("contoso.com", False, "Managed", False), Domain("other.com", False, "Managed", False))
    assert _graph(_evidence(domains=Outcome(value=domains))) == ["upn-domain-not-verified", "unverified-domains"]


@pytest.mark.parametrize(("agents", "server", "expected"), [
    ((), "AADC01", ["pta-no-active-agents"]),
    ((Agent("1", "X", "", "inactive"),), "AADC01", ["pta-no-active-agents", "pta-inactive-agents"]),
    ((Agent("1", "AADC01.contoso.com", "", "active"),), "aadc01",
     ["pta-last-active-agent", "pta-fewer-than-recommended"]),
    ((Agent("1", "AADC01.contoso.com", "", "active"),), "other", ["pta-fewer-than-recommended"]),
    ((Agent("1", "A", "", "active"), Agent("2", "B", "", "active")), "A", ["pta-fewer-than-recommended"]),
])
def test_agents(agents: tuple[Agent, ...], server: str, expected: list[str]) -> None:
    assert _graph(_evidence(agents=Outcome(value=agents)), server) == expected


def test_agents_of_other_publishing_types_are_not_counted() -> None:
    proxies = tuple(Agent(str(i), f"APP{i}", "", "active", ("applicationProxy",)) for i in range(3))
    assert _graph(_evidence(agents=Outcome(value=proxies))) == ["pta-no-active-agents"]


@pytest.mark.parametrize(("agent", "server", "same"), [
    ("AADC01.contoso.com", "AADC01", True), ("aadc01", "AADC01.CONTOSO.COM", True),
    ("AADC01.contoso.com", "AADC01.fabrikam.com", False), ("AADC011", "AADC01", False), ("", "x", False),
])
def test_same_machine(agent: str, server: str, same: bool) -> None:
    assert checks.same_machine(agent, server) is same
