"""Audit the proxy settings: pure functions from what the files say to findings with the articles' remedies.

Each finding id is stable (scripts match on it). The texts (ids, titles, remedies quoting Microsoft's own
machine.config snippets, references) are data in ``knowledge/data/proxy_findings.toml``; this module decides
which finding applies and fills in the values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, get_args
from urllib.parse import urlsplit

from aadc_doctor.knowledge import read_toml
from aadc_doctor.knowledge.findings import FindingTemplate, load_finding_templates
from aadc_doctor.model import Finding
from aadc_doctor.proxyconfig.bypass import Target, dangerous_dotnet_entries, invalid_dotnet_entries
from aadc_doctor.proxyconfig.components import Component
from aadc_doctor.proxyconfig.dotnet_config import ConfigFile, DotNetProxySettings, ProblemKind, resolve_default_proxy
from aadc_doctor.proxyconfig.effective import ComponentProxy
from aadc_doctor.proxyconfig.model import ProxyConfig
from aadc_doctor.proxyconfig.winhttp import WinHttpSettings

FINDINGS_FILE = "proxy_findings.toml"
FINDING_KEYS = (
    "address_no_scheme", "address_https", "address_not_http", "port_missing", "bypass_entry_invalid",
    "bypass_entry_dangerous",
    "no_default_proxy", "proxy_disabled", "system_default_only", "authenticated_proxy", "adsync_restart",
    "overwritten_exe_config", "overwritten_exe_config_only", "exe_config_bypassed", "winhttp_unchecked",
    "winhttp_only", "bypass_covers_required", "pac_direct_required", "health_agent_proxy",
    "pta_agent_auth_password", "pta_agent_auth_default_credentials", "connector_auth_password",
    "connector_auth_default_credentials", "environment_proxy",
)


@cache
def _finding_templates() -> dict[str, FindingTemplate]:
    return load_finding_templates(FINDINGS_FILE, "finding", FINDING_KEYS, lenient=False)


@cache
def _problem_templates() -> dict[str, FindingTemplate]:
    """One template per ConfigProblem kind."""
    return load_finding_templates(FINDINGS_FILE, "problem", get_args(ProblemKind), lenient=False)


def texts() -> dict[str, str]:
    """The ``[text]`` table: Microsoft's snippets and the phrases the templates are filled with."""
    table: dict[str, str] = read_toml(FINDINGS_FILE)["text"]
    return table


SNIPPET_ANONYMOUS = texts()["snippet_anonymous"]
# Microsoft's snippet for an authenticating proxy is the same with two attributes on <defaultProxy>
SNIPPET_AUTHENTICATED = SNIPPET_ANONYMOUS.replace("<defaultProxy>", texts()["default_proxy_authenticated"], 1)
MACHINE_CONFIG_PATH = texts()["machine_config_path"]


def _render(template: FindingTemplate, subject: str, references: tuple[str, ...] | None = None,
            **values: Any) -> Finding:
    """Fill a strict template; the snippet and the "add this to machine.config" sentence are always available."""
    shared = texts()
    finding = template.render(subject, add_to_machine_config=shared["add_to_machine_config"],
                              snippet_anonymous=shared["snippet_anonymous"], **values)
    return finding if references is None else replace(finding, references=references)


def _finding(key: str, subject: str, references: tuple[str, ...] | None = None, **values: Any) -> Finding:
    return _render(_finding_templates()[key], subject, references, **values)


@dataclass(frozen=True)
class RequiredEndpoint:
    """A required URL pattern of one profile and the concrete URLs standing for it (from the endpoint catalog)."""

    profile: str
    pattern: str
    probe_urls: tuple[str, ...]


@dataclass(frozen=True)
class ProxyEvidence:
    """Everything the `proxy` command read."""

    machine_config: ConfigFile | None = None
    exe_configs: tuple[tuple[Component, ConfigFile], ...] = ()
    winhttp: WinHttpSettings | None = None
    pac: ProxyConfig | None = None
    environment: ProxyConfig | None = None
    components: tuple[ComponentProxy, ...] = ()
    required: tuple[RequiredEndpoint, ...] = ()


def _where(cfg: ConfigFile, line: int | None) -> str:
    return f"{cfg.path}:{line}" if line else cfg.path


def audit_config_problems(cfg: ConfigFile) -> list[Finding]:
    """Well-formed XML that .NET still rejects: it then cannot read the file at all."""
    who = texts()["who_machine_config"] if cfg.name.lower() == "machine.config" else \
        texts()["who_exe_config"].format(name=cfg.name)
    return [_render(_problem_templates()[problem.kind], _where(cfg, problem.line), name=cfg.name,
                    line=problem.line, message=problem.message, who=who)
            for problem in cfg.problems]


def audit_proxy_address(settings: DotNetProxySettings, cfg: ConfigFile) -> list[Finding]:
    """proxyaddress must be ``http://host:port``: .NET Framework refuses https proxies and needs the scheme."""
    address = settings.proxy_address
    if not address or not settings.enabled:
        return []
    element = cfg.default_proxy
    line = element.proxy_line if element is not None else None
    try:
        parts = urlsplit(address)
    except ValueError:
        parts = urlsplit("invalid://")
    problem: str | None = None
    if "://" not in address:
        problem = "address_no_scheme"
    elif parts.scheme.lower() == "https":
        problem = "address_https"
    elif parts.scheme.lower() != "http" or not parts.hostname:
        problem = "address_not_http"
    if problem:
        return [_finding(problem, _where(cfg, line), address=address)]
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None or port < 0:
        return [_finding("port_missing", _where(cfg, line), address=address)]
    return []


def audit_dotnet_proxy_file(cfg: ConfigFile) -> list[Finding]:
    """What .NET itself makes of the file a run took its proxy from: a file it rejects, an address it cannot use.

    The probes read proxyaddress leniently ('host:port' as http://host:port), .NET Framework does not, so these
    break the wizard and the sync engine even where every probe got through.
    """
    settings = resolve_default_proxy([cfg])
    # the bypass list too: an invalid entry disables it, a catastrophic one can hang .NET (issue 17, item 8)
    return [*audit_config_problems(cfg), *audit_proxy_address(settings, cfg), *audit_bypass_entries(settings, cfg)]


def audit_bypass_entries(settings: DotNetProxySettings, cfg: ConfigFile) -> list[Finding]:
    """.NET compiles each bypass entry as a regular expression; one invalid entry disables the whole list."""
    bad = invalid_dotnet_entries(settings.bypass)
    dangerous = dangerous_dotnet_entries(settings.bypass)
    if not (bad or dangerous) or not settings.enabled:
        return []
    lines = {op.address: op.line for op in (cfg.default_proxy.bypass_ops if cfg.default_proxy else ())}
    return [*(_finding("bypass_entry_invalid", _where(cfg, lines.get(entry)), entry=entry) for entry in bad),
            *(_finding("bypass_entry_dangerous", _where(cfg, lines.get(entry)), entry=entry) for entry in dangerous)]


def audit_machine_config(cfg: ConfigFile) -> list[Finding]:
    """machine.config: present, enabled, with an explicit proxyaddress, valid; and the restart reminder."""
    findings = audit_config_problems(cfg)
    settings = resolve_default_proxy([cfg])
    element = cfg.default_proxy
    if element is None:
        findings.append(_finding("no_default_proxy", cfg.path))
        return findings
    where = _where(cfg, element.line)
    if not settings.enabled:
        findings.append(_finding("proxy_disabled", where))
    elif settings.uses_system_settings:
        findings.append(_finding("system_default_only", where))
    findings += audit_proxy_address(settings, cfg)
    findings += audit_bypass_entries(settings, cfg)
    if settings.enabled and settings.proxy_address:
        if settings.use_default_credentials:
            findings.append(_finding("authenticated_proxy", where))
        findings.append(_finding("adsync_restart", cfg.path))
    return findings


def audit_exe_config(component: Component, cfg: ConfigFile, machine: ConfigFile | None) -> list[Finding]:
    """A component's own .exe.config: miiserver.exe.config is the upgrade trap; the others are the documented place."""
    findings = audit_config_problems(cfg)
    element = cfg.default_proxy
    if element is None:
        return findings
    settings = resolve_default_proxy([cfg])
    findings += audit_proxy_address(settings, cfg)
    findings += audit_bypass_entries(settings, cfg)
    if component.exe_config_overwritten_on_upgrade:
        machine_has = machine is not None and machine.default_proxy is not None
        findings.append(_finding("overwritten_exe_config" if machine_has else "overwritten_exe_config_only",
                                 _where(cfg, element.line), name=cfg.name))
    elif not settings.enabled:
        findings.append(_finding("exe_config_bypassed", _where(cfg, element.line), component.references,
                                 component=component.name, name=cfg.name))
    return findings


def audit_winhttp(winhttp: WinHttpSettings, machine: ConfigFile | None) -> list[Finding]:
    """WinHTTP matters only to the sign-in assistant retired in build 1.1.105.0; alone it leaves the wizard direct."""
    if winhttp.direct:
        return []
    server = winhttp.proxy_server or ""
    if machine is None:
        return [_finding("winhttp_unchecked", winhttp.source, server=server)]
    settings = resolve_default_proxy([machine])
    if settings.enabled and settings.proxy_address:
        return []
    snippet = SNIPPET_ANONYMOUS.replace("<PROXYADDRESS>:<PROXYPORT>", _host_port(server))
    return [_finding("winhttp_only", machine.path, server=server, snippet=snippet)]


def _host_port(winhttp_server: str) -> str:
    """``host:port`` from a WinHTTP proxy list, for the snippet (placeholder when it is per scheme)."""
    first = winhttp_server.split(";")[0].strip()
    if "=" in first or not first:
        return "<PROXYADDRESS>:<PROXYPORT>"
    return first.split("://", 1)[-1]


def _source_path(source: str) -> str:
    """The file or URL in a ProxyConfig source (``machine.config:C:\\...`` -> ``C:\\...``)."""
    kind, _, rest = source.partition(":")
    return rest if rest and kind in ("machine.config", "exe.config", "winhttp", "pac") else source


def _entry_subject(entry: str, proxy: ProxyConfig, files: Sequence[ConfigFile]) -> str:
    """Where a bypass entry is added: the proxy's own file first, then the machine.config it was merged over."""
    own = _source_path(proxy.source)
    for cfg in sorted(files, key=lambda f: f.path != own):
        for op in cfg.default_proxy.bypass_ops if cfg.default_proxy else ():
            if op.op == "add" and op.address == entry:
                return _where(cfg, op.line)
    return own


def _join_names(names: Sequence[str]) -> str:
    """``the A and the B``; with a comma before the last "and" when a name holds "and" itself
    (``the Installation wizard and PowerShell, and the Sync engine``)."""
    named = [f"the {name}" for name in names]
    if len(named) == 1:
        return named[0]
    last = ", and " if len(named) > 2 or any(" and " in name for name in names) else " and "
    return ", ".join(named[:-1]) + last + named[-1]


def audit_required_endpoints(name: str, proxy: ProxyConfig, required: Sequence[RequiredEndpoint],
                             profile: str | None, files: Sequence[ConfigFile] = ()) -> list[Finding]:
    """Required URLs the bypass list (or PAC) sends direct although a proxy is configured: one finding per entry.

    ``name`` completes "for ..." (``the PAC file``); ``files`` are the config files read, to name the entry's line.
    """
    if proxy.is_direct:
        return []
    by_reason: dict[tuple[str, str], list[str]] = {}
    subjects: dict[tuple[str, str], str] = {}
    for endpoint in required:
        if profile is not None and endpoint.profile != profile:
            continue
        for url in endpoint.probe_urls:
            if proxy.proxy_for(url) is not None:
                continue
            if proxy.pac is not None:
                reason = ("pac_direct_required", proxy.pac.location)
                subjects[reason] = proxy.pac.location
            else:
                entry = proxy.bypass_entry_for(url) or ""
                reason = ("bypass_covers_required", entry)
                subjects[reason] = _entry_subject(entry, proxy, files)
            host = Target.from_url(url).host
            hosts = by_reason.setdefault(reason, [])
            if host not in hosts:
                hosts.append(host)
    return [_finding(key, subjects[(key, what)], name=name, entry=what, location=what, hosts=", ".join(hosts))
            for (key, what), hosts in by_reason.items()]


def audit_components(components: Sequence[ComponentProxy], required: Sequence[RequiredEndpoint],
                     any_proxy: bool, files: Sequence[ConfigFile] = ()) -> list[Finding]:
    """Per component: unsupported proxy authentication, required URLs sent direct, the Health agent's own store."""
    findings: list[Finding] = []
    same_proxy: dict[tuple[str, tuple[str, ...], str], tuple[list[str], ProxyConfig]] = {}
    for item in components:
        component, proxy = item.component, item.proxy
        if component.reads == ("own",):
            if any_proxy:
                findings.append(_finding("health_agent_proxy", component.name, component.references,
                                         own_settings=component.own_settings, restart=component.restart,
                                         note=component.proxy_auth_note))
            continue
        if proxy is None:
            continue
        if component.proxy_auth == "unsupported" and (proxy.use_default_credentials or proxy.has_credentials_in_url):
            conditional = "" if item.origin == "exe.config" else " (if it runs on this server)"
            # useDefaultCredentials alone is in Microsoft's own PTA FAQ snippet: it only answers a 407, so it is a
            # reminder; a password in the URL means someone expects the proxy to authenticate the agent.
            password = proxy.has_credentials_in_url
            family = "connector" if component.id.startswith("connector") else "pta_agent"
            variant = "password" if password else "default_credentials"
            findings.append(_finding(
                f"{family}_auth_{variant}", item.origin_path or component.name, component.references,
                component=component.name, conditional=conditional, explanation=item.explanation,
                setting=texts()[f"setting_{variant}"], note=component.proxy_auth_note, restart=component.restart,
            ))
        names, _ = same_proxy.setdefault((proxy.source, proxy.bypass, component.profile), ([], proxy))
        names.append(component.name)
    for (_, _, profile), (names, proxy) in same_proxy.items():
        findings += audit_required_endpoints(_join_names(names), proxy, required, profile, files)
    return findings


def audit_environment(environment: ProxyConfig | None) -> list[Finding]:
    if environment is None:
        return []
    return [_finding("environment_proxy", "environment", display=environment.display_url or "direct")]


def audit_proxy(evidence: ProxyEvidence) -> list[Finding]:
    """All findings for the `proxy` command, in a stable order."""
    findings: list[Finding] = []
    if evidence.machine_config is not None:
        findings += audit_machine_config(evidence.machine_config)
    for component, cfg in evidence.exe_configs:
        findings += audit_exe_config(component, cfg, evidence.machine_config)
    if evidence.winhttp is not None:
        findings += audit_winhttp(evidence.winhttp, evidence.machine_config)
    if evidence.pac is not None:
        findings += audit_required_endpoints("the PAC file", evidence.pac, evidence.required, None)
    findings += audit_environment(evidence.environment)
    any_proxy = (any(c.proxy is not None and not c.proxy.is_direct for c in evidence.components)
                 or bool(evidence.winhttp and not evidence.winhttp.direct)
                 or evidence.pac is not None or evidence.environment is not None)
    files = [cfg for _, cfg in evidence.exe_configs] + ([evidence.machine_config] if evidence.machine_config else [])
    findings += audit_components(evidence.components, evidence.required, any_proxy, files)
    return findings
