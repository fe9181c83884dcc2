"""The endpoint catalog: which hosts and ports each feature needs, shared by `check`, `proxy` and `proxylog`.

The rows live in ``data/endpoints.toml``. Rows only the 2016 seed has (``status = "seed"``) stay in the
catalog so a proxy log or an old allow-list that uses them is still understood, but `check` probes the
current rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal
from urllib.parse import urlsplit

from aadc_doctor.knowledge import read_toml

PROFILES: tuple[str, ...] = ("sync", "pta", "health", "writeback", "cloudsync")
Status = Literal["seed", "seed-and-current", "current", "new"]


@dataclass(frozen=True)
class EndpointRule:
    """One row of a required-URL table: a host pattern on a port, the profiles needing it, how to probe it."""

    id: str
    pattern: str
    port: int
    profiles: tuple[str, ...]
    purpose: str
    kind: str  # "https", "http", "crl" or "ocsp"
    required: bool
    status: Status
    source: str
    probe_urls: tuple[str, ...] = ()
    tenant_probe_urls: tuple[str, ...] = ()
    replaced_by: tuple[str, ...] = ()
    note: str = ""

    @property
    def is_current(self) -> bool:
        """False for rows only the seed lists (superseded by today's documentation)."""
        return self.status != "seed"

    def matches_host(self, host: str) -> bool:
        return host_matches(self.pattern, host)

    def probe_hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(urlsplit(u).hostname or "" for u in self.probe_urls))

    def urls_to_probe(self, tenant_id: str | None = None) -> tuple[str, ...]:
        """Concrete URLs standing for this row; tenant-specific ones only when the tenant id is known."""
        urls = list(self.probe_urls)
        if tenant_id:
            urls += [u.format(tenant_id=tenant_id) for u in self.tenant_probe_urls]
        return tuple(urls)


@dataclass(frozen=True)
class IgnorableHost:
    """A host the articles call a red herring in proxy logs."""

    pattern: str
    reason: str
    source: str


def host_matches(pattern: str, host: str) -> bool:
    """Allow-list semantics: ``*.example.com`` matches any sub-domain (not the bare domain); else exact."""
    host = host.lower().rstrip(".")
    pattern = pattern.lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


@dataclass(frozen=True)
class EndpointCatalog:
    rules: tuple[EndpointRule, ...]
    ignorable: tuple[IgnorableHost, ...]

    def for_profiles(self, profiles: Iterable[str], *, include_seed_only: bool = False) -> list[EndpointRule]:
        """Rules for the given profiles (``all`` = every profile), current rows only unless asked."""
        wanted = set(profiles)
        if "all" in wanted:
            wanted = set(PROFILES)
        unknown = wanted - set(PROFILES)
        if unknown:
            raise ValueError(f"unknown profile(s): {', '.join(sorted(unknown))}")
        return [r for r in self.rules if wanted & set(r.profiles) and (include_seed_only or r.is_current)]

    def match(self, host: str, port: int | None = None) -> list[EndpointRule]:
        """Every rule (seed rows included) whose pattern covers host, on port when given; exact hosts first."""
        hits = [r for r in self.rules if r.matches_host(host) and (port is None or r.port == port)]
        return sorted(hits, key=lambda r: (r.pattern.startswith("*"), not r.is_current))

    def ignorable_reason(self, host: str) -> IgnorableHost | None:
        for item in self.ignorable:
            if host_matches(item.pattern, host):
                return item
        return None

    def by_id(self, rule_id: str) -> EndpointRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


@cache
def load_catalog() -> EndpointCatalog:
    data = read_toml("endpoints.toml")
    rules = tuple(
        EndpointRule(
            id=row["id"], pattern=row["pattern"], port=int(row["port"]), profiles=tuple(row["profiles"]),
            purpose=row["purpose"], kind=row["kind"], required=bool(row["required"]), status=row["status"],
            source=row["source"], probe_urls=tuple(row.get("probe_urls", ())),
            tenant_probe_urls=tuple(row.get("tenant_probe_urls", ())), replaced_by=tuple(row.get("replaced_by", ())),
            note=row.get("note", ""),
        )
        for row in data["rule"]
    )
    ignorable = tuple(IgnorableHost(i["pattern"], i["reason"], i["source"]) for i in data.get("ignorable", ()))
    return EndpointCatalog(rules, ignorable)
