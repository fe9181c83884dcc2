"""The DNS breakage lab: names and records for a filtering resolver (dnsmasq), a CNAME-loop zone (NSD) and a
DNSSEC-validating resolver that answers SERVFAIL. The fixtures live in tests/integration/conftest.py.
"""

from __future__ import annotations

from .dnsmasq import DnsConfig

ZERO = "login.microsoftonline.com"  # address=/name/# : 0.0.0.0 and ::
LOOPBACK_NAME = "login.windows.net"  # 127.0.0.1
PRIVATE = "adminwebservice.microsoftonline.com"  # 10.20.30.40
LINK_LOCAL = "provisioningapi.microsoftonline.com"  # 169.254.10.10
BLOCK_PAGE = "graph.windows.net"  # 146.112.61.104, the Cisco Umbrella block page
NXDOMAIN = "bba800-anchor.microsoftonline.com"  # no record in the shadowing microsoftonline.com zone
REFUSED = "management.azure.com"  # outside every zone the resolver serves, and it has no upstream
LOOP = "autoupdate.msappproxy.net"  # msappproxy.net is forwarded to NSD, where the CNAMEs loop
LOOP_TARGET = "autoupdate-loop.msappproxy.net"
SERVFAIL = "enterpriseregistration.windows.net"  # asked at the validating resolver
# The root zone's KSK-2017 (IANA root-anchors.xml): real DNSSEC validation, which unsigned answers fail
ROOT_TRUST_ANCHOR = "trust-anchor=.,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"

LOOP_ZONE = """$ORIGIN msappproxy.net.
$TTL 60
@ IN SOA ns.msappproxy.net. hostmaster.msappproxy.net. 1 3600 600 86400 60
@ IN NS ns
ns IN A 127.0.0.1
autoupdate IN CNAME autoupdate-loop
autoupdate-loop IN CNAME autoupdate
"""


def filtering_config(loop_zone_address: str, loop_zone_port: int) -> DnsConfig:
    """The filtering resolver: sinkholes, a shadowing microsoftonline.com zone, msappproxy.net forwarded to NSD."""
    return DnsConfig(
        a_records={LOOPBACK_NAME: "127.0.0.1", PRIVATE: "10.20.30.40", LINK_LOCAL: "169.254.10.10",
                   BLOCK_PAGE: "146.112.61.104"},
        cnames={}, nxdomain=(),
        local_domains=("microsoftonline.com", "windows.net"),
        extra=(f"address=/{ZERO}/#", f"server=/msappproxy.net/{loop_zone_address}#{loop_zone_port}"),
    )


def validating_config(upstream_address: str, upstream_port: int) -> DnsConfig:
    """A resolver validating DNSSEC from the real root anchor, whose upstream answers unsigned: SERVFAIL."""
    return DnsConfig(a_records={}, cnames={}, nxdomain=(), local_domains=(),
                     extra=("dnssec", ROOT_TRUST_ANCHOR, "dnssec-check-unsigned",
                            f"server={upstream_address}#{upstream_port}"))
