"""machine.config: the proxy of the sync engine, the wizard and PowerShell's Invoke-WebRequest.

Microsoft's instruction is to append ``<system.net><defaultProxy>`` at the end of the .NET 4 Framework64
machine.config (inside ``<configuration>``) and restart the ADSync service once.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aadc_doctor.proxyconfig.dotnet_config import (
    ConfigFile,
    DotNetProxySettings,
    read_config_file,
    resolve_default_proxy,
)
from aadc_doctor.proxyconfig.model import ProxyConfig

DEFAULT_MACHINE_CONFIG = r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Config\machine.config"


def default_machine_config_path() -> Path | None:
    """The .NET 4 Framework64 machine.config on this Windows machine (honouring %WINDIR%), else None."""
    if sys.platform != "win32":
        return None
    import os

    windir = os.environ.get("WINDIR") or os.environ.get("SYSTEMROOT") or r"C:\Windows"
    return Path(windir) / "Microsoft.NET" / "Framework64" / "v4.0.30319" / "Config" / "machine.config"


def read_machine_config(path: str | Path) -> ConfigFile:
    """Parse machine.config (InputError, exit 2, for an unreadable, malformed or hostile file)."""
    return read_config_file(path)


def machine_config_settings(cfg: ConfigFile) -> DotNetProxySettings:
    return resolve_default_proxy([cfg])


def machine_config_proxy(cfg: ConfigFile) -> ProxyConfig:
    """The ProxyConfig a .NET process with no proxy of its own gets from this machine.config."""
    return machine_config_settings(cfg).to_proxy_config(f"machine.config:{cfg.path}")


def machine_config_of(proxy: ProxyConfig) -> ConfigFile | None:
    """The machine.config a ProxyConfig was read from (read again), or None for any other source."""
    prefix = "machine.config:"
    if not proxy.source.startswith(prefix):
        return None
    return read_machine_config(proxy.source.removeprefix(prefix))
