"""A tiny UDP DNS server on 127.0.0.1: the DNS a server behind a proxy often has.

Internal DNS that does not resolve internet names is why a direct call (no proxy in machine.config) ends in
"Unable to connect to the remote server". The server answers A records only for the names it is given (all
loopback addresses, so nothing the lab resolves can lead off the machine) and NXDOMAIN for every other name.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

LOOPBACK = "127.0.0.1"
TTL = 60


@dataclass(frozen=True)
class DnsQuery:
    """A question the server answered (tests and the demo check the client really asked here)."""

    name: str
    rdtype: str
    rcode: str
    client: str


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: LabDns) -> None:
        self._server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self._server.answer(data, addr[0])
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class LabDns:
    """Authoritative-looking answers from a fixed table; start() then `address` (``127.0.0.1:PORT``)."""

    def __init__(self, records: Mapping[str, str] | None = None) -> None:
        table: dict[str, str] = {}
        for name, address in (records or {}).items():
            if not ipaddress.ip_address(address).is_loopback:
                raise ValueError(f"lab DNS record {name} -> {address}: only loopback addresses are allowed")
            table[name.lower().rstrip(".")] = address
        self._records = table
        self._transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.queries: list[DnsQuery] = []

    @property
    def address(self) -> str:
        """What `check --dns-server` takes."""
        return f"{LOOPBACK}:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _DnsProtocol(self), local_addr=(LOOPBACK, 0))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def answer(self, wire: bytes, client: str) -> bytes | None:
        """The reply to one query message (None for junk that is not a DNS query)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        address = self._records.get(name)
        if address is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A and ipaddress.ip_address(address).version == 4:
            response.answer.append(dns.rrset.from_text(question.name, TTL, dns.rdataclass.IN, dns.rdatatype.A,
                                                       address))
        elif question.rdtype == dns.rdatatype.AAAA and ipaddress.ip_address(address).version == 6:
            response.answer.append(dns.rrset.from_text(question.name, TTL, dns.rdataclass.IN, dns.rdatatype.AAAA,
                                                       address))
        # any other type of a known name: NOERROR without answers (NODATA)
        self.queries.append(DnsQuery(name, dns.rdatatype.to_text(question.rdtype),
                                     dns.rcode.to_text(response.rcode()), client))
        return response.to_wire()
