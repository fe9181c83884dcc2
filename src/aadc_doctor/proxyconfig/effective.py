"""The proxy each component actually ends up with, following the order in ``proxy_components.toml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aadc_doctor.json_data import json_meta
from aadc_doctor.proxyconfig.components import Component, load_components
from aadc_doctor.proxyconfig.dotnet_config import ConfigFile, DotNetProxySettings, resolve_default_proxy
from aadc_doctor.proxyconfig.model import ProxyConfig

Origin = Literal["exe.config", "machine.config", "system", "own", "unknown"]
ALWAYS_SHOWN = ("wizard", "sync", "pta-agent", "health-agent")


@dataclass(frozen=True)
class ComponentProxy:
    """Where one component's proxy comes from, and what it is (None when no file tells: system/own/unknown)."""

    component: Component = field(metadata=json_meta(skip=True))  # named by json_leading
    origin: Origin
    origin_path: str | None
    explanation: str
    settings: DotNetProxySettings | None = field(default=None, metadata=json_meta(skip=True))
    proxy: ProxyConfig | None = None

    def json_leading(self) -> dict[str, Any]:
        return {"name": self.component.name}

    def json_extra(self) -> dict[str, Any]:
        return {"reads": list(self.component.reads), "runs_as": self.component.runs_as or None,
                "proxy_auth": self.component.proxy_auth, "script_location": self.script_location,
                "auto_detect": self.auto_detect}

    @property
    def script_location(self) -> str | None:
        """scriptLocation of an enabled <defaultProxy>: .NET asks that PAC script first."""
        if self.settings is None or not self.settings.enabled:
            return None
        return self.settings.script_location

    @property
    def auto_detect(self) -> bool:
        """autoDetect of an enabled <defaultProxy>: .NET asks WPAD first."""
        return bool(self.settings is not None and self.settings.enabled and self.settings.auto_detect)


def resolve_component(component: Component, machine: ConfigFile | None, exe: ConfigFile | None) -> ComponentProxy:
    """Apply .NET's merge (machine.config, then the component's .exe.config) and name the winning file."""
    if "own" in component.reads:
        return ComponentProxy(component, "own", None, "its own proxy settings (not a file): " + component.own_settings)
    files = [f for f in (machine, exe) if f is not None]
    settings = resolve_default_proxy(files)
    if exe is not None and exe.default_proxy is not None:
        origin: Origin = "exe.config"
        path: str | None = exe.path
        why = f"<defaultProxy> in {exe.name} (line {exe.default_proxy.line})"
        if machine is not None and machine.default_proxy is not None:
            why += ", merged over machine.config"
    elif machine is not None and machine.default_proxy is not None:
        origin, path = "machine.config", machine.path
        why = f"<defaultProxy> in machine.config (line {machine.default_proxy.line})"
        if "exe.config" in component.reads and exe is None and component.exe_configs:
            why += f"; unless {component.exe_configs[0]} sets its own (not given)"
    elif machine is None and exe is None:
        return ComponentProxy(component, "unknown", None,
                              "machine.config was not read (pass --machine-config, or run on the server)")
    else:
        origin, path = "system", None
        why = ("no <defaultProxy> in the files read: .NET uses the Internet Explorer settings (and WPAD) of the "
               "account the service runs as")
    if origin == "system":
        proxy = ProxyConfig(source="system", notes=(why,))
    else:
        proxy = settings.to_proxy_config(f"{origin}:{path}")
        if settings.uses_system_settings:
            origin = "system"
    return ComponentProxy(component, origin, path, why, settings, proxy)


def resolve_components(machine: ConfigFile | None,
                       exe_configs: Mapping[str, ConfigFile]) -> list[ComponentProxy]:
    """Every component worth showing: wizard, sync, PTA agent and Health always; others when their file was given."""
    result = []
    for component in load_components():
        exe = exe_configs.get(component.id)
        if component.id not in ALWAYS_SHOWN and exe is None:
            continue
        result.append(resolve_component(component, machine, exe))
    return result
