"""Pure analysis: account evidence in, findings out (texts and severities from account_errors.toml)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from aadc_doctor.account.models import (
    Agent,
    CallFailure,
    GraphEvidence,
    RoleRef,
    SignInResult,
    TenantInfo,
    UserRealm,
)
from aadc_doctor.account.oauth import OAuthError
from aadc_doctor.knowledge import read_toml
from aadc_doctor.knowledge.findings import FindingTemplate
from aadc_doctor.model import Finding, Severity


@cache
def _knowledge() -> dict[str, Any]:
    return read_toml("account_errors.toml")


@cache
def _templates() -> dict[str, FindingTemplate]:
    """account_errors.toml's [finding] table as strict templates (the catalog's one formatting policy)."""
    templates = {}
    for finding_id, spec in _knowledge()["finding"].items():
        template = FindingTemplate(finding_id, Severity(spec["severity"]), spec["title"], spec.get("detail", ""),
                                   spec.get("remedy", ""), tuple(spec.get("references", ())), lenient=False)
        template.placeholders  # noqa: B018 (parsed at load: a malformed text fails here)
        templates[finding_id] = template
    return templates


def finding(finding_id: str, subject: str, **values: Any) -> Finding:
    """Build one finding from its knowledge entry, filling the {placeholders} (every one must be given)."""
    return _templates()[finding_id].render(subject, **values)


def role_ids() -> Mapping[str, str]:
    return {str(k): str(v).lower() for k, v in _knowledge()["roles"].items()}


def consumer_tenant_id() -> str:
    return str(_knowledge()["pta"]["consumer_tenant_id"])


def cloud_hosts(cloud: str) -> Mapping[str, str]:
    clouds = _knowledge()["clouds"]
    return {str(k): str(v) for k, v in clouds.get(cloud, clouds["worldwide"]).items() if isinstance(v, str)}


def domain_of(upn: str) -> str:
    return upn.rpartition("@")[2].lower()


# ---- step 1 ---------------------------------------------------------------------------------------


def realm_findings(upn: str, realm: UserRealm | CallFailure) -> list[Finding]:
    domain = domain_of(upn)
    if isinstance(realm, CallFailure):
        if realm.is_network:
            return [finding("user-realm-discovery-failed", "login.microsoftonline.com:443", upn=upn, url=realm.url,
                            error=f"{realm.outcome}: {realm.message}")]
        return [finding("user-realm-unexpected-answer", "login.microsoftonline.com:443", url=realm.url,
                        status=realm.status, error=realm.message)]
    if realm.namespace_type.lower() == "federated":
        return [finding("federated-account", upn, upn=upn, domain=domain,
                        brand=realm.federation_brand_name or domain, auth_url=realm.auth_url or "?",
                        protocol=realm.federation_protocol or "?")]
    if realm.namespace_type.lower() != "managed":
        return [finding("unknown-user-type", upn, upn=upn, domain=domain, namespace_type=realm.namespace_type)]
    return []


def realm_is_usable(realm: UserRealm | CallFailure) -> bool:
    return isinstance(realm, UserRealm) and realm.namespace_type.lower() in ("managed", "federated")


def tenant_findings(upn: str, tenant: TenantInfo | CallFailure | OAuthError, *, will_sign_in: bool) -> list[Finding]:
    domain = domain_of(upn)
    if isinstance(tenant, CallFailure):
        return [finding("tenant-discovery-failed", "login.microsoftonline.com:443", url=tenant.url,
                        error=f"{tenant.outcome}: {tenant.message}")]
    if isinstance(tenant, OAuthError):
        if tenant.code == 90002:
            return [finding("tenant-not-found", upn, domain=domain, code=tenant.code, description=tenant.description)]
        return [finding("authorization-failure", upn, error=tenant.error, code=tenant.code or "",
                        description=tenant.description)]
    found: list[Finding] = []
    if tenant.tenant_id == consumer_tenant_id() and not will_sign_in:
        found.append(finding("microsoft-account", upn, upn=upn, evidence=(
            f"The OpenID configuration of {domain} names the Microsoft account (consumers) tenant "
            f"{tenant.tenant_id}.")))
    if tenant.cloud not in ("worldwide", "unknown") or tenant.tenant_region_sub_scope:
        hosts = cloud_hosts(tenant.cloud)
        label = hosts.get("label", tenant.cloud)
        if tenant.tenant_region_sub_scope and tenant.cloud == "worldwide":
            label = f"{label}, sub-scope {tenant.tenant_region_sub_scope}"
        found.append(finding("national-cloud", tenant.tenant_id, cloud_label=label,
                             cloud_instance_name=tenant.cloud_instance_name,
                             region_scope=tenant.tenant_region_scope or "?", login_host=tenant.login_host,
                             graph_host=tenant.graph_host))
    return found


# ---- step 2 ---------------------------------------------------------------------------------------


def sign_in_findings(upn: str, result: SignInResult, *, consumer: bool = False) -> list[Finding]:
    if result.succeeded:
        return []
    if result.failure is not None:
        host = result.failure.url.split("/")[2] if "://" in result.failure.url else result.failure.url
        return [finding("sign-in-network-failure", host, host=host,
                        error=f"{result.failure.outcome}: {result.failure.message}")]
    knowledge = _knowledge()
    code = result.codes[0] if result.codes else None
    finding_id = knowledge["device_flow_errors"].get(result.error)
    if finding_id is None and code is not None:
        finding_id = knowledge["aadsts"].get(str(code))
    if finding_id is None:
        finding_id = "authorization-failure"
    if finding_id == "authentication-cancelled" and result.flow == "password":
        finding_id = "authorization-failure"
    evidence = f"AADSTS{code}: {result.description}" if code is not None else result.description
    if consumer:
        evidence = f"The domain belongs to the Microsoft account (consumers) tenant; the sign-in answered {evidence}"
    expires_minutes = max(1, result.expires_in // 60) if result.expires_in else 15
    tail = "".join(f" {label}: {value}." for label, value in (("Correlation ID", result.correlation_id),
                                                                ("Timestamp", result.timestamp)) if value)
    base = finding(finding_id, upn, upn=upn, code=code if code is not None else "", error=result.error or "?",
                   description=result.description + tail, evidence=evidence,
                   verification_uri=result.verification_uri or "https://microsoft.com/devicelogin",
                   expires_minutes=expires_minutes)
    return [base]


# ---- step 3 ---------------------------------------------------------------------------------------


def _role_names(roles: tuple[RoleRef, ...]) -> str:
    names = sorted({r.name or r.template_id for r in roles})
    return ", ".join(names) if names else "no directory role"


def _admin_role(roles: tuple[RoleRef, ...]) -> RoleRef | None:
    ids = role_ids()
    for wanted in (ids["global_administrator"], ids["hybrid_identity_administrator"]):
        for role in roles:
            if role.template_id == wanted:
                return role
    return None


def _role_label(template_id: str) -> str:
    ids = role_ids()
    return {ids["global_administrator"]: "Global Administrator",
            ids["hybrid_identity_administrator"]: "Hybrid Identity Administrator"}.get(template_id, template_id)


def _failure_text(failure: CallFailure) -> str:
    return f"{failure.outcome}: {failure.message}" if failure.is_network else failure.message


def role_findings(upn: str, evidence: GraphEvidence) -> list[Finding]:
    """AzureRoleMissing, role through a group, PrivilegedIdentityManagement, HIA instead of GA."""
    direct = evidence.direct_roles
    if direct.value is None:
        assert direct.failure is not None
        return [finding("roles-unreadable", upn, upn=upn, error=_failure_text(direct.failure))]
    admin = _admin_role(direct.value)
    if admin is not None:
        if admin.template_id == role_ids()["hybrid_identity_administrator"]:
            return [finding("hybrid-identity-administrator-only", upn, upn=upn)]
        return []
    found: list[Finding] = []
    transitive = evidence.transitive_roles.value or ()
    via_group = _admin_role(transitive)
    eligible = evidence.eligible_roles
    eligible_admin = _admin_role(eligible.value or ())
    if eligible_admin is not None:
        found.append(finding("privileged-identity-management", upn, upn=upn,
                             role=_role_label(eligible_admin.template_id)))
    elif via_group is not None:
        found.append(finding("role-through-group", upn, upn=upn, role=_role_label(via_group.template_id)))
    else:
        found.append(finding("azure-role-missing", upn, upn=upn, roles=_role_names(direct.value)))
        if eligible.failure is not None:
            found.append(finding("pim-status-unknown", upn, error=_failure_text(eligible.failure)))
    return found


def account_findings(upn: str, evidence: GraphEvidence) -> list[Finding]:
    me = evidence.me
    if me.value is None:
        assert me.failure is not None
        if me.failure.status == 401:
            return [finding("directory-api-rejected-token", upn, url=me.failure.url, error=_failure_text(me.failure))]
        return [finding("account-unreadable", upn, upn=upn, error=_failure_text(me.failure))]
    if me.value.on_premises_sync_enabled:
        return [finding("account-synchronized", upn, upn=upn)]
    return []


def tenant_read_findings(upn: str, evidence: GraphEvidence, tenant_subject: str) -> list[Finding]:
    """CompanyInfoUnavailable, RetrieveDomains, and whether the UPN's domain is verified."""
    found: list[Finding] = []
    if evidence.organization.failure is not None:
        f = evidence.organization.failure
        found.append(finding("company-info-unavailable", tenant_subject, url=f.url, error=_failure_text(f),
                             request_id=f.request_id or "(none)"))
    domains = evidence.domains
    if domains.failure is not None:
        f = domains.failure
        found.append(finding("retrieve-domains-failed", tenant_subject, url=f.url, error=_failure_text(f),
                             request_id=f.request_id or "(none)"))
    elif domains.value is not None:
        domain = domain_of(upn)
        mine = next((d for d in domains.value if d.name == domain), None)
        if mine is not None and not mine.is_verified:
            found.append(finding("upn-domain-not-verified", upn, upn=upn, domain=domain))
        unverified = sorted(d.name for d in domains.value if not d.is_verified and d.name != domain)
        if unverified:
            found.append(finding("unverified-domains", tenant_subject, count=len(unverified),
                                 domains=", ".join(unverified)))
    return found


def same_machine(agent_name: str, server: str) -> bool:
    """AADC01 matches aadc01.contoso.com: compare the full names, else the first labels."""
    a, b = agent_name.strip().lower(), server.strip().lower()
    if not a or not b:
        return False
    return a == b or (a.split(".")[0] == b.split(".")[0] and ("." not in a or "." not in b))


def agent_findings(agents: tuple[Agent, ...] | CallFailure, this_server: str, tenant_subject: str) -> list[Finding]:
    """No agent, the last agent on this server, fewer than recommended, inactive agents."""
    if isinstance(agents, CallFailure):
        return [finding("pta-agents-unreadable", tenant_subject, url=agents.url, error=_failure_text(agents))]
    recommended = int(_knowledge()["pta"]["recommended_agents"])
    pta = [a for a in agents if not a.publishing_types or "authentication" in a.publishing_types]
    active = [a for a in pta if a.status == "active"]
    inactive = [a for a in pta if a.status != "active"]
    found: list[Finding] = []
    if not active:
        found.append(finding("pta-no-active-agents", tenant_subject, total=len(pta)))
    elif len(active) == 1 and same_machine(active[0].machine_name, this_server):
        found.append(finding("pta-last-active-agent", active[0].machine_name, server=active[0].machine_name))
    if active and len(active) < recommended:
        found.append(finding("pta-fewer-than-recommended", tenant_subject, active=len(active),
                             recommended=recommended, machines=", ".join(a.machine_name for a in active)))
    if inactive:
        found.append(finding("pta-inactive-agents", tenant_subject, count=len(inactive),
                             machines=", ".join(a.machine_name for a in inactive)))
    return found


def graph_findings(upn: str, evidence: GraphEvidence, *, this_server: str, tenant_subject: str) -> list[Finding]:
    if evidence.me.failure is not None and evidence.me.failure.status == 401:
        return account_findings(upn, evidence)  # every other read fails the same way: one finding says it
    found = account_findings(upn, evidence) + role_findings(upn, evidence)
    found += tenant_read_findings(upn, evidence, tenant_subject)
    agents = evidence.agents
    found += agent_findings(agents.value if agents.value is not None else agents.failure or (), this_server,
                            tenant_subject)
    return found
