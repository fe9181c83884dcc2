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
from aadc_doctor.proxyconfig.environment import environment_proxy, proxy_variables_in_use
from aadc_doctor.proxyconfig.machine_config import (
    default_machine_config_path,
    machine_config_proxy,
    read_machine_config,
)
from aadc_doctor.proxyconfig.model import ProxyConfig
from aadc_doctor.secrets import register_url_credentials


def validate_proxy_url(url: str, *, option: str = "--proxy", require_port: bool = True) -> str:
    """``--proxy`` must be ``http://[user[:password]@]host:port`` (``http://`` added when missing).

    `option` names where the URL came from in the error (``--proxy``, ``HTTPS_PROXY``); the environment's
    variables may leave out the port (the scheme's default applies, as in curl and Python).
    """
    register_url_credentials(url)  # before any error can echo it
    value = url.strip()
    if "://" not in value:
        value = "http://" + value
    hint = "for example --proxy http://proxy:8080" if option == "--proxy" else \
        f"for example {option}=http://proxy.contoso.com:8080"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise UsageError(f"{option} {url}: not a valid host:port", hint=hint) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{option} {url}: expected http://host:port", hint=hint)
    if port is None and require_port:
        raise UsageError(f"{option} {url}: no port given", hint=hint)
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
        for variable, url in proxy_variables_in_use(env):  # one line naming the variable, not a failure later
            validate_proxy_url(url, option=variable, require_port=False)
        return from_env
    return ProxyConfig(source="none")
