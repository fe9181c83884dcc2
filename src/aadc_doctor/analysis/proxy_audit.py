"""Audit the proxy settings: pure functions from what the files say to findings with the articles' remedies.

Each finding id is stable (scripts match on it); titles, remedies and references sit next to the logic
that raises them, and the remedies quote Microsoft's own machine.config snippets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from aadc_doctor.model import Finding, Severity
from aadc_doctor.proxyconfig.bypass import Target, invalid_dotnet_entries
from aadc_doctor.proxyconfig.components import Component
from aadc_doctor.proxyconfig.dotnet_config import ConfigFile, ConfigProblem, DotNetProxySettings, resolve_default_proxy
from aadc_doctor.proxyconfig.effective import ComponentProxy
from aadc_doctor.proxyconfig.model import ProxyConfig
from aadc_doctor.proxyconfig.winhttp import WinHttpSettings

PREREQS = "https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-install-prerequisites#connectivity"
TSHOOT = "https://learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-connectivity"
DEFAULT_PROXY_DOC = ("https://learn.microsoft.com/dotnet/framework/configure-apps/file-schema/network/"
                     "defaultproxy-element-network-settings")
BYPASS_DOC = "https://learn.microsoft.com/dotnet/framework/configure-apps/file-schema/network/add-element-for-bypasslist"
HEALTH_PROXY = ("https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-health-agent-install"
                "#configure-microsoft-entra-connect-health-agents-to-use-http-proxy")
MACHINE_CONFIG_PATH = r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Config\machine.config"

SNIPPET_ANONYMOUS = """<system.net>
    <defaultProxy>
        <proxy
        usesystemdefault="true"
        proxyaddress="http://<PROXYADDRESS>:<PROXYPORT>"
        bypassonlocal="true"
        />
    </defaultProxy>
</system.net>"""

# Microsoft's snippet for an authenticating proxy is the same with two attributes on <defaultProxy>
SNIPPET_AUTHENTICATED = SNIPPET_ANONYMOUS.replace(
    "<defaultProxy>", '<defaultProxy enabled="true" useDefaultCredentials="true">', 1)

ADD_TO_MACHINE_CONFIG = (f"Add this at the bottom of {MACHINE_CONFIG_PATH}, inside <configuration> (before "
                         "</configuration>), then restart the ADSync service once:\n")


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


_PROBLEM_IDS = {
    "unrecognized-element": ("config-unrecognized-element", Severity.ERROR),
    "unrecognized-attribute": ("config-unrecognized-attribute", Severity.ERROR),
    "invalid-value": ("config-invalid-value", Severity.ERROR),
    "duplicate-section": ("config-duplicate-default-proxy", Severity.ERROR),
    "misplaced-section": ("config-misplaced-section", Severity.ERROR),
    "external-config-source": ("config-external-source", Severity.WARNING),
}


def audit_config_problems(cfg: ConfigFile) -> list[Finding]:
    """Well-formed XML that .NET still rejects: it then cannot read the file at all."""
    findings = []
    who = "every .NET program on the server (the wizard, ADSync, PowerShell)" if cfg.name.lower() == \
        "machine.config" else f"the program that reads {cfg.name}"
    for problem in cfg.problems:
        finding_id, severity = _PROBLEM_IDS[problem.kind]
        findings.append(Finding(
            id=finding_id, severity=severity, title=f"{cfg.name} line {problem.line}: {problem.message}",
            detail=(f"The .NET configuration system reports this as a ConfigurationErrorsException, and {who} "
                    "then cannot read its configuration." if severity is Severity.ERROR else
                    "The proxy settings of this section are in another file."),
            remedy=_problem_remedy(problem),
            subject=_where(cfg, problem.line), references=(DEFAULT_PROXY_DOC,),
        ))
    return findings


def _problem_remedy(problem: ConfigProblem) -> str:
    if problem.kind == "duplicate-section":
        return "Keep one <system.net><defaultProxy> section: merge the two and delete the second."
    if problem.kind == "misplaced-section":
        return "Move the <system.net> section so it is a direct child of <configuration>, at the end of the file."
    if problem.kind == "external-config-source":
        return "Run aadc-doctor proxy on the file named in configSource as well."
    return "Correct the spelling and case exactly as in Microsoft's snippet:\n" + SNIPPET_ANONYMOUS


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
    problem: tuple[str, str] | None = None
    if "://" not in address:
        problem = ("has no http:// prefix", "The value must have the prefix http:// even if you're using an IP "
                   "address; without it .NET does not read it as a proxy URL.")
    elif parts.scheme.lower() == "https":
        problem = ("uses https://", ".NET Framework fails every request with 'The ServicePointManager does not "
                   "support proxies with the https scheme'.")
    elif parts.scheme.lower() != "http" or not parts.hostname:
        problem = ("is not an http://host:port URL", "The proxy address must be http://<PROXYADDRESS>:<PROXYPORT>.")
    if problem:
        return [Finding(
            id="machine-config-proxy-address-invalid", severity=Severity.ERROR,
            title=f"proxyaddress \"{address}\" {problem[0]}",
            detail=problem[1],
            remedy='Write proxyaddress="http://<PROXYADDRESS>:<PROXYPORT>", e.g. proxyaddress="http://fabrikamproxy:8080".',
            subject=_where(cfg, line), references=(PREREQS, DEFAULT_PROXY_DOC),
        )]
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None or port < 0:
        return [Finding(
            id="machine-config-proxy-port-missing", severity=Severity.WARNING,
            title=f"proxyaddress \"{address}\" has no valid port",
            detail="Without a port .NET connects to the proxy on port 80; most proxies listen on 8080 or 3128.",
            remedy='Write the port explicitly: proxyaddress="http://<PROXYADDRESS>:<PROXYPORT>".',
            subject=_where(cfg, line), references=(PREREQS,),
        )]
    return []


def audit_dotnet_proxy_file(cfg: ConfigFile) -> list[Finding]:
    """What .NET itself makes of the file a run took its proxy from: a file it rejects, an address it cannot use.

    The probes read proxyaddress leniently ('host:port' as http://host:port), .NET Framework does not, so these
    break the wizard and the sync engine even where every probe got through.
    """
    return [*audit_config_problems(cfg), *audit_proxy_address(resolve_default_proxy([cfg]), cfg)]


def audit_bypass_entries(settings: DotNetProxySettings, cfg: ConfigFile) -> list[Finding]:
    """.NET compiles each bypass entry as a regular expression; one invalid entry disables the whole list."""
    bad = invalid_dotnet_entries(settings.bypass)
    if not bad or not settings.enabled:
        return []
    lines = {op.address: op.line for op in (cfg.default_proxy.bypass_ops if cfg.default_proxy else ())}
    return [Finding(
        id="bypass-entry-invalid", severity=Severity.ERROR,
        title=f"Bypass entry \"{entry}\" is not a regular expression",
        detail=(".NET reads every <bypasslist><add address> as a regular expression (not a wildcard). It cannot "
                "compile this one, and when one entry fails .NET ignores the whole bypass list, so every host, "
                "intranet ones included, goes to the proxy."),
        remedy=("Write a regular expression, e.g. for *.contoso.com: <add address=\"[a-z0-9.-]*\\.contoso\\.com$\" /> "
                "(escape the dots, anchor the end)."),
        subject=_where(cfg, lines.get(entry)), references=(BYPASS_DOC,),
    ) for entry in bad]


def audit_machine_config(cfg: ConfigFile) -> list[Finding]:
    """machine.config: present, enabled, with an explicit proxyaddress, valid; and the restart reminder."""
    findings = audit_config_problems(cfg)
    settings = resolve_default_proxy([cfg])
    element = cfg.default_proxy
    if element is None:
        findings.append(Finding(
            id="machine-config-no-default-proxy", severity=Severity.WARNING,
            title="machine.config has no <system.net><defaultProxy> section",
            detail=("The installation wizard and the sync engine are .NET applications and require machine.config "
                    "to be properly configured. Without this section they use the Internet Explorer settings of "
                    "the account they run as (the ADSync service account normally has none) and connect directly: "
                    "the wizard reports 'The installation wizard has not been correctly configured' and "
                    "Invoke-WebRequest 'Unable to connect to the remote server'. Fine only if this server reaches "
                    "the internet without a proxy."),
            remedy=ADD_TO_MACHINE_CONFIG + SNIPPET_ANONYMOUS,
            subject=cfg.path, references=(PREREQS, TSHOOT),
        ))
        return findings
    where = _where(cfg, element.line)
    if not settings.enabled:
        findings.append(Finding(
            id="machine-config-proxy-disabled", severity=Severity.WARNING,
            title='machine.config turns the proxy off: <defaultProxy enabled="false">',
            detail=("Every .NET program without a proxy of its own (the wizard, ADSync, PowerShell) connects "
                    "directly, ignoring proxyaddress and the Internet Explorer settings."),
            remedy='Remove enabled="false" (or set enabled="true") and give the proxy:\n' + SNIPPET_ANONYMOUS,
            subject=where, references=(PREREQS, DEFAULT_PROXY_DOC),
        ))
    elif settings.uses_system_settings:
        findings.append(Finding(
            id="machine-config-system-default-only", severity=Severity.WARNING,
            title="machine.config names no proxyaddress: the proxy depends on each account's IE settings",
            detail=("The wizard uses the signed-in user on the 'Connect to Azure AD' page and the ADSync service "
                    "account on the 'Configure' page; their Internet Explorer settings usually differ, so one page "
                    "works and the other does not."),
            remedy="Give the proxy explicitly:\n" + SNIPPET_ANONYMOUS,
            subject=where, references=(PREREQS, TSHOOT),
        ))
    findings += audit_proxy_address(settings, cfg)
    findings += audit_bypass_entries(settings, cfg)
    if settings.enabled and settings.proxy_address:
        if settings.use_default_credentials:
            findings.append(Finding(
                id="machine-config-authenticated-proxy", severity=Severity.INFO,
                title='machine.config answers proxy authentication (useDefaultCredentials="true")',
                detail=("In all wizard pages except Configure the signed-in user's credentials are used; on the "
                        "Configure page the context switches to the ADSync service account. If the proxy requires "
                        "authentication, the service account must be a domain account (custom installation)."),
                remedy=("Use domain accounts for the user running the wizard and for the service account; a 407 "
                        "Proxy Authentication Required in the wizard means one of them was refused."),
                subject=where, references=(PREREQS, TSHOOT),
            ))
        findings.append(Finding(
            id="adsync-restart-needed", severity=Severity.INFO,
            title="Restart the ADSync service after any edit of machine.config",
            detail=("If the proxy configuration is being done in an existing setup, the sync service needs to be "
                    "restarted once to read the proxy configuration. Also set the proxy's connection idle "
                    "time-out to at least 6 minutes: Azure AD can take up to 5 minutes to answer an export."),
            remedy="Restart-Service ADSync",
            subject=cfg.path, references=(PREREQS,),
        ))
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
        findings.append(Finding(
            id="proxy-only-in-miiserver-config",
            severity=Severity.INFO if machine_has else Severity.WARNING,
            title=(f"The proxy is set in {cfg.name}, which every upgrade overwrites"
                   + ("" if machine_has else " (machine.config has none)")),
            detail=("Some non-Microsoft blogs document changes to miiserver.exe.config. This file is overwritten on "
                    "every upgrade, so even if it works during the initial install, the system stops working on the "
                    "first upgrade." + (" Until then its settings override machine.config's." if machine_has else "")),
            remedy=("Put the setting in machine.config instead. " + ADD_TO_MACHINE_CONFIG + SNIPPET_ANONYMOUS
                    + f"\nThen remove the <system.net> section from {cfg.name}."),
            subject=_where(cfg, element.line), references=(TSHOOT, PREREQS),
        ))
    elif not settings.enabled:
        findings.append(Finding(
            id="exe-config-proxy-bypassed", severity=Severity.INFO,
            title=f'{component.name} bypasses every proxy: <defaultProxy enabled="false"> in {cfg.name}',
            detail="The documented way to make the connector framework connect directly; it needs a direct route "
                   "to the required URLs.",
            remedy="Nothing to do if the firewall allows the server out directly on ports 80 and 443.",
            subject=_where(cfg, element.line), references=component.references,
        ))
    return findings


def audit_winhttp(winhttp: WinHttpSettings, machine: ConfigFile | None) -> list[Finding]:
    """WinHTTP matters only to the sign-in assistant retired in build 1.1.105.0; alone it leaves the wizard direct."""
    if winhttp.direct:
        return []
    server = winhttp.proxy_server or ""
    if machine is None:
        return [Finding(
            id="winhttp-proxy-set", severity=Severity.INFO,
            title=f"WinHTTP has a proxy ({server}); the wizard and the sync engine do not use it",
            detail=("netsh winhttp was needed for the sign-in assistant, retired in build 1.1.105.0 (February "
                    "2016). PowerShell uses machine.config; the settings in winhttp/netsh don't impact it. "
                    "machine.config was not read, so whether it also sets the proxy is unknown."),
            remedy="Check machine.config too: aadc-doctor proxy --machine-config <path to machine.config>",
            subject=winhttp.source, references=(TSHOOT,),
        )]
    settings = resolve_default_proxy([machine])
    if settings.enabled and settings.proxy_address:
        return []
    return [Finding(
        id="winhttp-only-proxy", severity=Severity.ERROR,
        title=f"WinHTTP has a proxy ({server}) but machine.config has none; the wizard and PowerShell ignore WinHTTP",
        detail=("netsh winhttp configured the sign-in assistant of builds before 1.1.105.0. Today's wizard and sync "
                "engine read machine.config, and PowerShell's Invoke-WebRequest uses machine.config too, so they "
                "try to connect directly: 'Unable to connect to the remote server'."),
        remedy=ADD_TO_MACHINE_CONFIG + SNIPPET_ANONYMOUS.replace("<PROXYADDRESS>:<PROXYPORT>", _host_port(server)),
        subject=machine.path, references=(TSHOOT, PREREQS),
    )]


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
    by_reason: dict[str, list[str]] = {}
    subjects: dict[str, str] = {}
    for endpoint in required:
        if profile is not None and endpoint.profile != profile:
            continue
        for url in endpoint.probe_urls:
            if proxy.proxy_for(url) is not None:
                continue
            if proxy.pac is not None:
                reason = f"the PAC file {proxy.pac.location} returns DIRECT"
                subjects[reason] = proxy.pac.location
            else:
                entry = proxy.bypass_entry_for(url) or ""
                reason = f"bypass entry \"{entry}\""
                subjects[reason] = _entry_subject(entry, proxy, files)
            host = Target.from_url(url).host
            hosts = by_reason.setdefault(reason, [])
            if host not in hosts:
                hosts.append(host)
    return [Finding(
        id="bypass-covers-required-endpoint", severity=Severity.WARNING,
        title=f"{reason[0].upper() + reason[1:]} sends required URLs direct for {name}",
        detail=(f"Not through the proxy: {', '.join(hosts)}. Unless the firewall lets this server out directly, "
                "these calls fail with 'Unable to connect to the remote server' (the call went direct)."),
        remedy=("Remove or narrow the entry so the required URLs go through the proxy, and open them on the proxy. "
                "Bypass entries are regular expressions matched anywhere in scheme://host: anchor them, e.g. "
                "\\.contoso\\.com$." if proxy.pac is None else
                "Make FindProxyForURL return the proxy for these hosts, and open them on the proxy."),
        subject=subjects[reason], references=(TSHOOT, BYPASS_DOC) if proxy.pac is None else (TSHOOT,),
    ) for reason, hosts in by_reason.items()]


def audit_components(components: Sequence[ComponentProxy], required: Sequence[RequiredEndpoint],
                     any_proxy: bool, files: Sequence[ConfigFile] = ()) -> list[Finding]:
    """Per component: unsupported proxy authentication, required URLs sent direct, the Health agent's own store."""
    findings: list[Finding] = []
    same_proxy: dict[tuple[str, tuple[str, ...], str], tuple[list[str], ProxyConfig]] = {}
    for item in components:
        component, proxy = item.component, item.proxy
        if component.reads == ("own",):
            if any_proxy:
                findings.append(Finding(
                    id="health-agent-proxy-separate", severity=Severity.INFO,
                    title="The Connect Health agent keeps its own proxy setting",
                    detail=component.own_settings,
                    remedy=("Set-MicrosoftEntraConnectHealthProxySettings -HttpsProxyAddress "
                            f"<PROXYADDRESS>:<PROXYPORT>, then {component.restart}. {component.proxy_auth_note}"),
                    subject=component.name, references=component.references,
                ))
            continue
        if proxy is None:
            continue
        if component.proxy_auth == "unsupported" and (proxy.use_default_credentials or proxy.has_credentials_in_url):
            conditional = "" if item.origin == "exe.config" else " (if it runs on this server)"
            # useDefaultCredentials alone is in Microsoft's own PTA FAQ snippet: it only answers a 407, so it is a
            # reminder; a password in the URL means someone expects the proxy to authenticate the agent.
            password = proxy.has_credentials_in_url
            findings.append(Finding(
                id=("connector-behind-authenticating-proxy" if component.id.startswith("connector")
                    else "pta-agent-behind-authenticating-proxy"),
                severity=Severity.WARNING if password else Severity.INFO,
                title=(f"The {component.name}{conditional} has a password in its proxy URL, but cannot authenticate "
                       "to a proxy" if password else
                       f"The {component.name}{conditional} must reach its proxy without authentication"),
                detail=(f"Its proxy comes from {item.explanation}. The setting has "
                        + ("a user name and password in the proxy URL" if password else 'useDefaultCredentials="true"')
                        + ": credentials for a proxy that answers 407 Proxy Authentication Required. "
                        f"{component.proxy_auth_note} If the proxy already lets this server through without "
                        "authentication, the setting is harmless."),
                remedy=("Allow the agent server's NETWORK SERVICE account anonymous access to *.msappproxy.net, "
                        "*.servicebus.windows.net and the other required URLs on the proxy, or let it bypass the "
                        f"proxy. Then {component.restart}."),
                subject=item.origin_path or component.name, references=component.references,
            ))
        names, _ = same_proxy.setdefault((proxy.source, proxy.bypass, component.profile), ([], proxy))
        names.append(component.name)
    for (_, _, profile), (names, proxy) in same_proxy.items():
        findings += audit_required_endpoints(_join_names(names), proxy, required, profile, files)
    return findings


def audit_environment(environment: ProxyConfig | None) -> list[Finding]:
    if environment is None:
        return []
    return [Finding(
        id="environment-proxy-not-used-by-aadc", severity=Severity.INFO,
        title=f"HTTPS_PROXY/HTTP_PROXY is set ({environment.display_url or 'direct'}); Azure AD Connect ignores it",
        detail=("Environment variables steer curl, Python and aadc-doctor check, not the wizard, ADSync, the PTA "
                "agent or PowerShell's Invoke-WebRequest."),
        remedy="Configure machine.config (sync, wizard) and the agents' .exe.config files instead.",
        subject="environment", references=(PREREQS,),
    )]


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
