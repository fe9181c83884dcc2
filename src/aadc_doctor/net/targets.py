"""The concrete URLs `check` probes: catalog rows through their probe URLs, --endpoint URLs matched to their rows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aadc_doctor.errors import UsageError

if TYPE_CHECKING:
    from aadc_doctor.knowledge.endpoints import EndpointCatalog
    from aadc_doctor.net.outcome import EndpointTarget

HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


@dataclass(frozen=True)
class NotProbed:
    """A catalog row the run did not probe, and why."""

    rule: str
    pattern: str
    port: int
    profiles: tuple[str, ...]
    reason: str


def parse_endpoint(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--endpoint {url}: expected an http:// or https:// URL", hint=_endpoint_hint(url))
    try:
        port = parts.port
    except ValueError:
        port_text = parts.netloc.rpartition(":")[2]
        if port_text.isdigit():
            raise UsageError(f"--endpoint {url}: port {port_text} is out of range (1-65535)") from None
        raise UsageError(f"--endpoint {url}: {port_text!r} is not a port number") from None
    if port == 0:
        raise UsageError(f"--endpoint {url}: port 0 is out of range (1-65535)")
    host = parts.hostname.lower()
    if not _valid_host(host):
        raise UsageError(f"--endpoint {url}: {host!r} is not a valid host name")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def _valid_host(host: str) -> bool:
    """A DNS name (letters, digits, '-', '_' per label; IDN through its A-label) or an IP literal."""
    from aadc_doctor.net.resolve import is_ip_literal

    if is_ip_literal(host):
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(HOST_LABEL.fullmatch(label) for label in labels)


def _endpoint_hint(url: str) -> str:
    """The URL the admin most likely meant: a bare host (or host/path) becomes https://, or http:// for CRLs."""
    text = url.strip()
    if text and "://" not in text:
        guess = urlsplit(f"//{text}")
        try:
            plain = guess.port == 80 or guess.path.lower().endswith(".crl")
        except ValueError:
            plain = False
        if guess.hostname:
            return f"did you mean --endpoint {'http' if plain else 'https'}://{guess.netloc}{guess.path or '/'} ?"
    return "for example --endpoint https://login.microsoftonline.com/"


def build_targets(profiles: Sequence[str], endpoints: Sequence[str], tenant_id: str | None,
                  catalog: EndpointCatalog) -> tuple[list[EndpointTarget], list[NotProbed]]:
    """Concrete URLs to probe (catalog rows stand in through their probe URLs) and the rows not probed."""
    from aadc_doctor.knowledge.endpoints import PROFILES
    from aadc_doctor.net.outcome import EndpointTarget

    wanted = set(PROFILES) if "all" in profiles else set(profiles)
    # keyed by what is probed, not by the text typed: Login.MicrosoftOnline.com and :443 are the same endpoint
    by_url: dict[tuple[str, str, int, str], EndpointTarget] = {}
    not_probed: list[NotProbed] = []

    def add(target: EndpointTarget) -> None:
        key = (target.scheme, target.host, target.port, target.path)
        known = by_url.get(key)
        if known is None:
            by_url[key] = target
            return
        merged = tuple(dict.fromkeys((*known.profiles, *target.profiles)))
        by_url[key] = EndpointTarget(known.url, known.host, known.port, known.scheme, known.path, known.kind,
                                     merged, known.rule_id, known.rule_pattern)

    if profiles:
        current = catalog.for_profiles(sorted(wanted))
        for rule in current:
            urls = rule.urls_to_probe(tenant_id)
            rule_profiles = tuple(p for p in rule.profiles if p in wanted)
            if not urls:
                reason = ("needs --tenant-id" if rule.tenant_probe_urls else
                          "not probed: " + ("optional" if not rule.required else "no probe URL"))
                not_probed.append(NotProbed(rule.id, rule.pattern, rule.port, rule_profiles, reason))
                continue
            for url in urls:
                scheme, host, port, path = parse_endpoint(url)
                add(EndpointTarget(url, host, port, scheme, path, rule.kind, rule_profiles, rule.id, rule.pattern))
            if rule.tenant_probe_urls and not tenant_id:
                not_probed.append(NotProbed(rule.id, rule.pattern, rule.port, rule_profiles,
                                            "tenant-specific hosts need --tenant-id"))
        for rule in catalog.for_profiles(sorted(wanted), include_seed_only=True):
            if not rule.is_current:
                replaced = ", ".join(catalog.by_id(r).pattern for r in rule.replaced_by)
                reason = "listed only in the 2016 article" + (f"; today: {replaced}" if replaced else "")
                not_probed.append(NotProbed(rule.id, rule.pattern, rule.port,
                                            tuple(p for p in rule.profiles if p in wanted), reason))
    for url in endpoints:
        scheme, host, port, path = parse_endpoint(url)
        # a host a current row probes for itself (graph.windows.net for *.graph.windows.net) belongs to that row,
        # not to a 2016 seed row whose wildcard happens to cover it (*.windows.net)
        probed_by = [r for r in catalog.rules if r.is_current and host in r.probe_hosts()]
        matches = (probed_by or [r for r in catalog.match(host) if r.is_current] or catalog.match(host))
        chosen = next((r for r in matches if r.port == port), matches[0] if matches else None)
        # an --endpoint counts for the requested profiles its catalog rows belong to; alone it is "custom"
        profile_set = tuple(dict.fromkeys(p for r in matches for p in r.profiles if p in wanted)) or ("custom",)
        if path.split("?", 1)[0].lower().endswith(".crl"):
            kind = "crl"
        elif scheme == "http" and chosen is not None and chosen.kind == "ocsp":
            kind = "ocsp"
        else:
            kind = scheme
        add(EndpointTarget(url, host, port, scheme, path, kind, profile_set,
                           chosen.id if chosen else None, chosen.pattern if chosen else None))
    return list(by_url.values()), not_probed
