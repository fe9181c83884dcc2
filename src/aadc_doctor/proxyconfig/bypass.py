"""Proxy bypass rules, one function per syntax, because each client reads its list differently.

- .NET Framework (``<bypasslist><add address="..."/>`` in machine.config or an .exe.config): every entry is a
  regular expression, searched (not anchored, case-insensitive) in ``scheme://host[:port]`` (the port only when
  it is not the scheme's default). ``bypassonlocal`` adds host names without a dot and loopback addresses.
- ``NO_PROXY`` (curl, Python, Go): comma-separated domain suffixes, IP addresses, CIDR ranges, or ``*``.
- WinHTTP (``netsh winhttp``): semicolon-separated host wildcards, plus ``<local>`` for names without a dot.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class BypassSyntax(StrEnum):
    """Which client's rules a bypass list follows."""

    DOTNET_REGEX = "dotnet-regex"
    NO_PROXY = "no-proxy"
    WINHTTP = "winhttp"


@dataclass(frozen=True)
class Target:
    """The parts of a URL every bypass rule looks at."""

    scheme: str
    host: str
    port: int

    @classmethod
    def from_url(cls, url: str) -> Target:
        if "://" not in url:
            url = "https://" + url
        try:
            parts = urlsplit(url)
        except ValueError:  # "Invalid IPv6 URL": decide on the text after the scheme
            parts = urlsplit(url.replace("[", "").replace("]", ""))
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            port = None
        return cls(scheme, (parts.hostname or "").lower().rstrip("."), port or DEFAULT_PORTS.get(scheme, 443))

    @property
    def dotnet_match_text(self) -> str:
        """What System.Net.WebProxy.IsMatchInBypassList matches: ``scheme://host`` plus a non-default port."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = f"{self.scheme}://{host}"
        if DEFAULT_PORTS.get(self.scheme) != self.port:
            text += f":{self.port}"
        return text


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address (what .NET's ``Uri.IsLoopback`` accepts)."""
    host = host.lower().strip("[]")
    address = _ip(host)
    return address.is_loopback if address is not None else host == "localhost"


def is_local_host(host: str) -> bool:
    """``bypassonlocal`` / ``<local>``: a name without a dot, ``localhost``, or a loopback address."""
    host = host.lower().strip("[]")
    address = _ip(host)
    if address is not None:
        return address.is_loopback
    return "." not in host


@lru_cache(maxsize=512)
def compile_dotnet_entry(entry: str) -> re.Pattern[str] | None:
    """The entry as .NET compiles it (IgnoreCase), or None when it is not a valid regular expression."""
    try:
        return re.compile(entry, re.IGNORECASE)
    except re.error:
        return None


def invalid_dotnet_entries(entries: Iterable[str]) -> list[str]:
    """Entries .NET cannot compile; a wildcard such as ``*.contoso.com`` is the usual one."""
    return [e for e in entries if compile_dotnet_entry(e) is None]


def dotnet_bypass_match(entries: Iterable[str], target: Target) -> str | None:
    """The first .NET bypass entry that matches, or None.

    When any entry does not compile, .NET drops the whole compiled list at request time
    (``UpdateRegExList(canThrow: false)`` sets it to null), so no entry applies.
    """
    entry_list = list(entries)
    if invalid_dotnet_entries(entry_list):
        return None
    text = target.dotnet_match_text
    for entry in entry_list:
        pattern = compile_dotnet_entry(entry)
        if pattern is not None and pattern.search(text):
            return entry
    return None


def split_no_proxy(value: str) -> tuple[str, ...]:
    return tuple(e.strip() for e in re.split(r"[,\s]+", value) if e.strip())


def no_proxy_match(entries: Iterable[str], target: Target) -> str | None:
    """The first ``NO_PROXY`` entry covering the target (curl's rules: a suffix matches on a dot boundary)."""
    host_ip = _ip(target.host)
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return raw
        if "/" in entry and host_ip is not None:
            try:
                if host_ip in ipaddress.ip_network(entry.strip("[]"), strict=False):
                    return raw
            except ValueError:
                pass
            continue
        name, port = entry, None
        if entry.startswith("["):
            close = entry.find("]")
            name, rest = entry[1:close], entry[close + 1:]
            port = rest[1:] if rest.startswith(":") else None
        elif entry.count(":") == 1:
            name, port = entry.split(":")
        if port is not None and port.isdigit() and int(port) != target.port:
            continue
        name = name.removeprefix("*").lstrip(".")
        if not name:
            continue
        if target.host == name or target.host.endswith("." + name):
            return raw
    return None


def split_winhttp(value: str) -> tuple[str, ...]:
    return tuple(e.strip() for e in re.split(r"[;\s]+", value) if e.strip())


def winhttp_bypass_match(entries: Iterable[str], target: Target) -> str | None:
    """The first WinHTTP bypass entry covering the target: ``<local>`` or a host wildcard (scheme/port optional)."""
    for raw in entries:
        entry = raw.strip().lower()
        if entry == "<local>":
            if is_local_host(target.host):
                return raw
            continue
        scheme = None
        if "://" in entry:
            scheme, entry = entry.split("://", 1)
        port = None
        if entry.count(":") == 1:
            entry, port_text = entry.split(":")
            port = int(port_text) if port_text.isdigit() else None
        if scheme and scheme != target.scheme:
            continue
        if port is not None and port != target.port:
            continue
        if fnmatch.fnmatchcase(target.host, entry):
            return raw
    return None


def bypass_match(syntax: BypassSyntax, entries: Iterable[str], target: Target) -> str | None:
    """Dispatch on the syntax: the matching entry, or None."""
    if syntax is BypassSyntax.DOTNET_REGEX:
        return dotnet_bypass_match(entries, target)
    if syntax is BypassSyntax.NO_PROXY:
        return no_proxy_match(entries, target)
    return winhttp_bypass_match(entries, target)
