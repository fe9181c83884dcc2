"""Sinkhole answers (knowledge data), the filter policy, this machine's DNS servers (resolv.conf, registry)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aadc_doctor.knowledge.dns_findings import load_dns_knowledge, load_sinkholes
from aadc_doctor.net.resolve import (
    DnsFilterPolicy,
    ResolveFailure,
    Resolver,
    SystemDns,
    SystemDnsUnknown,
    parse_lab_network,
    registry_nameservers,
)


@pytest.mark.parametrize(("address", "what"), [
    ("0.0.0.0", "null address"),
    ("::", "unspecified IPv6"),
    ("::ffff:0.0.0.0", "null address"),
    ("127.3.4.5", "loopback"),
    ("::1", "IPv6 loopback"),
    ("10.1.2.3", "RFC 1918"),
    ("172.20.0.1", "RFC 1918"),
    ("192.168.1.1", "RFC 1918"),
    ("169.254.0.7", "link-local"),
    ("fe80::1", "link-local"),
    ("fd00::5", "unique local"),
    ("100.64.1.1", "RFC 6598"),
    ("146.112.61.104", "Cisco Umbrella"),
    ("146.112.61.110", "Cisco Umbrella"),
    ("::ffff:146.112.61.105", "Cisco Umbrella"),
    ("72.5.65.111", "Palo Alto Networks"),
    ("208.91.112.55", "FortiGuard"),
])
def test_sinkhole_answers_are_recognised_and_named(address: str, what: str) -> None:
    explained = load_sinkholes().explain(address)
    assert explained is not None and what in explained


@pytest.mark.parametrize("address", ["20.190.151.7", "40.126.32.74", "2603:1036:3000::1", "146.112.61.103",
                                     "13.107.42.14", "not-an-address"])
def test_public_answers_are_not_sinkholes(address: str) -> None:
    assert load_sinkholes().explain(address) is None


def _policy(*lab: str) -> DnsFilterPolicy:
    return DnsFilterPolicy(load_sinkholes().explain, lambda name: name.endswith(".microsoftonline.com"),
                           tuple(parse_lab_network(item) for item in lab))


def test_the_policy_needs_a_public_name_and_only_sinkhole_answers() -> None:
    policy = _policy()
    assert policy.sinkholed("login.microsoftonline.com", ["0.0.0.0", "::"]) == (
        "0.0.0.0 (the 'this network' null address, the answer DNS filters (Pi-hole, AdGuard Home, dnsmasq "
        "address=/x/#, RPZ) give for a blocked name)", ":: (the unspecified IPv6 address, the IPv6 null answer of "
        "DNS filters)")
    assert policy.sinkholed("intranet.contoso.com", ["10.0.0.5"]) is None  # not a Microsoft name
    assert policy.sinkholed("login.microsoftonline.com", ["20.190.151.7", "0.0.0.0"]) is None  # one real answer
    assert policy.sinkholed("login.microsoftonline.com", []) is None


def test_a_lab_range_is_expected_but_only_inside_it() -> None:
    policy = _policy("127.0.0.0/8")
    assert policy.sinkholed("login.microsoftonline.com", ["127.0.0.1"]) is None
    assert policy.sinkholed("login.microsoftonline.com", ["10.0.0.1"]) is not None
    assert _policy("::1").sinkholed("login.microsoftonline.com", ["127.0.0.1"]) is not None


def test_a_private_link_endpoint_is_not_a_sinkhole() -> None:
    """management.azure.com -> management.privatelink.azure.com -> 10.1.2.4: the customer's Private Link."""
    policy = _policy()
    chain = ("management.privatelink.microsoftonline.com",)
    assert policy.sinkholed("x.microsoftonline.com", ["10.1.2.4"], chain) is None
    assert policy.sinkholed("x.microsoftonline.com", ["10.1.2.4"]) is not None  # no private link in the chain
    assert policy.sinkholed("x.microsoftonline.com", ["0.0.0.0"], chain) is not None  # still a null answer
    assert policy.sinkholed("x.microsoftonline.com", ["127.0.0.1"], chain) is not None


@pytest.mark.parametrize("text", ["", "127.0.0.0/33", "localhost", "10.0.0.0/x"])
def test_a_bad_lab_range_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="--lab-dns-answer"):
        parse_lab_network(text)


def test_every_dns_cause_has_a_finding_with_references() -> None:
    kb = load_dns_knowledge()
    assert set(kb.cause) == set(kb.cause_short)
    assert all(t.references for t in (*kb.cause.values(), *kb.all_failed.values()))
    assert {t.id for t in kb.cause.values()} == {"dns-filtered", "dns-local-override", "dns-nxdomain", "dns-servfail",
                                                 "dns-refused", "dns-cname-loop", "dns-timeout", "dns-no-address",
                                                 "dns-failure"}


# -- this machine's DNS servers ------------------------------------------------------------------------------

def test_resolv_conf_servers_are_read(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch contoso.com\nnameserver 10.0.0.53\nnameserver 10.0.1.53\n")
    assert SystemDns(conf, platform="linux").nameservers() == ("10.0.0.53", "10.0.1.53")


@pytest.mark.parametrize("content", [None, "search contoso.com\n"])
def test_a_missing_or_empty_resolv_conf_is_unknown(tmp_path: Path, content: str | None) -> None:
    conf = tmp_path / "resolv.conf"
    if content is not None:
        conf.write_text(content)
    with pytest.raises(SystemDnsUnknown, match="cannot read the DNS servers"):
        SystemDns(conf, platform="linux").nameservers()


class _FakeWin32Util:
    """dnspython's dns.win32util as it is on Windows: a config method switch and get_dns_info()."""

    class ConfigMethod:
        Registry = 1
        WMI = 2

    def __init__(self, servers: list[str] | None = None, error: Exception | None = None) -> None:
        self.servers = servers or []
        self.error = error
        self.method: int | None = None

    def set_config_method(self, method: int) -> None:
        self.method = method

    def get_dns_info(self) -> Any:
        if self.error is not None:
            raise self.error
        assert self.method == self.ConfigMethod.Registry  # the registry, not WMI, is read
        return SimpleNamespace(nameservers=self.servers, search=[], domain=None)


def test_windows_servers_come_from_the_registry() -> None:
    fake = _FakeWin32Util(["192.168.10.2", "192.168.10.3"])
    assert registry_nameservers(fake) == ("192.168.10.2", "192.168.10.3")
    assert fake.method == _FakeWin32Util.ConfigMethod.Registry


@pytest.mark.parametrize(("fake", "message"), [
    (_FakeWin32Util(error=PermissionError(5, "Access is denied")), "Access is denied"),
    (_FakeWin32Util(error=FileNotFoundError(2, "The system cannot find the file specified")), "cannot find"),
    (_FakeWin32Util([]), "names no DNS server"),
])
def test_an_unreadable_registry_fails_gracefully(fake: _FakeWin32Util, message: str) -> None:
    with pytest.raises(SystemDnsUnknown, match=message):
        registry_nameservers(fake)


def test_the_windows_path_off_windows_fails_gracefully() -> None:
    """dns.win32util has no registry reader outside Windows: the same graceful SystemDnsUnknown, no traceback."""
    with pytest.raises(SystemDnsUnknown, match="registry"):
        SystemDns(platform="win32").nameservers()


def test_an_os_failure_without_readable_servers_keeps_the_os_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "No such host is known.")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    resolver = Resolver(system_dns=SystemDns(platform="win32"))
    with pytest.raises(ResolveFailure) as caught:
        asyncio.run(resolver.resolve("login.microsoftonline.com", 443))
    assert caught.value.dns.failure == "error" and caught.value.dns.source == "system"
    assert str(caught.value).startswith("login.microsoftonline.com: No such host is known (the cause could not be "
                                        "asked: cannot read the DNS servers from the registry")


def test_special_use_names_are_not_asked_about(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    class NeverAsked(SystemDns):
        def nameservers(self) -> tuple[str, ...]:
            raise AssertionError("asked the DNS servers about an RFC 6761 name")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(ResolveFailure, match=r"^x\.invalid: Name or service not known$"):
        asyncio.run(Resolver(system_dns=NeverAsked()).resolve("x.invalid", 443))


# -- a resolver that says "blocked" (Extended DNS Errors 15-17, RFC 8914) ---------------------------------------

class _PolicyResolver(asyncio.DatagramProtocol):
    """Answers like Cloudflare Gateway / AdGuard DNS: rcode plus an EDE option naming the policy block."""

    def __init__(self, rcode: int, ede: int, address: str | None = None) -> None:
        self.rcode, self.ede, self.address = rcode, ede, address

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        import dns.edns
        import dns.message
        import dns.rrset

        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.set_rcode(self.rcode)
        response.use_edns(0, 0, 1232, options=[dns.edns.EDEOption(self.ede, "policy: security")])
        if self.address and query.question[0].rdtype == 1:
            response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", self.address))
        self.transport.sendto(response.to_wire(), addr)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("rcode", "ede", "address", "shown"), [
    (3, 15, None, "EDE 15: Blocked (policy: security)"),  # NXDOMAIN, Blocked
    (5, 17, None, "EDE 17: Filtered (policy: security)"),  # REFUSED, Filtered
    (0, 16, "203.0.113.9", "EDE 16: Censored (policy: security)"),  # a block page address not in our list
])
def test_a_server_that_says_blocked_is_dns_filtering(rcode: int, ede: int, address: str | None, shown: str) -> None:
    from aadc_doctor.net.resolve import DnsFiltered

    async def go() -> ResolveFailure:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _PolicyResolver(rcode, ede, address),
                                                           local_addr=("127.0.0.1", 0))
        try:
            port = transport.get_extra_info("sockname")[1]
            with pytest.raises(DnsFiltered) as caught:
                await Resolver(dns_server=("127.0.0.1", port), lifetime=2).resolve("login.microsoftonline.com", 443)
            return caught.value
        finally:
            transport.close()

    failure = asyncio.run(go())
    assert (failure.dns.failure, failure.dns.sinkhole) == ("filtered", (shown,))
