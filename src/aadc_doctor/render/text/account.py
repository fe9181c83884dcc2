"""`account` on a terminal: one line per step (proxy, realm, tenant, sign-in, Graph)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.results import AccountGraph, AccountProxy, AccountResults


def _line(console: Console, label: str, text: str) -> None:
    from rich.text import Text

    console.print(Text(f"  {label:<14}", style="bold") + Text(text))


def _proxy_text(proxy: AccountProxy) -> str:
    """Where the requests go: a PAC names its choice for login.microsoftonline.com (it has no single URL)."""
    source = proxy.source
    if source.startswith("pac:"):
        return f"{proxy.login_proxy or 'DIRECT'} for login.microsoftonline.com (PAC {source[4:]})"
    if source == "none":
        from aadc_doctor.proxyconfig.model import NO_PROXY_SETTING

        return NO_PROXY_SETTING
    return f"{proxy.url or 'direct'} ({source})"


def render(results: AccountResults, console: Console) -> None:
    from rich.text import Text

    from aadc_doctor.account.models import TenantInfo
    from aadc_doctor.results import Failed, Skipped

    r = results
    console.print(Text(f"Account {r.upn}", style="bold"))
    _line(console, "Proxy", _proxy_text(r.proxy))
    realm = r.realm
    if isinstance(realm, Failed):
        _line(console, "User realm", f"failed: {realm.failure.outcome}: {realm.failure.message}")
    elif realm is not None:
        brand = f", {realm.federation_brand_name}" if realm.federation_brand_name else ""
        _line(console, "User realm", f"{realm.namespace_type} ({realm.domain_name}{brand})")
    tenant = r.tenant
    if isinstance(tenant, TenantInfo):
        region = f", region {tenant.tenant_region_scope}" if tenant.tenant_region_scope else ""
        _line(console, "Tenant", f"{tenant.tenant_id} in the {tenant.cloud} cloud "
                                 f"({tenant.cloud_instance_name}{region})")
    elif tenant is not None:
        _line(console, "Tenant", "could not be read")
    sign_in = r.sign_in
    if isinstance(sign_in, Skipped):
        _line(console, "Sign-in", f"skipped: {sign_in.skipped}")
    elif sign_in is not None:
        flow = "device code" if sign_in.flow == "device_code" else "password"
        why = f"AADSTS{sign_in.codes[0]}" if sign_in.codes else sign_in.error or "network"
        state = "succeeded" if sign_in.succeeded else f"failed ({why})"
        _line(console, "Sign-in", f"{state}, {flow} flow")
    elif r.stopped_at == "no-sign-in":
        _line(console, "Sign-in", "not attempted (--no-sign-in)")
    if r.graph is not None:
        _render_graph(console, r.graph)


def _render_graph(console: Console, graph: AccountGraph) -> None:
    account = graph.account
    if account:
        _line(console, "Account", ("cloud-only" if account.cloud_only else "synchronized from on-premises AD")
              + f", {account.user_type or 'Member'}")
    roles = graph.roles
    parts = [f"{', '.join(roles.direct)} (direct)"] if roles.direct else ["none assigned directly"]
    if roles.through_groups:
        parts.append(f"{', '.join(roles.through_groups)} (through a group)")
    if roles.eligible:
        parts.append(f"{len(roles.eligible)} eligible in PIM")
    _line(console, "Roles", "; ".join(parts))
    org = graph.organization
    _line(console, "Organization", org["display_name"] if org else "could not be read")
    domains = graph.domains
    if domains is None:
        _line(console, "Domains", "could not be read")
    else:
        verified = sum(1 for d in domains if d.is_verified)
        _line(console, "Domains", f"{len(domains)} ({verified} verified)")
    agents = graph.pta_agents
    if agents is None:
        _line(console, "PTA agents", "could not be listed")
    else:
        names = [f"{a.agent.machine_name}{' (this server)' if a.this_server else ''}"
                 for a in agents.agents if a.agent.status == "active"]
        text = f"{agents.active} active" + (f": {', '.join(names)}" if names else "")
        if agents.inactive:
            text += f"; {agents.inactive} inactive"
        _line(console, "PTA agents", text)
