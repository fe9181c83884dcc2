"""Each proxy finding: raised on the variant that shows it, absent on the one that does not."""

from __future__ import annotations

from pathlib import Path

from aadc_doctor.analysis.proxy_audit import (
    SNIPPET_ANONYMOUS,
    ProxyEvidence,
    RequiredEndpoint,
    audit_exe_config,
    audit_machine_config,
    audit_proxy,
    audit_required_endpoints,
    audit_winhttp,
)
from aadc_doctor.model import Finding, Severity
from aadc_doctor.proxyconfig.components import component_for_file
from aadc_doctor.proxyconfig.dotnet_config import ConfigFile, read_config_file
from aadc_doctor.proxyconfig.effective import resolve_components
from aadc_doctor.proxyconfig.environment import environment_proxy
from aadc_doctor.proxyconfig.model import ProxyConfig
from aadc_doctor.proxyconfig.pac import load_pac
from aadc_doctor.proxyconfig.winhttp import read_winhttp_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MC = FIXTURES / "machine_config"
EXE = MC / "exe_config"
REQUIRED = (
    RequiredEndpoint("sync", "*.microsoftonline.com", ("https://login.microsoftonline.com/",
                                                       "https://adminwebservice.microsoftonline.com/")),
    RequiredEndpoint("sync", "mscrl.microsoft.com", ("http://mscrl.microsoft.com/pki/mscorp/crl/x.crl",)),
    RequiredEndpoint("pta", "*.msappproxy.net", ("https://contoso.registration.msappproxy.net/",)),
    RequiredEndpoint("pta", "login.microsoftonline.com", ("https://login.microsoftonline.com/",)),
)


def cfg(name: str) -> ConfigFile:
    return read_config_file(MC / name)


def ids(findings: list[Finding]) -> list[str]:
    return [f.id for f in findings]


def one(findings: list[Finding], finding_id: str) -> Finding:
    hits = [f for f in findings if f.id == finding_id]
    assert len(hits) == 1, ids(findings)
    return hits[0]


def test_valid_machine_config_only_reminds_to_restart() -> None:
    findings = audit_machine_config(cfg("valid.config"))
    assert ids(findings) == ["adsync-restart-needed"]
    restart = findings[0]
    assert restart.severity is Severity.INFO
    assert restart.remedy == "Restart-Service ADSync"
    assert "at least 6 minutes" in restart.detail


def test_missing_default_proxy_remedy_is_microsofts_snippet() -> None:
    finding = one(audit_machine_config(cfg("stock-no-proxy.config")), "machine-config-no-default-proxy")
    assert finding.severity is Severity.WARNING
    assert SNIPPET_ANONYMOUS in finding.remedy
    assert r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Config\machine.config" in finding.remedy
    assert "adsync-restart-needed" not in ids(audit_machine_config(cfg("stock-no-proxy.config")))


def test_disabled() -> None:
    findings = audit_machine_config(cfg("disabled.config"))
    assert ids(findings) == ["machine-config-proxy-disabled"]
    assert findings[0].subject.endswith("disabled.config:36")


def test_authenticated_explains_the_two_identities() -> None:
    findings = audit_machine_config(cfg("authenticated.config"))
    assert ids(findings) == ["machine-config-authenticated-proxy", "adsync-restart-needed"]
    assert "Configure page" in findings[0].detail and "domain account" in findings[0].detail


def test_system_default_only() -> None:
    assert ids(audit_machine_config(cfg("system-default-only.config"))) == ["machine-config-system-default-only"]


def test_invalid_proxy_addresses() -> None:
    https = one(audit_machine_config(cfg("https-proxy.config")), "machine-config-proxy-address-invalid")
    assert "ServicePointManager does not support proxies with the https scheme" in https.detail
    assert https.severity is Severity.ERROR
    no_scheme = one(audit_machine_config(cfg("no-scheme.config")), "machine-config-proxy-address-invalid")
    assert "has no http:// prefix" in no_scheme.title


def test_wildcard_bypass_entry_is_invalid_regex() -> None:
    finding = one(audit_machine_config(cfg("bypass-wildcard.config")), "bypass-entry-invalid")
    assert '"*.fabrikam.local"' in finding.title
    assert finding.subject.endswith("bypass-wildcard.config:39")
    assert "ignores the whole bypass list" in finding.detail
    assert ids(audit_machine_config(cfg("bypass-list.config"))) == ["adsync-restart-needed"]


def test_config_problems_become_errors() -> None:
    case = one(audit_machine_config(cfg("case-error.config")), "config-unrecognized-attribute")
    assert case.severity is Severity.ERROR and "case-sensitive" in case.title
    dup = one(audit_machine_config(cfg("duplicate-section.config")), "config-duplicate-default-proxy")
    assert "Sections must only appear once" in dup.title


def test_miiserver_trap() -> None:
    sync = component_for_file("miiserver.exe.config")
    assert sync is not None
    mii = read_config_file(EXE / "miiserver.exe.config")
    alone = one(audit_exe_config(sync, mii, cfg("stock-no-proxy.config")), "proxy-only-in-miiserver-config")
    assert alone.severity is Severity.WARNING
    assert "overwritten on every upgrade" in alone.detail and SNIPPET_ANONYMOUS in alone.remedy
    both = one(audit_exe_config(sync, mii, cfg("valid.config")), "proxy-only-in-miiserver-config")
    assert both.severity is Severity.INFO


def test_connector_bypass_is_informational() -> None:
    connector = component_for_file("ApplicationProxyConnectorService.exe.config")
    assert connector is not None
    findings = audit_exe_config(connector, read_config_file(EXE / "ApplicationProxyConnectorService.exe.config"),
                                None)
    assert ids(findings) == ["exe-config-proxy-bypassed"]


def test_winhttp_only() -> None:
    winhttp = read_winhttp_file(FIXTURES / "winhttp" / "proxy.txt")
    finding = one(audit_winhttp(winhttp, cfg("stock-no-proxy.config")), "winhttp-only-proxy")
    assert finding.severity is Severity.ERROR
    assert 'proxyaddress="http://fabrikamproxy:8080"' in finding.remedy
    assert "1.1.105.0" in finding.detail
    assert audit_winhttp(winhttp, cfg("valid.config")) == []
    assert ids(audit_winhttp(winhttp, cfg("disabled.config"))) == ["winhttp-only-proxy"]
    assert ids(audit_winhttp(winhttp, None)) == ["winhttp-proxy-set"]
    assert audit_winhttp(read_winhttp_file(FIXTURES / "winhttp" / "direct.txt"), None) == []


def test_bypass_covering_required_endpoints_one_finding_per_entry() -> None:
    proxy = ProxyConfig(source="machine.config:m", url="http://p:8080",
                        bypass=(r"microsoftonline\.com", r"\.fabrikam\.local$"))
    findings = audit_required_endpoints("the Sync engine", proxy, REQUIRED, "sync")
    assert len(findings) == 1
    assert findings[0].title.startswith('Bypass entry "microsoftonline\\.com" sends required URLs direct')
    assert "login.microsoftonline.com, adminwebservice.microsoftonline.com" in findings[0].detail
    assert audit_required_endpoints("x", ProxyConfig(source="none"), REQUIRED, None) == []
    narrow = ProxyConfig(source="m", url="http://p:8080", bypass=(r"\.fabrikam\.local$",))
    assert audit_required_endpoints("x", narrow, REQUIRED, None) == []


def test_pac_returning_direct_for_required_urls() -> None:
    pac = ProxyConfig(source="pac:x", pac=load_pac(str(FIXTURES / "pac" / "direct-microsoft.pac")))
    findings = audit_required_endpoints("the PAC file", pac, REQUIRED, None)
    assert len(findings) == 1
    assert "returns DIRECT" in findings[0].title and findings[0].title.endswith("direct for the PAC file")
    assert findings[0].subject == str(FIXTURES / "pac" / "direct-microsoft.pac")
    assert "contoso.registration.msappproxy.net" in findings[0].detail
    corporate = ProxyConfig(source="pac:y", pac=load_pac(str(FIXTURES / "pac" / "corporate.pac")))
    assert audit_required_endpoints("the PAC file", corporate, REQUIRED, None) == []


def evidence(machine: ConfigFile | None, *exe_names: str, **kwargs: object) -> ProxyEvidence:
    pairs = []
    for name in exe_names:
        component = component_for_file(name)
        assert component is not None
        pairs.append((component, read_config_file(EXE / name)))
    components = resolve_components(machine, {c.id: f for c, f in pairs})
    return ProxyEvidence(machine_config=machine, exe_configs=tuple(pairs), components=tuple(components),
                         required=REQUIRED, **kwargs)  # type: ignore[arg-type]


def test_pta_agent_behind_authenticating_proxy() -> None:
    findings = audit_proxy(evidence(cfg("valid.config"), "AzureADConnectAuthenticationAgentService.exe.config"))
    pta = one(findings, "pta-agent-behind-authenticating-proxy")
    # regression: useDefaultCredentials (in Microsoft's own PTA FAQ snippet, this fixture) only answers a 407; it
    # does not show that the proxy asks for credentials, so it is a reminder, not a warning
    assert pta.severity is Severity.INFO
    assert pta.title == "The PTA agent must reach its proxy without authentication"
    assert '. The setting has useDefaultCredentials="true": credentials for a proxy that answers 407' in pta.detail
    assert "asks for credentials" not in pta.title and "so the proxy authenticates" not in pta.detail
    assert "(if it runs on this server)" not in pta.title
    assert "NETWORK SERVICE" in pta.remedy
    via_machine = one(audit_proxy(evidence(cfg("authenticated.config"))), "pta-agent-behind-authenticating-proxy")
    assert "(if it runs on this server)" in via_machine.title
    assert "pta-agent-behind-authenticating-proxy" not in ids(audit_proxy(evidence(cfg("valid.config"))))


def test_pta_agent_with_a_password_in_the_proxy_url(tmp_path: Path) -> None:
    exe = tmp_path / "AzureADConnectAuthenticationAgentService.exe.config"
    exe.write_text('<configuration><system.net><defaultProxy><proxy usesystemdefault="false" '
                   'proxyaddress="http://svc:S3cret@proxy:8080"/></defaultProxy></system.net></configuration>')
    pairs = ((component_for_file(exe.name), read_config_file(exe)),)
    assert pairs[0][0] is not None
    components = resolve_components(None, {pairs[0][0].id: pairs[0][1]})
    findings = audit_proxy(ProxyEvidence(machine_config=None, exe_configs=pairs,  # type: ignore[arg-type]
                                         components=tuple(components), required=REQUIRED))
    pta = one(findings, "pta-agent-behind-authenticating-proxy")
    assert pta.severity is Severity.WARNING
    assert pta.title == "The PTA agent has a password in its proxy URL, but cannot authenticate to a proxy"
    assert ". The setting has a user name and password in the proxy URL: credentials" in pta.detail
    assert "S3cret" not in pta.detail


def test_health_agent_note_only_when_a_proxy_is_in_play() -> None:
    assert "health-agent-proxy-separate" in ids(audit_proxy(evidence(cfg("valid.config"))))
    assert "health-agent-proxy-separate" not in ids(audit_proxy(evidence(cfg("stock-no-proxy.config"))))


def test_environment_is_noted_as_ignored_by_aadc() -> None:
    env = environment_proxy({"HTTPS_PROXY": "http://u:pw@envproxy:3128"})
    findings = audit_proxy(ProxyEvidence(environment=env))
    finding = one(findings, "environment-proxy-not-used-by-aadc")
    assert "pw" not in finding.title and "u:***@envproxy" in finding.title


def test_findings_are_kebab_case_and_complete() -> None:
    import re

    everything = []
    for name in ("valid.config", "stock-no-proxy.config", "disabled.config", "authenticated.config",
                 "bypass-list.config", "bypass-wildcard.config", "https-proxy.config", "case-error.config",
                 "duplicate-section.config", "system-default-only.config", "no-scheme.config"):
        everything += audit_proxy(evidence(cfg(name), "miiserver.exe.config",
                                           "AzureADConnectAuthenticationAgentService.exe.config",
                                           winhttp=read_winhttp_file(FIXTURES / "winhttp" / "proxy.txt")))
    assert everything
    for finding in everything:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", finding.id), finding.id
        assert finding.title and finding.detail and finding.remedy and finding.references, finding.id
