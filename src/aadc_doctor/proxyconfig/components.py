"""Which component reads its proxy from where (data: ``knowledge/data/proxy_components.toml``).

The sync engine and the wizard read machine.config; the PTA agent, the connector and the updaters read
their own .exe.config first, then machine.config, then the system (IE/WPAD) settings; the Health agent
has settings of its own. One table, so the audit and the report never disagree about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import PureWindowsPath
from typing import Literal

from aadc_doctor.errors import UsageError
from aadc_doctor.knowledge import read_toml

Source = Literal["exe.config", "machine.config", "system", "own"]
ProxyAuth = Literal["supported", "unsupported", "no-basic"]


@dataclass(frozen=True)
class Component:
    """One program that talks to Azure AD, and how it finds its proxy."""

    id: str
    name: str
    profile: str
    exe_configs: tuple[str, ...]
    exe_config_overwritten_on_upgrade: bool
    default_dir: str
    reads: tuple[Source, ...]
    documented_source: Source
    proxy_auth: ProxyAuth
    proxy_auth_note: str
    restart: str
    references: tuple[str, ...]
    runs_as: str = ""
    own_settings: str = ""

    @property
    def default_exe_config_path(self) -> str | None:
        return str(PureWindowsPath(self.default_dir) / self.exe_configs[0]) if self.exe_configs else None


@cache
def load_components() -> tuple[Component, ...]:
    rows = read_toml("proxy_components.toml")["component"]
    return tuple(
        Component(
            id=r["id"], name=r["name"], profile=r["profile"], exe_configs=tuple(r["exe_configs"]),
            exe_config_overwritten_on_upgrade=bool(r["exe_config_overwritten_on_upgrade"]),
            default_dir=r["default_dir"], reads=tuple(r["reads"]), documented_source=r["documented_source"],
            proxy_auth=r["proxy_auth"], proxy_auth_note=r["proxy_auth_note"], restart=r["restart"],
            references=tuple(r["references"]), runs_as=r.get("runs_as", ""), own_settings=r.get("own_settings", ""),
        )
        for r in rows
    )


def component_by_id(component_id: str) -> Component:
    for component in load_components():
        if component.id == component_id:
            return component
    raise KeyError(component_id)


def known_exe_config_names() -> list[str]:
    return [name for c in load_components() for name in c.exe_configs]


def component_for_file(path: str) -> Component | None:
    """The component whose .exe.config this file is, by file name (case-insensitive, any directory)."""
    name = PureWindowsPath(path.replace("/", "\\")).name.lower()
    for component in load_components():
        if name in (n.lower() for n in component.exe_configs):
            return component
    return None


def parse_exe_config_argument(value: str) -> tuple[Component, str]:
    """``--exe-config PATH`` (component from the file name) or ``--exe-config COMPONENT=PATH`` for a renamed copy."""
    if "=" in value:
        component_id, path = value.split("=", 1)
        try:
            component = component_by_id(component_id.strip())
        except KeyError:
            ids = ", ".join(c.id for c in load_components() if c.exe_configs)
            raise UsageError(f"--exe-config {value}: unknown component '{component_id}'",
                             hint=f"components: {ids}") from None
        if not component.exe_configs:
            raise UsageError(f"--exe-config {value}: the {component.name} has no .exe.config proxy setting")
        return component, path
    component_or_none = component_for_file(value)
    if component_or_none is None:
        raise UsageError(f"--exe-config {value}: cannot tell which component reads this file from its name",
                         hint="expected one of " + ", ".join(known_exe_config_names())
                         + "; or write COMPONENT=PATH (e.g. pta-agent=copy.config)")
    return component_or_none, value
