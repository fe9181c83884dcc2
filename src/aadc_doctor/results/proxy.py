"""`proxy`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aadc_doctor.json_data import json_meta

if TYPE_CHECKING:
    from aadc_doctor.proxyconfig.dotnet_config import ConfigProblem
    from aadc_doctor.proxyconfig.effective import ComponentProxy


@dataclass(frozen=True)
class DotnetConfigSource:
    """machine.config or a component's .exe.config: its <defaultProxy> (password removed)."""

    kind: str  # "machine.config" or "exe.config"
    path: str
    component: str | None = field(metadata=json_meta(omit_none=True))  # exe.config only
    declared: bool = False
    line: int | None = None
    enabled: bool | None = None
    proxy: str | None = None
    use_system_default: bool | None = None
    bypass_on_local: bool | None = None
    bypass: tuple[str, ...] = ()
    use_default_credentials: bool | None = None
    script_location: str | None = None
    auto_detect: bool = False
    problems: tuple[ConfigProblem, ...] = ()


@dataclass(frozen=True, kw_only=True)
class WinhttpSource:
    """Saved or live `netsh winhttp show proxy` (advproxy adds the PAC URL and auto-detect)."""

    kind: str = "winhttp"
    path: str
    direct: bool
    proxy: str | None
    bypass: tuple[str, ...]
    auto_config_url: str | None
    auto_detect: bool


@dataclass(frozen=True)
class UnreadSource:
    """A source read by default (on Windows) that could not be read; the rest is audited."""

    kind: str
    path: str
    error: str


@dataclass(frozen=True, kw_only=True)
class PacSource:
    kind: str = "pac"
    path: str
    samples: Mapping[str, str | None]  # URL -> the proxy the script chooses (None: DIRECT)


@dataclass(frozen=True, kw_only=True)
class EnvironmentSource:
    kind: str = "environment"
    variables: Mapping[str, str]  # passwords removed
    proxy: str | None
    no_proxy: tuple[str, ...]


ProxySource = DotnetConfigSource | WinhttpSource | UnreadSource | PacSource | EnvironmentSource


@dataclass(frozen=True)
class ProxyResults:
    sources: tuple[ProxySource, ...]
    effective: Mapping[str, ComponentProxy]  # component id -> where its proxy comes from
