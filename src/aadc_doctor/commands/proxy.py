"""`aadc-doctor proxy`: where each component's proxy setting comes from, and what is wrong with it.

Reads machine.config ``<system.net><defaultProxy>``, the agents' .exe.config files (component inferred
from the file name), saved ``netsh winhttp show proxy`` output, a PAC file and the environment. On
Windows, with no file given, it reads the server's own machine.config, .exe.config files and WinHTTP.

JSON ``results``::

    {"sources": [
        {"kind": "machine.config" | "exe.config", "path", "component" (exe.config only), "declared": bool,
         "line", "enabled", "proxy" (password removed), "use_system_default", "bypass_on_local",
         "bypass": [...], "use_default_credentials", "script_location" (a PAC URL or null), "auto_detect": bool,
         "problems": [{"kind", "line", "message"}]},
        {"kind": "winhttp", "path", "direct": bool, "proxy", "bypass": [...], "auto_config_url", "auto_detect": bool}
         (the last two from 'netsh winhttp show advproxy' output, else null/false; or {"kind", "path", "error"}
         when the command could not run on Windows),
        {"kind": "pac", "path", "samples": {url: proxy or null}},
        {"kind": "environment", "variables": {name: value (password removed)}, "proxy", "no_proxy": [...]}],
     "effective": {component_id: {"name", "origin": "exe.config" | "machine.config" | "system" | "own" | "unknown",
                                  "origin_path", "explanation", "reads": [...], "runs_as", "proxy_auth",
                                  "proxy": ProxyConfig.to_dict() or null,
                                  "script_location", "auto_detect": bool (asked before "proxy" when set)}}}
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from aadc_doctor.commands import CommandResult, RunContext
from aadc_doctor.model import Report

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.analysis.proxy_audit import ProxyEvidence, RequiredEndpoint
    from aadc_doctor.proxyconfig.components import Component
    from aadc_doctor.proxyconfig.dotnet_config import ConfigFile

HELP = ("show where the proxy setting comes from (machine.config, .exe.config, netsh winhttp, PAC, environment) "
        "and audit it")
ORIGIN_LABELS = {"exe.config": "its own .exe.config", "machine.config": "machine.config",
                 "system": "IE settings / WPAD", "own": "its own settings", "unknown": "machine.config not read"}
PAC_SAMPLE_URLS = ("https://login.microsoftonline.com/", "https://adminwebservice.microsoftonline.com/",
                   "http://mscrl.microsoft.com/")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--machine-config", metavar="PATH",
                        help="machine.config to audit (on Windows the .NET 4 Framework64 one is read by default)")
    parser.add_argument("--exe-config", metavar="PATH", action="append", default=[],
                        help="a component's .exe.config (miiserver.exe.config, "
                             "AzureADConnectAuthenticationAgentService.exe.config, "
                             "ApplicationProxyConnectorService.exe.config, ...); COMPONENT=PATH for a renamed "
                             "copy; repeatable")
    parser.add_argument("--winhttp", metavar="FILE",
                        help="saved output of 'netsh winhttp show proxy' (on Windows the command is run by default)")
    parser.add_argument("--pac", metavar="FILE_OR_URL",
                        help="a PAC file (or its URL) to evaluate for the required URLs")


def _required_endpoints() -> tuple[RequiredEndpoint, ...]:
    from aadc_doctor.analysis.proxy_audit import RequiredEndpoint
    from aadc_doctor.knowledge.endpoints import load_catalog

    return tuple(
        RequiredEndpoint(profile, rule.pattern, rule.probe_urls)
        for rule in load_catalog().for_profiles(["all"]) if rule.probe_urls
        for profile in rule.profiles
    )


def _config_source(kind: str, cfg: ConfigFile, component: Component | None) -> dict[str, Any]:
    from aadc_doctor.proxyconfig.dotnet_config import resolve_default_proxy
    from aadc_doctor.proxyconfig.model import display_proxy_url

    settings = resolve_default_proxy([cfg])
    source: dict[str, Any] = {"kind": kind, "path": cfg.path}
    if component is not None:
        source["component"] = component.id
    source.update({
        "declared": settings.declared,
        "line": settings.line,
        "enabled": settings.enabled if settings.declared else None,
        "proxy": display_proxy_url(settings.proxy_address) if settings.proxy_address else None,
        "use_system_default": settings.use_system_default,
        "bypass_on_local": settings.bypass_on_local,
        "bypass": list(settings.bypass),
        "use_default_credentials": settings.use_default_credentials,
        "script_location": settings.script_location,
        "auto_detect": bool(settings.auto_detect),
        "problems": [{"kind": p.kind, "line": p.line, "message": p.message} for p in cfg.problems],
    })
    return source


def _collect(args: argparse.Namespace, ctx: RunContext) -> tuple[ProxyEvidence, list[dict[str, Any]]]:
    """Read every source that applies (InputError for a bad file); build the evidence and the sources table."""
    import sys
    from pathlib import Path

    from aadc_doctor.analysis.proxy_audit import ProxyEvidence
    from aadc_doctor.errors import InputError, UsageError
    from aadc_doctor.proxyconfig.components import load_components, parse_exe_config_argument
    from aadc_doctor.proxyconfig.dotnet_config import read_config_file
    from aadc_doctor.proxyconfig.effective import resolve_components
    from aadc_doctor.proxyconfig.environment import environment_proxy, environment_variables
    from aadc_doctor.proxyconfig.machine_config import (
        default_machine_config_path,
        default_machine_config_paths,
        read_machine_config,
    )
    from aadc_doctor.proxyconfig.model import ProxyConfig, display_proxy_url
    from aadc_doctor.proxyconfig.winhttp import read_winhttp_file, run_netsh

    on_windows = sys.platform == "win32" and not getattr(args, "given_files_only", False)  # analyze: never this PC's
    sources: list[dict[str, Any]] = []
    machine = None
    machine_path = args.machine_config or (default_machine_config_path() if on_windows else None)
    if machine_path is not None and (args.machine_config or Path(machine_path).is_file()):
        machine = read_machine_config(machine_path)
        sources.append(_config_source("machine.config", machine, None))
    if on_windows and not args.machine_config:  # the other bitness's machine.config: 32-bit .NET processes read it
        for other in default_machine_config_paths():
            if other != machine_path and other.is_file():
                sources.append(_config_source("machine.config", read_machine_config(other), None))

    exe_files: dict[str, ConfigFile] = {}
    exe_pairs: list[tuple[Component, ConfigFile]] = []
    wanted = [parse_exe_config_argument(value) for value in args.exe_config]
    for index, (component, path) in enumerate(wanted):
        earlier = next((p for c, p in wanted[:index] if c.id == component.id), None)
        if earlier is not None:
            raise UsageError(f"--exe-config: two files for the {component.name} ({earlier} and {path}); "
                             "a component reads one .exe.config", hint="audit them in two runs")
    if on_windows:
        given = {c.id for c, _ in wanted}
        for component in load_components():
            default = component.default_exe_config_path
            if component.id not in given and default and Path(default).is_file():
                wanted.append((component, default))
    for component, path in wanted:
        cfg = read_config_file(path)
        exe_files[component.id] = cfg
        exe_pairs.append((component, cfg))
        sources.append(_config_source("exe.config", cfg, component))

    winhttp = None
    if args.winhttp:
        winhttp = read_winhttp_file(args.winhttp)
    elif on_windows:
        try:
            winhttp = run_netsh()
        except InputError as exc:  # not asked for explicitly: report it and audit the rest
            sources.append({"kind": "winhttp", "path": "netsh winhttp show proxy", "error": exc.message})
    if winhttp is not None:
        sources.append({"kind": "winhttp", "path": winhttp.source, "direct": winhttp.direct,
                        "proxy": winhttp.proxy_server, "bypass": list(winhttp.bypass),
                        "auto_config_url": winhttp.auto_config_url, "auto_detect": winhttp.auto_detect})

    pac_config = None
    if args.pac:
        from aadc_doctor.proxyconfig.pac import load_pac

        script = load_pac(args.pac)
        pac_config = ProxyConfig(source=f"pac:{args.pac}", pac=script)
        sources.append({"kind": "pac", "path": args.pac,
                        "samples": {u: _display(pac_config.proxy_for(u)) for u in PAC_SAMPLE_URLS}})

    environment = environment_proxy(ctx.env)
    if environment is not None:
        variables = {k: display_proxy_url(v) for k, v in environment_variables(ctx.env).items()}
        sources.append({"kind": "environment", "variables": variables, "proxy": environment.display_url,
                        "no_proxy": list(environment.bypass)})

    if not sources:
        raise UsageError("nothing to audit: no proxy source given and no proxy environment variable set",
                         hint="pass --machine-config PATH, --exe-config PATH, --winhttp FILE or --pac FILE "
                              "(copied from the server); on Windows they are read from the server itself")
    components = resolve_components(machine, exe_files)
    evidence = ProxyEvidence(machine_config=machine, exe_configs=tuple(exe_pairs), winhttp=winhttp, pac=pac_config,
                             environment=environment, components=tuple(components),
                             required=_required_endpoints())
    return evidence, sources


def _display(url: str | None) -> str | None:
    from aadc_doctor.proxyconfig.model import display_proxy_url

    return display_proxy_url(url) if url else None


def run(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    from aadc_doctor.analysis.proxy_audit import audit_proxy

    report = Report(command="proxy")
    evidence, sources = _collect(args, ctx)
    report.findings = audit_proxy(evidence)
    report.results = {
        "sources": sources,
        "effective": {item.component.id: item.to_dict() for item in evidence.components},
    }
    return CommandResult(report)


def _source_summary(source: dict[str, Any]) -> str:
    kind = source["kind"]
    if kind in ("machine.config", "exe.config"):
        if not source["declared"]:
            return "no <defaultProxy>"
        if source["enabled"] is False:
            return 'enabled="false": direct'
        automatic = ([f"scriptLocation {source['script_location']} (PAC)"] if source.get("script_location") else []) + (
            ["autoDetect (WPAD)"] if source.get("auto_detect") else [])
        fallback = "" if automatic else "no proxyaddress (IE settings of the account)"
        parts = [*automatic, *([source["proxy"] or fallback] if source["proxy"] or fallback else [])]
        if source["bypass_on_local"]:
            parts.append("bypassonlocal")
        if source["bypass"]:
            parts.append("bypass: " + _shown_list(source["bypass"]))
        if source["use_default_credentials"]:
            parts.append("useDefaultCredentials")
        return ", ".join(parts)
    if kind == "winhttp":
        if "error" in source:
            return f"not read: {source['error']}"
        automatic = [f"PAC {source['auto_config_url']}"] if source.get("auto_config_url") else []
        automatic += ["auto-detect (WPAD)"] if source.get("auto_detect") else []
        if source["direct"]:
            return ", ".join(["Direct access (no proxy server)", *automatic])
        bypass = _shown_list(source["bypass"]) or "(none)"
        return ", ".join([f"{source['proxy']}, bypass: {bypass}", *automatic])
    if kind == "pac":
        return ", ".join(f"{u.split('/')[2]} -> {p or 'DIRECT'}" for u, p in source["samples"].items())
    return ", ".join(f"{k}={v}" for k, v in source["variables"].items())


def _effective_summary(item: dict[str, Any]) -> str:
    proxy = item["proxy"]
    if item["origin"] in ("own", "unknown"):
        return "-"
    automatic = ([f"PAC {item['script_location']}"] if item.get("script_location") else []) + (
        ["WPAD (auto-detect)"] if item.get("auto_detect") else [])
    if automatic:  # .NET asks the script first; the static address only when the script gives no answer
        static = proxy["url"] if proxy is not None and proxy["url"] else None
        return ", ".join(automatic) + (f", else {static}" if static else "")
    if proxy is None or (proxy["url"] is None and item["origin"] == "system"):
        return "depends on the account"
    if proxy["url"] is None:
        return "direct"
    return str(proxy["url"])


AUTH_LABELS = {"supported": "supported", "unsupported": "not supported", "no-basic": "not HTTP Basic"}


def _auth_summary(item: dict[str, Any]) -> str:
    """What the component can do about a 407, and what its setting would answer one with (never 'sends': .NET
    offers credentials only when the proxy asks)."""
    proxy = item["proxy"] or {}
    parts = [AUTH_LABELS.get(item["proxy_auth"], str(item["proxy_auth"]))]
    if proxy.get("use_default_credentials"):
        parts.append("useDefaultCredentials")
    if "@" in (proxy.get("url") or ""):
        parts.append("user in the URL")
    return "; ".join(parts)


def render(report: Report, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    sources = Table(title="Proxy sources", title_justify="left", show_lines=False)
    for column in ("source", "file", "says"):
        sources.add_column(column, overflow="fold")
    for source in report.results.get("sources", []):
        label = source["kind"] + (f" ({source['component']})" if source.get("component") else "")
        sources.add_row(Text(label), Text(str(source.get("path", "-"))), Text(_source_summary(source)))
    console.print(sources)

    effective = Table(title="Effective proxy per component", title_justify="left")
    items = list(report.results.get("effective", {}).values())
    for column in ("component", "runs as", "comes from", "proxy", "proxy auth"):
        effective.add_column(column, overflow="fold", no_wrap=column == "proxy")  # a folded URL misleads
    for item in items:
        origin = ORIGIN_LABELS[item["origin"]]
        effective.add_row(Text(item["name"]), Text(item.get("runs_as") or "-"), Text(origin),
                          Text(_effective_summary(item)), Text(_auth_summary(item)))
    console.print(effective)


SHOWN_BYPASS_ENTRIES = 20


def _shown_list(entries: list[str]) -> str:
    """The first entries of a bypass list; a list of thousands is counted, not printed (--json has them all)."""
    shown = "; ".join(entries[:SHOWN_BYPASS_ENTRIES])
    if len(entries) > SHOWN_BYPASS_ENTRIES:
        shown += f"; ... and {len(entries) - SHOWN_BYPASS_ENTRIES:,} more (--json lists every entry)"
    return shown
