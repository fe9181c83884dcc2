"""Name resolution for probes: --resolve overrides first (curl semantics), then a chosen DNS server, else the OS.

The OS resolver (`loop.getaddrinfo`) is what Azure AD Connect itself uses. `--dns-server` sends the queries to
one server with dnspython instead, which also reveals the CNAME chain (the articles' nsatc.net names) and lets
a lab point resolution at a local dnsmasq on a high port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aadc_doctor.net.outcome import DnsInfo


class ResolveFailure(Exception):
    """The name did not resolve; the message says how (NXDOMAIN, no address, server refused, timed out)."""


@dataclass(frozen=True)
class ResolveOverride:
    """One --resolve HOST:PORT:ADDRESS[,ADDRESS...] entry."""

    host: str
    port: int
    addresses: tuple[str, ...]


def parse_resolve_option(text: str) -> ResolveOverride:
    """Parse curl's HOST:PORT:ADDRESS (ADDRESS may be a comma list, IPv6 in brackets); ValueError if malformed."""
    host, sep, rest = text.partition(":")
    port_text, sep2, addr_text = rest.partition(":")
    if not sep or not sep2 or not host or not addr_text:
        raise ValueError(f"--resolve {text!r}: expected HOST:PORT:ADDRESS")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"--resolve {text!r}: port {port_text!r} is not a number") from None
    if not 0 < port < 65536:
        raise ValueError(f"--resolve {text!r}: port {port} is out of range")
    addresses = []
    for raw in addr_text.split(","):
        addr = raw.strip().removeprefix("[").removesuffix("]")
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            raise ValueError(f"--resolve {text!r}: {raw!r} is not an IP address") from None
        addresses.append(addr)
    return ResolveOverride(host.lower().rstrip("."), port, tuple(addresses))


def parse_dns_server(text: str) -> tuple[str, int]:
    """ADDR, ADDR:PORT or [IPv6]:PORT -> (address, port); ValueError if malformed."""
    text = text.strip()
    addr, port = text, 53
    if text.startswith("["):
        addr, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"--dns-server {text!r}: expected ADDR, ADDR:PORT or [IPv6]:PORT")
        if rest:
            port = _port(rest[1:], text)
    elif text.count(":") == 1:
        addr, port_text = text.split(":")
        port = _port(port_text, text)
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        raise ValueError(f"--dns-server {text!r}: {addr!r} is not an IP address") from None
    return addr, port


def _port(text: str, whole: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"--dns-server {whole!r}: port {text!r} is not a number") from None
    if not 0 < port < 65536:
        raise ValueError(f"--dns-server {whole!r}: port {port} is out of range")
    return port


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


AddrInfo = list[tuple[Any, Any, int, str, Any]]


async def _getaddrinfo_daemon(name: str, port: int) -> AddrInfo:
    """getaddrinfo in a daemon thread: a resolver stuck past the probe's deadline must not hold up the exit.

    (loop.getaddrinfo uses the default executor, which asyncio.run waits for when it closes the loop.)
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[AddrInfo] = loop.create_future()

    def settle(result: AddrInfo | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result or [])

    def work() -> None:
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, flags=socket.AI_CANONNAME)
        except BaseException as exc:  # handed back to the probe, whatever it is
            error: BaseException | None = exc
            infos = []
        else:
            error = None
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody needs the answer any more
            loop.call_soon_threadsafe(settle, infos, error)

    threading.Thread(target=work, name=f"getaddrinfo-{name}", daemon=True).start()
    return await future


@dataclass(frozen=True)
class Resolver:
    """Resolves (host, port) for probes; immutable so concurrent probes can share it."""

    overrides: Mapping[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)
    dns_server: tuple[str, int] | None = None

    @classmethod
    def build(cls, overrides: Iterable[ResolveOverride] = (), dns_server: tuple[str, int] | None = None) -> Resolver:
        table: dict[tuple[str, int], tuple[str, ...]] = {}
        for item in overrides:
            table[(item.host, item.port)] = item.addresses
        return cls(table, dns_server)

    async def resolve(self, host: str, port: int) -> DnsInfo:
        name = host.lower().rstrip(".")
        if is_ip_literal(name):
            return DnsInfo(name, (name.strip("[]"),), (), "literal")
        override = self.overrides.get((name, port))
        if override:
            return DnsInfo(name, override, (), "--resolve")
        if self.dns_server is not None:
            return await self._resolve_with_server(name)
        return await self._resolve_with_os(name, port)

    async def _resolve_with_os(self, name: str, port: int) -> DnsInfo:
        try:
            infos = await _getaddrinfo_daemon(name, port)
        except socket.gaierror as exc:
            raise ResolveFailure(f"{name}: {exc.strerror or exc}") from None
        except UnicodeError:
            raise ResolveFailure(f"{name}: not a valid host name") from None
        addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        canonical = next((info[3] for info in infos if info[3]), "")
        chain = (canonical.lower().rstrip("."),) if canonical and canonical.lower().rstrip(".") != name else ()
        return DnsInfo(name, addresses, chain, "system")

    async def _resolve_with_server(self, name: str) -> DnsInfo:
        import dns.asyncresolver
        import dns.exception
        import dns.resolver

        assert self.dns_server is not None
        server, port = self.dns_server
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [server]
        resolver.port = port
        source = f"dns-server {server}:{port}"
        at = f"{server}:{port}"
        chain: list[str] = []
        addresses: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = await resolver.resolve(name, rdtype, search=False)
            except dns.resolver.NXDOMAIN as exc:
                for response in dict(exc.kwargs.get("responses") or {}).values():
                    _add_cnames(chain, response)
                if chain:  # the name is an alias; the end of its chain is what does not exist
                    raise ResolveFailure(f"{name}: NXDOMAIN for {chain[-1]}, the end of its CNAME chain "
                                         f"({_chain_text(name, chain)}), from {at}") from None
                raise ResolveFailure(f"{name}: NXDOMAIN (the name does not exist) from {at}") from None
            except dns.resolver.NoAnswer as exc:
                if exc.kwargs.get("response") is not None:
                    _add_cnames(chain, exc.kwargs["response"])
                continue
            except dns.resolver.NoNameservers:
                raise ResolveFailure(f"{name}: the DNS server {at} refused or failed the query") from None
            except dns.exception.Timeout:
                raise ResolveFailure(f"{name}: no answer from the DNS server {at}") from None
            except dns.exception.DNSException as exc:
                raise ResolveFailure(f"{name}: {exc}") from None
            _add_cnames(chain, answer.response)
            addresses += [str(rdata.address) for rdata in answer]
            if addresses:
                break
        if not addresses:
            if chain:
                raise ResolveFailure(f"{name}: its CNAME chain ({_chain_text(name, chain)}) ends at {chain[-1]}, "
                                     f"which has no address record (A/AAAA) at {at}")
            raise ResolveFailure(f"{name}: the name exists but has no address record (A/AAAA) at {at}")
        return DnsInfo(name, tuple(dict.fromkeys(addresses)), tuple(chain), source)


def _add_cnames(chain: list[str], response: Any) -> None:
    """Append the CNAME targets of a DNS response (a dns.message.Message) to `chain`, once each, in order."""
    import dns.rdatatype

    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME:
            for rdata in rrset:
                target = str(rdata.target).lower().rstrip(".")
                if target not in chain:
                    chain.append(target)


def _chain_text(name: str, chain: list[str]) -> str:
    return " -> ".join([name, *chain])
