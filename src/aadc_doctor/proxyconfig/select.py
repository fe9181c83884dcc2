"""Choose the one proxy ``check`` probes through: the first source that applies, in DESIGN.md's order.

``--proxy URL`` | ``--direct`` | ``--pac FILE_OR_URL`` | ``--machine-config PATH`` (on Windows the .NET 4
Framework64 machine.config is read when nothing else is given) | the environment | none.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from aadc_doctor.errors import UsageError
from aadc_doctor.proxyconfig.environment import environment_proxy
from aadc_doctor.proxyconfig.machine_config import (
    default_machine_config_path,
    machine_config_proxy,
    read_machine_config,
)
from aadc_doctor.proxyconfig.model import ProxyConfig


def validate_proxy_url(url: str) -> str:
    """``--proxy`` must be ``http://[user[:password]@]host:port`` (``http://`` added when missing)."""
    value = url.strip()
    if "://" not in value:
        value = "http://" + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise UsageError(f"--proxy {url}: not a valid host:port", hint="for example --proxy http://proxy:8080") \
            from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--proxy {url}: expected http://host:port", hint="for example --proxy http://proxy:8080")
    if port is None:
        raise UsageError(f"--proxy {url}: no port given", hint="for example --proxy http://proxy:8080")
    return value


def select_proxy(*, proxy: str | None, direct: bool, pac: str | None, machine_config: str | None,
                 env: Mapping[str, str], windows: bool | None = None,
                 default_machine_config: str | Path | None = None) -> ProxyConfig:
    """The effective proxy for ``check``; InputError (exit 2) when the chosen file is unreadable or malformed.

    ``windows`` and ``default_machine_config`` exist for tests; by default they come from this machine.
    """
    if proxy:
        return ProxyConfig(source="--proxy", url=validate_proxy_url(proxy))
    if direct:
        return ProxyConfig(source="--direct")
    if pac:
        from aadc_doctor.proxyconfig.pac import load_pac

        script = load_pac(pac)
        return ProxyConfig(source=f"pac:{pac}", pac=script)
    if machine_config:
        return machine_config_proxy(read_machine_config(machine_config))
    on_windows = sys.platform == "win32" if windows is None else windows
    if on_windows:
        default = default_machine_config or default_machine_config_path()
        if default is not None and Path(default).is_file():
            cfg = read_machine_config(default)
            if cfg.default_proxy is not None:
                return machine_config_proxy(cfg)
    from_env = environment_proxy(env)
    if from_env is not None:
        return from_env
    return ProxyConfig(source="none")
