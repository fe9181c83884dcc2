"""The lab's tenants and users: one account per error case of the articles' authentication sections.

Each user carries the knob that makes the emulator answer like Microsoft Entra ID does in that
situation (an AADSTS code at the token endpoint, a role only through a group, a PIM eligibility, a
failing Graph call...). Tenants differ by their Pass-through Authentication agents and their cloud.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
HYBRID_IDENTITY_ADMIN = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
ROLE_NAMES = {GLOBAL_ADMIN: "Global Administrator", HYBRID_IDENTITY_ADMIN: "Hybrid Identity Administrator",
              USER_ADMIN: "User Administrator"}
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
LAB_PASSWORD = "Lab-Passw0rd!"  # every lab account's password; a lab fixture, not a secret


def _id(name: str) -> str:
    """Stable GUIDs, so runs and README examples are repeatable."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.aadc-doctor.lab"))


@dataclass(frozen=True)
class LabAgent:
    machine_name: str
    external_ip: str
    status: str = "active"

    @property
    def id(self) -> str:
        return _id(f"agent-{self.machine_name}")


@dataclass(frozen=True)
class LabTenant:
    name: str  # the organization's display name
    domains: tuple[tuple[str, bool, str], ...]  # (name, isVerified, authenticationType); first = default
    cloud_instance_name: str = "microsoftonline.com"
    tenant_region_scope: str = "NA"
    tenant_region_sub_scope: str = ""
    agents: tuple[LabAgent, ...] = ()

    @property
    def id(self) -> str:
        return CONSUMER_TENANT if self.cloud_instance_name == "consumers" else _id(f"tenant-{self.name}")

    @property
    def initial_domain(self) -> str:
        return next((d for d, _, _ in self.domains if d.endswith(".onmicrosoft.com")), self.domains[0][0])


@dataclass(frozen=True)
class LabUser:
    upn: str
    tenant: str  # LabTenant.name
    password: str = LAB_PASSWORD
    roles: tuple[str, ...] = ()  # directly assigned role template ids
    group_roles: tuple[str, ...] = ()  # held only through a role-assignable group
    eligible_roles: tuple[str, ...] = ()  # PIM eligible, not active
    synced: bool = False  # onPremisesSyncEnabled
    sign_in_error: int | None = None  # AADSTS code answered to every sign-in
    mfa: bool = False  # the password flow answers AADSTS50076; device flow completes MFA
    device_outcome: str = "approve"  # approve | declined | expired
    graph_failures: tuple[tuple[str, int], ...] = ()  # (path prefix, HTTP status)
    display_name: str = ""

    @property
    def id(self) -> str:
        return _id(f"user-{self.upn}")


@dataclass
class Directory:
    """What the emulator serves; tests may add users or tenants before starting it."""

    tenants: dict[str, LabTenant] = field(default_factory=dict)
    users: dict[str, LabUser] = field(default_factory=dict)
    federated: dict[str, tuple[str, str]] = field(default_factory=dict)  # domain -> (brand, AuthURL)

    def add_tenant(self, tenant: LabTenant) -> None:
        self.tenants[tenant.name] = tenant

    def add_user(self, user: LabUser) -> None:
        self.users[user.upn.lower()] = user

    def tenant_of_domain(self, domain: str) -> LabTenant | None:
        domain = domain.lower()
        for tenant in self.tenants.values():
            if any(d == domain and verified for d, verified, _ in tenant.domains):
                return tenant
        return None

    def tenant_by_id_or_domain(self, key: str) -> LabTenant | None:
        key = key.lower()
        for tenant in self.tenants.values():
            if tenant.id == key:
                return tenant
        return self.tenant_of_domain(key)


def _agents(*specs: tuple[str, str, str]) -> tuple[LabAgent, ...]:
    return tuple(LabAgent(machine_name=m, external_ip=ip, status=s) for m, ip, s in specs)


def default_directory() -> Directory:
    """Contoso (healthy, 3 agents) plus one tenant or user per error case."""
    d = Directory()
    d.add_tenant(LabTenant("Contoso", (("contoso.com", True, "Managed"), ("contoso.onmicrosoft.com", True, "Managed"),
                                       ("adatum.com", True, "Federated"), ("newbrand.contoso.com", False, "Managed")),
                           agents=_agents(("AADC01.contoso.com", "203.0.113.10", "active"),
                                          ("PTA02.contoso.com", "203.0.113.11", "active"),
                                          ("PTA03.contoso.com", "203.0.113.12", "active"),
                                          ("OLDPTA.contoso.com", "203.0.113.13", "inactive"))))
    d.federated["adatum.com"] = ("Adatum", "https://sts.adatum.com/adfs/ls/")
    d.add_tenant(LabTenant("Fabrikam", (("fabrikam.com", True, "Managed"),
                                        ("fabrikam.onmicrosoft.com", True, "Managed")),
                           agents=_agents(("FABPTA1.fabrikam.com", "198.51.100.20", "inactive"))))
    d.add_tenant(LabTenant("Tailspin Toys", (("tailspintoys.com", True, "Managed"),
                                             ("tailspintoys.onmicrosoft.com", True, "Managed")),
                           agents=_agents(("AADC01.tailspintoys.com", "198.51.100.30", "active"))))
    d.add_tenant(LabTenant("Wingtip Toys", (("wingtiptoys.com", True, "Managed"),
                                            ("wingtiptoys.onmicrosoft.com", True, "Managed")),
                           agents=_agents(("AADC01.wingtiptoys.com", "198.51.100.40", "active"),
                                          ("PTA02.wingtiptoys.com", "198.51.100.41", "active"))))
    d.add_tenant(LabTenant("Contoso Gov", (("contoso-gov.us", True, "Managed"),
                                           ("contosogov.onmicrosoft.us", True, "Managed")),
                           cloud_instance_name="microsoftonline.us", tenant_region_scope="USGov"))
    d.add_tenant(LabTenant("Microsoft accounts", (("outlook.com", True, "Managed"), ("hotmail.com", True, "Managed")),
                           cloud_instance_name="consumers", tenant_region_scope=""))

    ga = (GLOBAL_ADMIN,)
    for upn, kwargs in (
        ("admin@contoso.com", {"roles": ga, "display_name": "Contoso Admin"}),
        ("hia@contoso.com", {"roles": (HYBRID_IDENTITY_ADMIN,)}),
        ("expired@contoso.com", {"roles": ga, "sign_in_error": 50055}),
        ("adexpired@contoso.com", {"roles": ga, "synced": True, "sign_in_error": 50144}),
        ("mfa@contoso.com", {"roles": ga, "mfa": True}),
        ("mfaenroll@contoso.com", {"roles": ga, "sign_in_error": 50079}),
        ("locked@contoso.com", {"roles": ga, "sign_in_error": 50053}),
        ("disabled@contoso.com", {"roles": ga, "sign_in_error": 50057}),
        ("declined@contoso.com", {"roles": ga, "device_outcome": "declined"}),
        ("slow@contoso.com", {"roles": ga, "device_outcome": "expired"}),
        ("helpdesk@contoso.com", {"roles": (USER_ADMIN,)}),
        ("blocked@contoso.com", {"roles": ga, "sign_in_error": 53003}),
        ("tokenrejected@contoso.com", {"roles": ga, "graph_failures": (("/", 401),)}),
        ("pim@contoso.com", {"eligible_roles": ga}),
        ("groupadmin@contoso.com", {"group_roles": ga}),
        ("synced@contoso.com", {"roles": ga, "synced": True}),
        ("orgfail@contoso.com", {"roles": ga, "graph_failures": (("/v1.0/organization", 500),)}),
        ("domainfail@contoso.com", {"roles": ga, "graph_failures": (("/v1.0/domains", 503),)}),
        ("noagentscope@contoso.com", {"roles": ga, "graph_failures": (("/beta/onPremisesPublishingProfiles", 403),)}),
        ("idp@adatum.com", {"roles": ga}),
        ("admin@fabrikam.com", {"roles": ga}),
        ("admin@tailspintoys.com", {"roles": ga}),
        ("admin@wingtiptoys.com", {"roles": ga}),
        ("admin@contoso-gov.us", {"roles": ga}),
    ):
        domain = upn.rpartition("@")[2]
        tenant = d.tenant_of_domain(domain)
        assert tenant is not None, upn
        d.add_user(LabUser(upn=upn, tenant=tenant.name, **kwargs))
    d.add_user(LabUser(upn="someone@outlook.com", tenant="Microsoft accounts", sign_in_error=50059))
    return d
