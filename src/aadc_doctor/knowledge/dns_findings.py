"""DNS knowledge as data: the answers that mean "a DNS filter blocked this name", and the texts per DNS cause.

Loaded from ``data/dns_findings.toml``. The sinkhole list is what turns "login.microsoftonline.com is
0.0.0.0" into a DNS-filtering finding instead of "the endpoint refused the connection".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache

from aadc_doctor.knowledge import read_toml
from aadc_doctor.knowledge.findings import FindingTemplate, load_finding_templates

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CAUSE_KEYS = ("filtered", "local_override", "nxdomain", "servfail", "refused", "cname_loop", "timeout",
              "no_address", "error")
ALL_KEYS = ("no_dns", "filtered")


@dataclass(frozen=True)
class SinkholeAnswer:
    """One range of answers that no public Microsoft name has, and what it is (shown in the finding)."""

    network: IpNetwork
    what: str


@dataclass(frozen=True)
class SinkholeList:
    """Special-purpose ranges first, then the block-page addresses of known DNS filters."""

    entries: tuple[SinkholeAnswer, ...]

    def explain(self, address: str) -> str | None:
        """What `address` is when it is a sinkhole answer ("the Cisco Umbrella ... block page"), else None."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return None
        # an IPv4-mapped IPv6 answer (::ffff:0.0.0.0) is judged as the IPv4 address it carries, then as itself
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        for candidate in (mapped, ip) if mapped is not None else (ip,):
            for entry in self.entries:
                if candidate.version == entry.network.version and candidate in entry.network:
                    return entry.what
        return None


@dataclass(frozen=True)
class DnsKnowledge:
    sinkholes: SinkholeList
    cause: dict[str, FindingTemplate]
    all_failed: dict[str, FindingTemplate]
    cause_short: dict[str, str]


@cache
def load_sinkholes() -> SinkholeList:
    sinkhole = read_toml("dns_findings.toml")["sinkhole"]
    entries = [SinkholeAnswer(ipaddress.ip_network(row["cidr"]), row["what"])
               for key in ("address", "range") for row in sinkhole[key]]
    return SinkholeList(tuple(entries))


@cache
def load_dns_knowledge() -> DnsKnowledge:
    short: dict[str, str] = read_toml("dns_findings.toml")["cause_short"]
    missing = [key for key in CAUSE_KEYS if key not in short]
    if missing:
        raise ValueError(f"dns_findings.toml: [cause_short] lacks {missing}")
    return DnsKnowledge(load_sinkholes(), load_finding_templates("dns_findings.toml", "cause", CAUSE_KEYS),
                        load_finding_templates("dns_findings.toml", "all", ALL_KEYS), short)
