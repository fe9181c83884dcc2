"""proxy_findings.toml: every template is used by proxy_audit on some input, and renders without a gap."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest

from aadc_doctor.analysis import proxy_audit
from aadc_doctor.analysis.proxy_audit import FINDING_KEYS, ProxyEvidence, RequiredEndpoint, audit_proxy
from aadc_doctor.knowledge import read_toml
from aadc_doctor.knowledge.findings import FindingTemplate
from aadc_doctor.model import Finding
from aadc_doctor.proxyconfig.components import component_for_file
from aadc_doctor.proxyconfig.dotnet_config import ConfigFile, parse_config_bytes
from aadc_doctor.proxyconfig.effective import resolve_components
from aadc_doctor.proxyconfig.environment import environment_proxy
from aadc_doctor.proxyconfig.model import ProxyConfig
from aadc_doctor.proxyconfig.pac import load_pac
from aadc_doctor.proxyconfig.winhttp import parse_winhttp_output

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REQUIRED = (RequiredEndpoint("sync", "*.microsoftonline.com", ("https://login.microsoftonline.com/",)),
            RequiredEndpoint("pta", "*.msappproxy.net", ("https://contoso.registration.msappproxy.net/",)))
WINHTTP = (FIXTURES / "winhttp" / "proxy.txt").read_text(encoding="utf-8")


def config(name: str, system_net: str) -> ConfigFile:
    xml = f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n{system_net}\n</configuration>\n'
    return parse_config_bytes(xml.encode(), name)


def proxy(inner: str, attrs: str = "") -> str:
    return f"<system.net><defaultProxy{attrs}>{inner}</defaultProxy></system.net>"


def evidence(machine: ConfigFile | None, *exe: ConfigFile, **kwargs: Any) -> ProxyEvidence:
    pairs = []
    for cfg in exe:
        component = component_for_file(cfg.name)
        assert component is not None
        pairs.append((component, cfg))
    components = resolve_components(machine, {c.id: cfg for c, cfg in pairs})
    return ProxyEvidence(machine_config=machine, exe_configs=tuple(pairs), components=tuple(components),
                         required=REQUIRED, **kwargs)


def scenarios() -> list[ProxyEvidence]:
    """Inputs that between them raise every finding proxy_audit knows."""
    mc = "machine.config"
    return [
        evidence(config(mc, "<system.net><defaultproxy/></system.net>")),
        evidence(config(mc, proxy('<proxy proxyAddress="http://p:8080"/>'))),
        evidence(config(mc, proxy('<proxy proxyaddress="http://p:8080"/>', ' enabled="yes"'))),
        evidence(config(mc, proxy("") + "\n" + proxy(""))),
        evidence(config(mc, "<runtime>" + proxy("") + "</runtime>")),
        evidence(config(mc, proxy("", ' configSource="proxy.config"'))),
        evidence(config(mc, proxy('<proxy proxyaddress="p:8080"/>'))),
        evidence(config(mc, proxy('<proxy proxyaddress="https://p:8443"/>'))),
        evidence(config(mc, proxy('<proxy proxyaddress="ftp://p:21"/>'))),
        evidence(config(mc, proxy('<proxy proxyaddress="http://p"/>'))),
        evidence(config(mc, proxy('<proxy proxyaddress="http://p:8080"/><bypasslist><add address="*.x["/>'
                                  '</bypasslist>', ' useDefaultCredentials="true"')),
                 winhttp=parse_winhttp_output(WINHTTP, "netsh")),
        evidence(config(mc, proxy('<proxy proxyaddress="http://p:8080"/><bypasslist>'
                                  '<add address="microsoftonline"/></bypasslist>'))),
        evidence(config(mc, proxy('<proxy proxyaddress="http://p:8080"/><bypasslist>'
                                  '<add address="^(([a-z:/.]+)+)+!"/></bypasslist>'))),
        evidence(config(mc, "<appSettings/>"), winhttp=parse_winhttp_output(WINHTTP, "netsh")),
        evidence(None, winhttp=parse_winhttp_output(WINHTTP, "netsh"),
                 pac=ProxyConfig(source="pac:x", pac=load_pac(str(FIXTURES / "pac" / "direct-microsoft.pac")))),
        evidence(config(mc, proxy('<proxy usesystemdefault="true"/>')),
                 config("miiserver.exe.config", proxy('<proxy proxyaddress="http://p:8080"/>')),
                 config("AzureADConnectAuthenticationAgentService.exe.config",
                        proxy('<proxy proxyaddress="http://u:pw@p:8080"/>')),
                 config("ApplicationProxyConnectorService.exe.config",
                        proxy('<proxy proxyaddress="http://p:8080"/>', ' useDefaultCredentials="true"'))),
        evidence(config(mc, proxy('<proxy proxyaddress="http://u:pw@p:8080"/>', ' useDefaultCredentials="true"')),
                 config("ApplicationProxyConnectorService.exe.config", proxy('<proxy proxyaddress="http://u:pw@p:8080"/>')),
                 environment=environment_proxy({"HTTPS_PROXY": "http://envproxy:3128"})),
        evidence(None, config("miiserver.exe.config", proxy('<proxy proxyaddress="http://p:8080"/>')),
                 config("ApplicationProxyConnectorService.exe.config", proxy("", ' enabled="false"'))),
        evidence(config(mc, proxy('<proxy proxyaddress="http://p:8080"/>', ' enabled="false"'))),
    ]


def template_keys() -> dict[int, str]:
    """``id(template)`` -> its key in the data file, to tell which template rendered a finding."""
    keys = {id(t): f"finding.{k}" for k, t in proxy_audit._finding_templates().items()}
    keys.update({id(t): f"problem.{k}" for k, t in proxy_audit._problem_templates().items()})
    return keys


def test_every_template_is_used_by_some_input(monkeypatch: pytest.MonkeyPatch) -> None:
    used: set[str] = set()
    keys = template_keys()
    render = proxy_audit._render

    def recording(template: FindingTemplate, subject: str, references: tuple[str, ...] | None = None,
                  **values: Any) -> Finding:
        used.add(keys[id(template)])
        return render(template, subject, references, **values)

    monkeypatch.setattr(proxy_audit, "_render", recording)
    findings = [f for ev in scenarios() for f in audit_proxy(ev)]
    data = read_toml("proxy_findings.toml")
    declared = {f"{section}.{key}" for section in ("finding", "problem") for key in data[section]}
    assert declared - used == set()
    assert all(f.title and f.detail and f.remedy and f.references for f in findings)


def test_data_file_and_code_name_the_same_findings() -> None:
    assert set(read_toml("proxy_findings.toml")["finding"]) == set(FINDING_KEYS)


def test_every_placeholder_is_one_the_code_fills() -> None:
    """A misspelt {placeholder} would raise KeyError only on the input that raises that finding."""
    filled = {"add_to_machine_config", "snippet_anonymous", "name", "line", "message", "who", "address", "entry",
              "location", "hosts", "server", "snippet", "component", "conditional", "explanation", "note",
              "restart", "own_settings", "display", "setting"}
    data = read_toml("proxy_findings.toml")
    for section in ("finding", "problem"):
        for key, raw in data[section].items():
            for field in ("title", "detail", "remedy"):
                names = {name for _, name, _, _ in string.Formatter().parse(raw.get(field, "")) if name is not None}
                assert names <= filled, f"{section}.{key}.{field}: {names - filled}"


def test_snippets_are_microsofts() -> None:
    assert 'proxyaddress="http://<PROXYADDRESS>:<PROXYPORT>"' in proxy_audit.SNIPPET_ANONYMOUS
    assert proxy_audit.SNIPPET_AUTHENTICATED.splitlines()[1].strip() == \
        '<defaultProxy enabled="true" useDefaultCredentials="true">'
