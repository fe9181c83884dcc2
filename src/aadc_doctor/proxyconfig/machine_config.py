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


def framework_roots() -> list[Path]:
    """The .NET Framework install roots of this Windows machine, 64-bit first (Framework64, then Framework).

    Read from the registry where .NET records them (``InstallRoot`` in each registry view); %WINDIR%\\Microsoft.NET
    when .NET has not written it. A 64-bit process (the sync engine, the wizard, PowerShell) reads Framework64's
    machine.config; a 32-bit one reads Framework's.
    """
    import os

    windir = os.environ.get("WINDIR") or os.environ.get("SYSTEMROOT") or r"C:\Windows"
    fallback = {64: Path(windir) / "Microsoft.NET" / "Framework64", 32: Path(windir) / "Microsoft.NET" / "Framework"}
    roots = {**fallback, **_registry_install_roots()}
    return [roots[64], roots[32]] if roots[64] != roots[32] else [roots[64]]


def _registry_install_roots() -> dict[int, Path]:
    """``InstallRoot`` of .NET Framework in the 64-bit and 32-bit registry views, where it is recorded."""
    found: dict[int, Path] = {}
    if sys.platform == "win32":
        try:
            import winreg
        except ImportError:  # a test pretending to be Windows
            return found
        for bits, view in ((64, winreg.KEY_WOW64_64KEY), (32, winreg.KEY_WOW64_32KEY)):
            try:
                with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\.NETFramework", 0,
                                    winreg.KEY_READ | view) as key:
                    value, _ = winreg.QueryValueEx(key, "InstallRoot")
            except OSError:
                continue
            if isinstance(value, str) and value.strip():
                found[bits] = Path(value.strip())
    return found


def default_machine_config_paths() -> list[Path]:
    """Every .NET 4 machine.config of this Windows machine, Framework64's first; [] elsewhere."""
    if sys.platform != "win32":
        return []
    return [root / "v4.0.30319" / "Config" / "machine.config" for root in framework_roots()]


def default_machine_config_path() -> Path | None:
    """The machine.config the sync engine reads: Framework64's, else (a 32-bit only machine) Framework's."""
    paths = default_machine_config_paths()
    for path in paths:
        if path.is_file():
            return path
    return paths[0] if paths else None


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
