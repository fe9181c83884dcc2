"""--resolve and --dns-server parsing, and resolution order (override, literal, OS)."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from aadc_doctor.net.resolve import ResolveFailure, Resolver, parse_dns_server, parse_resolve_option


def test_parse_resolve_curl_syntax() -> None:
    item = parse_resolve_option("Login.MicrosoftOnline.com:443:127.0.0.1,[::1]")
    assert (item.host, item.port, item.addresses) == ("login.microsoftonline.com", 443, ("127.0.0.1", "::1"))


@pytest.mark.parametrize("text, match", [
    ("login.microsoftonline.com:443", "expected HOST:PORT:ADDRESS"),
    ("login.microsoftonline.com:https:127.0.0.1", "not a number"),
    ("login.microsoftonline.com:0:127.0.0.1", "out of range"),
    ("login.microsoftonline.com:443:localhost", "not an IP address"),
])
def test_parse_resolve_rejects(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_resolve_option(text)


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1", ("127.0.0.1", 53)), ("127.0.0.1:15353", ("127.0.0.1", 15353)),
    ("[::1]:5300", ("::1", 5300)), ("::1", ("::1", 53)),
])
def test_parse_dns_server(text: str, expected: tuple[str, int]) -> None:
    assert parse_dns_server(text) == expected


def test_parse_dns_server_rejects_names() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        parse_dns_server("dns.example.com:53")


def test_override_wins_only_for_its_port() -> None:
    resolver = Resolver.build([parse_resolve_option("login.microsoftonline.com:443:192.0.2.7")])
    info = asyncio.run(resolver.resolve("login.microsoftonline.com", 443))
    assert (info.addresses, info.source) == (("192.0.2.7",), "--resolve")
    literal = asyncio.run(resolver.resolve("127.0.0.1", 80))
    assert (literal.addresses, literal.source) == (("127.0.0.1",), "literal")


def test_os_resolution_failure_is_a_resolve_failure() -> None:
    with pytest.raises(ResolveFailure, match=r"nothing\.invalid"):
        asyncio.run(Resolver().resolve("nothing.invalid", 443))


@pytest.mark.parametrize("text", ["[::1", "[::1]53", "[::1]:", "[]:53"])
def test_parse_dns_server_rejects_broken_brackets(text: str) -> None:
    """'[::1' used to be read as ::1 port 53, silently querying a server the admin did not name."""
    with pytest.raises(ValueError, match="--dns-server"):
        parse_dns_server(text)


class _AliasToNowhere(asyncio.DatagramProtocol):
    """A DNS server that answers every query with a CNAME chain whose end does not exist (rcode NXDOMAIN),
    as a recursive resolver does when a filter blocks the target domain (e.g. *.nsatc.net)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        import dns.message
        import dns.rcode
        import dns.rrset

        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.NXDOMAIN)
        response.answer.append(dns.rrset.from_text("login.microsoftonline.com.", 60, "IN", "CNAME",
                                                   "ak.privatelink.msidentity.com."))
        response.answer.append(dns.rrset.from_text("ak.privatelink.msidentity.com.", 60, "IN", "CNAME",
                                                   "login.microsoftonline.com.nsatc.net."))
        self.transport.sendto(response.to_wire(), addr)


def test_nxdomain_at_the_end_of_a_cname_chain_names_the_missing_target() -> None:
    """The alias exists: saying 'login.microsoftonline.com does not exist' sends the admin the wrong way."""
    async def go() -> str:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(_AliasToNowhere, local_addr=("127.0.0.1", 0))
        try:
            port = transport.get_extra_info("sockname")[1]
            with pytest.raises(ResolveFailure) as failure:
                await Resolver(dns_server=("127.0.0.1", port)).resolve("login.microsoftonline.com", 443)
            return str(failure.value)
        finally:
            transport.close()

    message = asyncio.run(go())
    assert "NXDOMAIN for login.microsoftonline.com.nsatc.net" in message
    assert "login.microsoftonline.com -> ak.privatelink.msidentity.com -> login.microsoftonline.com.nsatc.net" \
        in message
    assert "the name does not exist" not in message
