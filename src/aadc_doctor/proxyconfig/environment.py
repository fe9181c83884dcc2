"""The proxy environment variables (curl/Python/Go convention); Azure AD Connect itself never reads them.

Lower-case names win over upper-case ones, as in Python's urllib; ``ALL_PROXY`` fills in a scheme that has
no variable of its own; ``NO_PROXY`` lists domain suffixes, addresses and CIDR ranges.
"""

from __future__ import annotations

from collections.abc import Mapping

from aadc_doctor.proxyconfig.bypass import BypassSyntax, split_no_proxy
from aadc_doctor.proxyconfig.model import ProxyConfig
from aadc_doctor.secrets import register_url_credentials

ENV_NAMES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY",
             "no_proxy", "NO_PROXY")


def first_set(env: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    """(variable, proxy URL) of the first variable present, ``http://`` added to a bare ``host:port``.

    A variable that is present but empty decides too: ``https_proxy=`` turns the proxy off even when
    ``HTTPS_PROXY`` is set, as Python's urllib and curl read it (lower case first).
    """
    for name in names:
        if name not in env:
            continue
        value = env[name].strip()
        register_url_credentials(value)  # a password in it never reaches output, in any form
        if not value:
            return None
        return name, value if "://" in value else "http://" + value
    return None


def proxy_variables_in_use(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """(variable, proxy URL) for https and http requests: the scheme's own variable, else ALL_PROXY."""
    all_proxy = first_set(env, "all_proxy", "ALL_PROXY")
    used = (first_set(env, "https_proxy", "HTTPS_PROXY") or all_proxy, first_set(env, "http_proxy", "HTTP_PROXY")
            or all_proxy)
    return tuple(dict.fromkeys(item for item in used if item is not None))


def _first(env: Mapping[str, str], *names: str) -> str | None:
    found = first_set(env, *names)
    return found[1] if found else None


def environment_variables(env: Mapping[str, str]) -> dict[str, str]:
    """The proxy variables that are set (values unchanged: they may hold a password, so do not print them)."""
    found = {name: env[name] for name in ENV_NAMES if env.get(name, "").strip()}
    for value in found.values():
        register_url_credentials(value)  # a password in it never reaches output, in any form
    return found


def environment_proxy(env: Mapping[str, str]) -> ProxyConfig | None:
    """A ProxyConfig from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY, or None when none is set."""
    all_proxy = _first(env, "all_proxy", "ALL_PROXY")
    https = _first(env, "https_proxy", "HTTPS_PROXY") or all_proxy
    http = _first(env, "http_proxy", "HTTP_PROXY") or all_proxy
    if https is None and http is None:
        return None
    no_proxy = env.get("no_proxy", "").strip() or env.get("NO_PROXY", "").strip()
    return ProxyConfig(
        source="environment",
        url=https,
        bypass=split_no_proxy(no_proxy),
        bypass_syntax=BypassSyntax.NO_PROXY,
        scheme_urls=(("https", https), ("http", http), ("wss", https), ("ws", http)),
    )
