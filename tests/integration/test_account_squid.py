"""`aadc-doctor account` through a real Squid: CONNECT by name to the tenant emulator, 407, Basic auth, 403.

Squid resolves login.microsoftonline.com and graph.microsoft.com to the emulator through its hosts file;
`--connect-to HOST:443:HOST:PORT` makes the client ask Squid for the emulator's port, by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.infra.squid import SquidProxy

from aadc_doctor.lab.tenant import TenantEmulator, start_tenant_emulator

PROXY_PASSWORD = "SquidCanary-7fq2"


@pytest.fixture(scope="module")
def lab() -> Iterator[TenantEmulator]:
    with start_tenant_emulator() as emulator:
        yield emulator


def _squid(factory: Callable[..., SquidProxy], lab: TenantEmulator, **overrides: Any) -> SquidProxy:
    hosts = {"login.microsoftonline.com": str(lab.host), "graph.microsoft.com": str(lab.host)}
    return factory(hosts=hosts, basic_users={"alice": PROXY_PASSWORD}, **overrides)


def _run(run_cli: Callable[..., Any], lab: TenantEmulator, upn: str, proxy: str, *extra: str) -> tuple[int, Any, str]:
    result = run_cli("account", upn, "--proxy", proxy, *lab.cli_args(keep_names=True), "--json", *extra,
                     env={"PROXY_PW": PROXY_PASSWORD})
    return result.code, result.json(), result.stdout + result.stderr


def test_through_squid_every_step_goes_by_name(squid_factory: Callable[..., SquidProxy], lab: TenantEmulator,
                                              run_cli: Callable[..., Any]) -> None:
    squid = _squid(squid_factory, lab)
    since = squid.log_offset()
    code, report, _ = _run(run_cli, lab, "admin@contoso.com", squid.url("open"))
    assert code == 0, report["findings"]
    assert report["results"]["graph"]["pta_agents"]["active"] == 3
    assert report["results"]["proxy"]["source"] == "--proxy"
    # Squid logs a tunnel when it closes, and the run's tunnels close together: wait for each line on its own
    squid.wait_for_log(f"CONNECT graph.microsoft.com:{lab.port}", since=since)
    squid.wait_for_log(f"CONNECT login.microsoftonline.com:{lab.port}", since=since)
    # every request of the run, MSAL's included, went through the proxy
    assert all(r["via_proxy"] for r in report["results"]["requests"])


def test_proxy_authentication_required_is_user_realm_discovery_failed(
        squid_factory: Callable[..., SquidProxy], lab: TenantEmulator, run_cli: Callable[..., Any]) -> None:
    squid = _squid(squid_factory, lab)
    code, report, _ = _run(run_cli, lab, "admin@contoso.com", squid.url("basic"))
    assert code == 1
    assert [f["id"] for f in report["findings"]] == ["user-realm-discovery-failed"]
    assert report["results"]["realm"]["failure"]["outcome"] == "proxy_auth_required"


def test_basic_proxy_credentials_work_and_stay_secret(squid_factory: Callable[..., SquidProxy], lab: TenantEmulator,
                                                      run_cli: Callable[..., Any]) -> None:
    squid = _squid(squid_factory, lab)
    code, report, text = _run(run_cli, lab, "pim@contoso.com", squid.url("basic"), "--proxy-user", "alice",
                              "--proxy-password-env", "PROXY_PW")
    assert "privileged-identity-management" in [f["id"] for f in report["findings"]]
    assert code == 1
    assert PROXY_PASSWORD not in text
    assert PROXY_PASSWORD not in squid.access_log.read_text()


def test_graph_blocked_by_the_proxy_is_company_info_unavailable(
        squid_factory: Callable[..., SquidProxy], lab: TenantEmulator, run_cli: Callable[..., Any]) -> None:
    squid = _squid(squid_factory, lab, allowed_domains=[".microsoftonline.com"])
    code, report, _ = _run(run_cli, lab, "admin@contoso.com", squid.url("open"))
    ids = [f["id"] for f in report["findings"]]
    assert code == 1
    assert report["results"]["sign_in"]["succeeded"] is True
    assert {"company-info-unavailable", "retrieve-domains-failed", "pta-agents-unreadable"} <= set(ids)
    company = next(f for f in report["findings"] if f["id"] == "company-info-unavailable")
    assert "proxy_forbidden" in company["detail"]
