"""What a proxy's answer says about who answered and whether it was a denial.

Every proxy says no in its own way: a 403 (with or without Squid's X-Squid-Error), a redirect to a block page, an
RFC 9209 ``Proxy-Status`` error, a reset right after the request, or a 200 block page instead of the file asked
for. And behind a proxy there may be another one: the ``Via`` and ``X-Cache`` chains, ``Proxy-Status`` members and
the error page's "Generated ... by NAME" line name the proxy that really answered, so the remedy reaches whoever
runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from aadc_doctor.net.http import HeaderLookup

# RFC 9209 section 2.3 error types that mean "the proxy's policy refused this request".
PROXY_STATUS_DENIALS = frozenset({"http_request_denied", "destination_ip_prohibited"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DENIAL_STATUSES = frozenset({403, 451})
_GENERATED_BY = re.compile(rb"Generated\s[^<]{0,80}?\sby\s+([A-Za-z0-9._-]{1,253})\s*\(", re.IGNORECASE)
_X_CACHE = re.compile(r"\bfrom\s+([A-Za-z0-9._-]{1,253})", re.IGNORECASE)
_HTML_START = (b"<!doctype", b"<html", b"<head", b"<body", b"<?xml")


@dataclass(frozen=True)
class ProxyStatusEntry:
    """One member of a Proxy-Status list: the intermediary's name and its error type, if any."""

    name: str
    error: str | None = None
    details: str | None = None


def parse_proxy_status(values: list[str]) -> list[ProxyStatusEntry]:
    """Proxy-Status members in order (the first is the intermediary closest to the origin, RFC 9209 section 2).

    A lenient reading of the structured-field list: members split on commas outside quotes, parameters on ';'.
    """
    entries: list[ProxyStatusEntry] = []
    for member in _split_outside_quotes(",".join(values), ","):
        parts = _split_outside_quotes(member, ";")
        if not parts or not parts[0].strip():
            continue
        name = parts[0].strip().strip('"')
        params: dict[str, str] = {}
        for param in parts[1:]:
            key, _, value = param.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        entries.append(ProxyStatusEntry(name, params.get("error"), params.get("details")))
    return entries


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in (part.strip() for part in parts) if p]


def via_hops(values: list[str]) -> list[str]:
    """The received-by names of a Via chain, in order (first = closest to the origin)."""
    hops: list[str] = []
    for entry in _split_outside_quotes(",".join(values), ","):
        fields = re.sub(r"\([^)]*\)", "", entry).split()
        if len(fields) >= 2:
            hops.append(fields[1])
    return hops


def x_cache_hops(values: list[str]) -> list[str]:
    """Proxy names of X-Cache headers ("MISS from NAME"), in the order the hops added them."""
    names: list[str] = []
    for value in values:
        names += _X_CACHE.findall(value)
    return names


def proxy_hops(head: HeaderLookup) -> tuple[str, ...]:
    """The proxies an answer passed, closest to the origin first: Via, else X-Cache."""
    hops = via_hops(head.get_all("via")) or x_cache_hops(head.get_all("x-cache"))
    return tuple(dict.fromkeys(hops))


def error_page_author(body: bytes) -> str | None:
    """The server an error page says generated it (Squid: "Generated <date> by NAME (squid/5.7)")."""
    match = _GENERATED_BY.search(body[:64 * 1024])
    return match.group(1).decode("ascii", "replace") if match else None


def looks_like_html(body: bytes) -> bool:
    return body.lstrip()[:16].lower().startswith(_HTML_START)


@dataclass(frozen=True)
class ProxyAnswer:
    """The reading of one answer from (or through) a proxy."""

    denial: bool  # the answer is the proxy's way of saying no
    answered_by: str | None  # the proxy that generated the answer when it is not the first hop (an upstream)
    proxy_status_error: str | None = None
    redirect_to: str | None = None


def upstream_name(head: HeaderLookup, body: bytes = b"") -> str | None:
    """The name of an upstream proxy that generated this answer, when the answer shows more than one hop."""
    status = parse_proxy_status(head.get_all("proxy-status"))
    if len(status) >= 2:
        for entry in status:
            if entry.error:
                return entry.name
        return status[0].name
    hops = via_hops(head.get_all("via"))
    if len(hops) >= 2:
        return hops[0]
    caches = x_cache_hops(head.get_all("x-cache"))
    if len(dict.fromkeys(caches)) >= 2:
        return caches[0]
    author = error_page_author(body) if body else None
    if author is not None:
        own = hops[-1] if hops else (caches[-1] if caches else None)
        if own is not None and author.lower() != own.lower():
            return author
    return None


def read_answer(head: HeaderLookup, status: int, body: bytes, target_host: str) -> ProxyAnswer:
    """Whether a proxy's answer to CONNECT or to a plain GET is a denial, and which proxy gave it."""
    entries = parse_proxy_status(head.get_all("proxy-status"))
    error = next((e.error for e in entries if e.error), None)
    location = head.get("location")
    redirect_to: str | None = None
    denial = status in DENIAL_STATUSES or (error is not None and error.lower() in PROXY_STATUS_DENIALS)
    if status in REDIRECT_STATUSES and location:
        redirect_to = location
        elsewhere = (urlsplit(location).hostname or target_host).lower() != target_host.lower()
        denial = denial or elsewhere or head.get("x-squid-error") is not None
    return ProxyAnswer(denial, upstream_name(head, body), error, redirect_to)
