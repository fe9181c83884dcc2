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
from typing import Any
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


MATCH_TIMEOUT_S = 0.2  # one bypass pattern against one URL; a sane one takes microseconds
_LITERAL = re.compile(r"\^?(?:[A-Za-z0-9_-]|\\[.\-])+\$?")
_UNBOUNDED = re.compile(r"[+*]|\{\d*,\}")


def _literal_of(entry: str) -> tuple[str, bool, bool] | None:
    """``contoso\\.com``, ``^host\\.contoso\\.com$``: (text, anchored at start, at end); None for a real pattern."""
    if not _LITERAL.fullmatch(entry):
        return None
    start, end = entry.startswith("^"), entry.endswith("$") and not entry.endswith("\\$")
    body = entry[1 if start else 0: len(entry) - 1 if end else len(entry)]
    return body.replace("\\", "").lower(), start, end


def is_dangerous_pattern(entry: str) -> bool:
    """A quantified group that holds an unbounded quantifier (``(a+)+``, ``((x*)y)*``): backtracking engines such
    as .NET's (and Python's) can take exponential time on a URL that almost matches."""
    stack: list[bool] = []  # per open group: whether it holds an unbounded quantifier
    i, in_class = 0, False
    while i < len(entry):
        char = entry[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            stack.append(False)
        elif char == ")" and stack:
            inner = stack.pop()
            quantified = bool(_UNBOUNDED.match(entry, i + 1))
            if inner and quantified:
                return True
            if stack and (inner or quantified):
                stack[-1] = True
        elif stack and _UNBOUNDED.match(entry, i):
            stack[-1] = True
        i += 1
    return False


@dataclass(frozen=True)
class DotNetBypassList:
    """A .NET bypass list compiled once (a machine.config may hold 200,000 entries, asked for every URL).

    Plain host names with escaped dots are looked up by text (every substring, prefix and suffix of the short
    ``scheme://host:port`` against dictionaries of entries), so their number costs nothing per URL; other entries
    are compiled with the ``regex`` engine and searched with a time limit; entries with nested unbounded
    quantifiers are not evaluated at all (.NET would hang on them) and are named by the audit.
    """

    entries: tuple[str, ...]
    invalid: tuple[str, ...]
    dangerous: tuple[str, ...]
    literals: dict[tuple[bool, bool], dict[str, int]]  # (anchored at start, at end) -> text -> first index
    patterns: tuple[tuple[int, str, Any], ...]

    def first_match(self, text: str) -> str | None:
        lower = text.lower()
        best = len(self.entries)
        size = len(lower)
        exact = self.literals[(True, True)].get(lower)
        if exact is not None:
            best = exact
        prefixes, suffixes, inside = (self.literals[(True, False)], self.literals[(False, True)],
                                      self.literals[(False, False)])
        for cut in range(1, size + 1):
            for table, key in ((prefixes, lower[:cut]), (suffixes, lower[size - cut:])):
                index = table.get(key)
                if index is not None and index < best:
                    best = index
        if inside:
            for begin in range(size):
                for stop in range(begin + 1, size + 1):
                    index = inside.get(lower[begin:stop])
                    if index is not None and index < best:
                        best = index
        for index, entry, pattern in self.patterns:
            if index >= best:
                break
            try:
                if pattern.search(text, timeout=MATCH_TIMEOUT_S):
                    return entry
            except TimeoutError:
                _timed_out.add(entry)
        return self.entries[best] if best < len(self.entries) else None


_timed_out: set[str] = set()  # entries that overran MATCH_TIMEOUT_S in this run (reported as dangerous)


def _compile(entry: str) -> Any:
    import regex

    try:
        return regex.compile(entry, regex.IGNORECASE | regex.VERSION0)
    except (regex.error, ValueError, OverflowError, RecursionError):
        return None


@lru_cache(maxsize=8)
def compile_dotnet_list(entries: tuple[str, ...]) -> DotNetBypassList:
    invalid: list[str] = []
    dangerous: list[str] = []
    literals: dict[tuple[bool, bool], dict[str, int]] = {(a, b): {} for a in (True, False) for b in (True, False)}
    patterns: list[tuple[int, str, Any]] = []
    for index, entry in enumerate(entries):
        literal = _literal_of(entry)
        if literal is not None:
            body, at_start, at_end = literal
            if body:
                literals[(at_start, at_end)].setdefault(body, index)
            else:  # "^", "$", "" match every URL
                patterns.append((index, entry, _compile(entry)))
            continue
        pattern = _compile(entry)
        if pattern is None:
            invalid.append(entry)
        elif is_dangerous_pattern(entry):
            dangerous.append(entry)
        else:
            patterns.append((index, entry, pattern))
    return DotNetBypassList(entries, tuple(invalid), tuple(dangerous), literals, tuple(patterns))


def compile_dotnet_entry(entry: str) -> Any:
    """The entry as .NET compiles it (IgnoreCase), or None when it is not a valid regular expression."""
    return _compile(entry)


def invalid_dotnet_entries(entries: Iterable[str]) -> list[str]:
    """Entries .NET cannot compile; a wildcard such as ``*.contoso.com`` is the usual one."""
    return list(compile_dotnet_list(tuple(entries)).invalid)


def dangerous_dotnet_entries(entries: Iterable[str]) -> list[str]:
    """Entries whose matching can take exponential time (nested quantifiers, or one that overran the time limit)."""
    compiled = compile_dotnet_list(tuple(entries))
    return [*compiled.dangerous, *(e for e in compiled.entries if e in _timed_out and e not in compiled.dangerous)]


def dotnet_bypass_match(entries: Iterable[str], target: Target) -> str | None:
    """The first .NET bypass entry that matches, or None.

    When any entry does not compile, .NET drops the whole compiled list at request time
    (``UpdateRegExList(canThrow: false)`` sets it to null), so no entry applies. A dangerous entry is skipped
    (treated as not matching): .NET would hang on it, and the audit says so.
    """
    compiled = compile_dotnet_list(tuple(entries))
    if compiled.invalid:
        return None
    return compiled.first_match(target.dotnet_match_text)


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
        if port is not None and port.isascii() and port.isdigit() and int(port) != target.port:
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
            port = int(port_text) if port_text.isascii() and port_text.isdigit() and len(port_text) <= 5 else None
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
