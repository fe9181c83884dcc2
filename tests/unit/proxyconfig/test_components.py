"""Which component reads what (the data table) and the per-component resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from aadc_doctor.errors import UsageError
from aadc_doctor.proxyconfig.components import component_for_file, load_components, parse_exe_config_argument
from aadc_doctor.proxyconfig.dotnet_config import read_config_file
from aadc_doctor.proxyconfig.effective import resolve_component, resolve_components

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "machine_config"
EXE = FIXTURES / "exe_config"


def test_table_is_complete_and_consistent() -> None:
    components = {c.id: c for c in load_components()}
    assert set(components) >= {"wizard", "sync", "pta-agent", "agent-updater", "connector", "connector-updater",
                               "health-agent"}
    assert components["sync"].proxy_auth == "supported"
    assert components["pta-agent"].proxy_auth == "unsupported"
    assert components["sync"].exe_config_overwritten_on_upgrade
    assert components["health-agent"].reads == ("own",)
    for component in components.values():
        assert component.profile in ("sync", "pta", "health")
        assert component.references and component.restart


@pytest.mark.parametrize(("path", "component_id"), [
    (r"C:\Program Files\Microsoft Azure AD Sync\Bin\miiserver.exe.config", "sync"),
    ("/copies/AzureADConnectAuthenticationAgentService.exe.config", "pta-agent"),
    ("applicationproxyconnectorservice.EXE.CONFIG", "connector"),
    ("ApplicationProxyConnectorUpdaterService.exe.config", "connector-updater"),
    ("AzureADConnectAgentUpdater.exe.config", "agent-updater"),
])
def test_component_from_file_name(path: str, component_id: str) -> None:
    component = component_for_file(path)
    assert component is not None and component.id == component_id


def test_exe_config_argument() -> None:
    assert parse_exe_config_argument("pta-agent=copy.config")[0].id == "pta-agent"
    with pytest.raises(UsageError, match="cannot tell which component"):
        parse_exe_config_argument("web.config")
    with pytest.raises(UsageError, match="unknown component 'nope'"):
        parse_exe_config_argument("nope=x.config")
    with pytest.raises(UsageError, match=r"has no \.exe\.config"):
        parse_exe_config_argument("health-agent=x.config")


def by_id(component_id: str):  # type: ignore[no-untyped-def]
    return next(c for c in load_components() if c.id == component_id)


def test_pta_agent_exe_config_wins_over_machine_config() -> None:
    machine = read_config_file(FIXTURES / "valid.config")
    exe = read_config_file(EXE / "AzureADConnectAuthenticationAgentService.exe.config")
    resolved = resolve_component(by_id("pta-agent"), machine, exe)
    assert resolved.origin == "exe.config"
    assert resolved.proxy is not None
    assert resolved.proxy.url == "http://contosoproxy.com:8080"
    assert resolved.proxy.use_default_credentials


def test_pta_agent_falls_back_to_machine_config_then_system() -> None:
    machine = read_config_file(FIXTURES / "valid.config")
    resolved = resolve_component(by_id("pta-agent"), machine, None)
    assert resolved.origin == "machine.config"
    assert "unless AzureADConnectAuthenticationAgentService.exe.config sets its own" in resolved.explanation
    stock = read_config_file(FIXTURES / "stock-no-proxy.config")
    system = resolve_component(by_id("pta-agent"), stock, None)
    assert system.origin == "system" and system.proxy is not None and system.proxy.is_direct
    unknown = resolve_component(by_id("pta-agent"), None, None)
    assert unknown.origin == "unknown" and unknown.proxy is None


def test_connector_disabled_goes_direct() -> None:
    machine = read_config_file(FIXTURES / "valid.config")
    exe = read_config_file(EXE / "ApplicationProxyConnectorService.exe.config")
    resolved = resolve_component(by_id("connector"), machine, exe)
    assert resolved.origin == "exe.config"
    assert resolved.proxy is not None and resolved.proxy.is_direct


def test_wizard_reads_machine_config_even_when_miiserver_has_a_proxy() -> None:
    machine = read_config_file(FIXTURES / "stock-no-proxy.config")
    mii = read_config_file(EXE / "miiserver.exe.config")
    resolved = {c.component.id: c for c in resolve_components(machine, {"sync": mii})}
    assert resolved["sync"].origin == "exe.config"
    assert resolved["sync"].proxy is not None and resolved["sync"].proxy.url == "http://fabrikamproxy:8080"
    assert resolved["wizard"].origin == "system"
    assert resolved["wizard"].proxy is not None and resolved["wizard"].proxy.is_direct


def test_health_agent_has_its_own_settings() -> None:
    resolved = resolve_component(by_id("health-agent"), read_config_file(FIXTURES / "valid.config"), None)
    assert resolved.origin == "own" and resolved.proxy is None
    assert "Set-MicrosoftEntraConnectHealthProxySettings" in resolved.explanation


def test_components_shown() -> None:
    machine = read_config_file(FIXTURES / "valid.config")
    shown = [c.component.id for c in resolve_components(machine, {})]
    assert shown == ["wizard", "sync", "pta-agent", "health-agent"]
    exe = read_config_file(EXE / "ApplicationProxyConnectorService.exe.config")
    shown = [c.component.id for c in resolve_components(machine, {"connector": exe})]
    assert shown == ["wizard", "sync", "pta-agent", "connector", "health-agent"]
