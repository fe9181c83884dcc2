"""Finding the domain controllers of a domain the way the DC locator does: DNS SRV records.

`_ldap._tcp.dc._msdcs.DOMAIN` lists the DCs, `_ldap._tcp.SITE._sites.dc._msdcs.DOMAIN` those of one site,
`_kerberos._tcp.DOMAIN` the KDCs and `_gc._tcp.DOMAIN` the global catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aadc_doctor.errors import UsageError
from aadc_doctor.json_data import json_meta


@dataclass(frozen=True)
class SrvLookup:
    """One SRV query: its answer ("ok", "nxdomain", "no_records", "timeout", "error") and the targets."""

    record: str
    answer: str
    # (host, port, priority, weight); json_extra writes them after the error
    targets: tuple[tuple[str, int, int, int], ...] = field(default=(), metadata=json_meta(skip=True))
    error: str = field(default="", metadata=json_meta(null_empty=True))

    def json_extra(self) -> dict[str, Any]:
        return {"targets": [{"host": h, "port": p, "priority": pr, "weight": w} for h, p, pr, w in self.targets]}

    def describe(self) -> str:
        return {"nxdomain": "NXDOMAIN (the name does not exist)", "no_records": "no SRV records",
                "timeout": "no answer (timeout)"}.get(self.answer, self.error or self.answer)


@dataclass
class Discovery:
    domain: str
    lookups: list[SrvLookup] = field(default_factory=list, metadata=json_meta(key="records"))
    addresses: dict[str, list[str]] = field(default_factory=dict)  # DC host name -> IPv4/IPv6 addresses

    def dc_hosts(self) -> list[str]:
        """DC names from the first lookups that answered (site records first), in priority order."""
        for lookup in self.lookups:
            if lookup.answer == "ok" and lookup.record.startswith("_ldap."):
                return [h for h, *_ in sorted(lookup.targets, key=lambda t: (t[2], -t[3], t[0]))]
        return []


def parse_nameserver(text: str) -> tuple[str, int]:
    """`ADDR` or `ADDR:PORT` (`[v6]:PORT`) -> (address, port)."""
    import ipaddress

    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 53
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        if not port_text.isdigit():
            raise UsageError(f"--dns-server {text}: the port must be a number")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"--dns-server {text}: give an IP address (optionally :PORT)") from None
    return host, port


def _resolver(nameserver: tuple[str, int] | None, timeout: float) -> Any:
    import dns.resolver

    if nameserver is None:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            resolver = dns.resolver.Resolver(configure=False)
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [nameserver[0]]
        resolver.port = nameserver[1]
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def lookup_srv(resolver: Any, record: str) -> SrvLookup:
    import dns.exception
    import dns.resolver

    try:
        answer = resolver.resolve(record, "SRV", search=False)
    except dns.resolver.NXDOMAIN:
        return SrvLookup(record, "nxdomain")
    except dns.resolver.NoAnswer:
        return SrvLookup(record, "no_records")
    except dns.exception.Timeout:
        return SrvLookup(record, "timeout")
    except dns.exception.DNSException as exc:
        return SrvLookup(record, "error", error=str(exc))
    targets = tuple((str(r.target).rstrip("."), int(r.port), int(r.priority), int(r.weight)) for r in answer)
    return SrvLookup(record, "ok", targets)


def resolve_host(resolver: Any, host: str) -> list[str]:
    import dns.exception

    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            found += [r.to_text() for r in resolver.resolve(host, rdtype, search=False)]
        except dns.exception.DNSException:
            continue
    return found


def discover(domain: str, *, site: str | None, nameserver: tuple[str, int] | None, timeout: float) -> Discovery:
    """The SRV lookups of the DC locator, run concurrently, and the addresses of the DCs they name."""
    from concurrent.futures import ThreadPoolExecutor

    resolver = _resolver(nameserver, timeout)
    records = []
    if site:
        records.append(f"_ldap._tcp.{site}._sites.dc._msdcs.{domain}")
    records += [f"_ldap._tcp.dc._msdcs.{domain}", f"_kerberos._tcp.{domain}", f"_gc._tcp.{domain}"]
    result = Discovery(domain)
    with ThreadPoolExecutor(max_workers=len(records)) as pool:
        result.lookups = list(pool.map(lambda r: lookup_srv(resolver, r), records))
        hosts = result.dc_hosts()
        for host, addresses in zip(hosts, pool.map(lambda h: resolve_host(resolver, h), hosts), strict=True):
            result.addresses[host] = addresses
    return result
