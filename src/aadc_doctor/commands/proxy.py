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
                                  "proxy": the ProxyConfig as JSON or null,
                                  "script_location", "auto_detect": bool (asked before "proxy" when set)}}}
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aadc_doctor.commands import RunContext
from aadc_doctor.pipeline import Analysis, BaseCommand
from aadc_doctor.results import (
    DotnetConfigSource,
    EnvironmentSource,
    PacSource,
    ProxyResults,
    ProxySource,
    UnreadSource,
    WinhttpSource,
)

if TYPE_CHECKING:
    from aadc_doctor.analysis.proxy_audit import ProxyEvidence, RequiredEndpoint
    from aadc_doctor.proxyconfig.components import Component
    from aadc_doctor.proxyconfig.dotnet_config import ConfigFile
    from aadc_doctor.proxyconfig.winhttp import WinHttpSettings

HELP = ("show where the proxy setting comes from (machine.config, .exe.config, netsh winhttp, PAC, environment) "
        "and audit it")
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


def _config_source(kind: str, cfg: ConfigFile, component: Component | None) -> DotnetConfigSource:
    from aadc_doctor.proxyconfig.dotnet_config import resolve_default_proxy
    from aadc_doctor.proxyconfig.model import display_proxy_url

    settings = resolve_default_proxy([cfg])
    return DotnetConfigSource(
        kind=kind, path=cfg.path, component=component.id if component is not None else None,
        declared=settings.declared, line=settings.line, enabled=settings.enabled if settings.declared else None,
        proxy=display_proxy_url(settings.proxy_address) if settings.proxy_address else None,
        use_system_default=settings.use_system_default, bypass_on_local=settings.bypass_on_local,
        bypass=tuple(settings.bypass), use_default_credentials=settings.use_default_credentials,
        script_location=settings.script_location, auto_detect=bool(settings.auto_detect),
        problems=tuple(cfg.problems))


def _collect(args: argparse.Namespace, ctx: RunContext) -> tuple[ProxyEvidence, list[ProxySource]]:
    """Read every source that applies (InputError for a bad file); build the evidence and the sources table."""
    import sys

    from aadc_doctor.analysis.proxy_audit import ProxyEvidence
    from aadc_doctor.errors import UsageError
    from aadc_doctor.proxyconfig.effective import resolve_components
    from aadc_doctor.proxyconfig.environment import environment_proxy, environment_variables
    from aadc_doctor.proxyconfig.model import ProxyConfig, display_proxy_url

    on_windows = sys.platform == "win32" and not getattr(args, "given_files_only", False)  # analyze: never this PC's
    sources: list[ProxySource] = []
    machine = _read_machine_configs(args.machine_config, on_windows, sources)
    exe_pairs = _read_exe_configs(args.exe_config, on_windows, sources)
    winhttp = _read_winhttp(args.winhttp, on_windows, sources)

    pac_config = None
    if args.pac:
        from aadc_doctor.proxyconfig.pac import load_pac

        script = load_pac(args.pac)
        pac_config = ProxyConfig(source=f"pac:{args.pac}", pac=script)
        sources.append(PacSource(path=args.pac,
                                 samples={u: _display(pac_config.proxy_for(u)) for u in PAC_SAMPLE_URLS}))

    environment = environment_proxy(ctx.env)
    if environment is not None:
        variables = {k: display_proxy_url(v) for k, v in environment_variables(ctx.env).items()}
        sources.append(EnvironmentSource(variables=variables, proxy=environment.display_url,
                                         no_proxy=tuple(environment.bypass)))

    if not sources:
        raise UsageError("nothing to audit: no proxy source given and no proxy environment variable set",
                         hint="pass --machine-config PATH, --exe-config PATH, --winhttp FILE or --pac FILE "
                              "(copied from the server); on Windows they are read from the server itself")
    components = resolve_components(machine, {component.id: cfg for component, cfg in exe_pairs})
    evidence = ProxyEvidence(machine_config=machine, exe_configs=tuple(exe_pairs), winhttp=winhttp, pac=pac_config,
                             environment=environment, components=tuple(components),
                             required=_required_endpoints())
    return evidence, sources


def _read_machine_configs(given: str | None, on_windows: bool, sources: list[ProxySource]) -> ConfigFile | None:
    """The machine.config given (on Windows the 64-bit one by default, and the 32-bit one as a source too)."""
    from pathlib import Path

    from aadc_doctor.proxyconfig.machine_config import (
        default_machine_config_path,
        default_machine_config_paths,
        read_machine_config,
    )

    machine = None
    machine_path = given or (default_machine_config_path() if on_windows else None)
    if machine_path is not None and (given or Path(machine_path).is_file()):
        machine = read_machine_config(machine_path)
        sources.append(_config_source("machine.config", machine, None))
    if on_windows and not given:  # the other bitness's machine.config: 32-bit .NET processes read it
        for other in default_machine_config_paths():
            if other != machine_path and other.is_file():
                sources.append(_config_source("machine.config", read_machine_config(other), None))
    return machine


def _read_exe_configs(given: list[str], on_windows: bool,
                      sources: list[ProxySource]) -> list[tuple[Component, ConfigFile]]:
    """One .exe.config per component: those given (COMPONENT=PATH or by file name), on Windows the installed ones."""
    from pathlib import Path

    from aadc_doctor.errors import UsageError
    from aadc_doctor.proxyconfig.components import load_components, parse_exe_config_argument
    from aadc_doctor.proxyconfig.dotnet_config import read_config_file

    wanted = [parse_exe_config_argument(value) for value in given]
    for index, (component, path) in enumerate(wanted):
        earlier = next((p for c, p in wanted[:index] if c.id == component.id), None)
        if earlier is not None:
            raise UsageError(f"--exe-config: two files for the {component.name} ({earlier} and {path}); "
                             "a component reads one .exe.config", hint="audit them in two runs")
    if on_windows:
        chosen = {c.id for c, _ in wanted}
        for component in load_components():
            default = component.default_exe_config_path
            if component.id not in chosen and default and Path(default).is_file():
                wanted.append((component, default))
    pairs: list[tuple[Component, ConfigFile]] = []
    for component, path in wanted:
        cfg = read_config_file(path)
        pairs.append((component, cfg))
        sources.append(_config_source("exe.config", cfg, component))
    return pairs


def _read_winhttp(given: str | None, on_windows: bool, sources: list[ProxySource]) -> WinHttpSettings | None:
    """Saved `netsh winhttp show proxy` output, or (on Windows, not asked for) the live one."""
    from aadc_doctor.errors import InputError
    from aadc_doctor.proxyconfig.winhttp import read_winhttp_file, run_netsh

    winhttp = None
    if given:
        winhttp = read_winhttp_file(given)
    elif on_windows:
        try:
            winhttp = run_netsh()
        except InputError as exc:  # not asked for explicitly: report it and audit the rest
            sources.append(UnreadSource("winhttp", "netsh winhttp show proxy", exc.message))
    if winhttp is not None:
        sources.append(WinhttpSource(path=winhttp.source, direct=winhttp.direct, proxy=winhttp.proxy_server,
                                     bypass=tuple(winhttp.bypass), auto_config_url=winhttp.auto_config_url,
                                     auto_detect=winhttp.auto_detect))
    return winhttp


def _display(url: str | None) -> str | None:
    from aadc_doctor.proxyconfig.model import display_proxy_url

    return display_proxy_url(url) if url else None


@dataclass(frozen=True)
class ProxyCommandEvidence:
    audit: ProxyEvidence
    sources: tuple[ProxySource, ...]


class ProxyCommand(BaseCommand):
    name = "proxy"
    help = HELP

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> ProxyCommandEvidence:
        evidence, sources = _collect(args, ctx)
        return ProxyCommandEvidence(evidence, tuple(sources))

    def analyse(self, evidence: ProxyCommandEvidence) -> Analysis[ProxyResults]:
        from aadc_doctor.analysis.proxy_audit import audit_proxy

        findings = audit_proxy(evidence.audit)
        effective = {item.component.id: item for item in evidence.audit.components}
        return Analysis(ProxyResults(evidence.sources, effective), findings)


COMMAND = ProxyCommand()


