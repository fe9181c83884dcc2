"""Name resolution for probes: --resolve overrides first (curl semantics), then a chosen DNS server, else the OS.

The OS resolver (`getaddrinfo`) is what Azure AD Connect itself uses. `--dns-server` sends the queries to one
server with dnspython instead, which also reveals the CNAME chain (the articles' nsatc.net names) and lets a lab
point resolution at a local dnsmasq on a high port. When the OS resolver fails, the DNS servers this machine is
configured with (resolv.conf, or the registry on Windows) are asked directly with dnspython, so the failure is
named (NXDOMAIN, SERVFAIL, REFUSED, a CNAME loop, a timeout) instead of "Name or service not known".

A public Microsoft name answered only with sinkhole addresses (0.0.0.0, loopback, private, known block pages) is
DNS filtering (`DnsFiltered`), unless the user mapped the name (--resolve, --connect-to) or declared the range
as a lab's (`--lab-dns-answer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from aadc_doctor.net.outcome import DnsInfo

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# RFC 6761 special-use names never resolve on the internet: no point asking the DNS servers why
SPECIAL_USE_TLDS = frozenset({"invalid", "test", "example", "localhost", "local"})
MAX_CNAME_HOPS = 16  # dnspython's own limit (dns.message.ChainTooLong)
# RFC 8914 codes by which a resolver says a policy, not a failure, kept the answer back
EDE_BLOCKING = {15: "Blocked", 16: "Censored", 17: "Filtered"}
EDE_ACRONYMS = frozenset({"DNSSEC", "DNSKEY", "DS", "RRSIGS", "NSEC", "NSEC3", "TTL"})


class DnsFailure(StrEnum):
    """Why a name gave no usable address: `dns.failure` in the JSON report (stable codes, DESIGN.md)."""

    FILTERED = "filtered"  # a sinkhole answer from the DNS server (outcome dns_filtered)
    LOCAL_OVERRIDE = "local_override"  # a sinkhole answer from this machine (hosts file), not from DNS
    NXDOMAIN = "nxdomain"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    CNAME_LOOP = "cname_loop"
    TIMEOUT = "timeout"
    NO_ADDRESS = "no_address"  # the name exists but has no A/AAAA record (NODATA), also at the end of a chain
    ERROR = "error"  # anything else, or the cause could not be asked


class ResolveFailure(Exception):
    """The name did not resolve; the message says how, `dns` holds the evidence (failure code, server, chain)."""

    def __init__(self, message: str, dns: DnsInfo) -> None:
        super().__init__(message)
        self.dns = dns


class DnsFiltered(ResolveFailure):
    """The name resolved, but only to sinkhole answers: a DNS filter blocks it (or the hosts file overrides it)."""


class SystemDnsUnknown(Exception):
    """This machine's DNS servers could not be read (no resolv.conf, an unreadable registry)."""


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
class DnsFilterPolicy:
    """Decides when an answer is a DNS filter's sinkhole: every address of a public Microsoft name is one.

    `explain(address)` says what a sinkhole address is (knowledge data) or None; `is_public_name(name)` says
    whether the name is one Microsoft serves publicly (the endpoint catalog). `lab_networks` are ranges a lab
    declared as its own servers (--lab-dns-answer): an answer inside them is expected, never a sinkhole.
    """

    explain: Callable[[str], str | None]
    is_public_name: Callable[[str], bool]
    lab_networks: tuple[IpNetwork, ...] = ()

    def sinkholed(self, name: str, addresses: Sequence[str], cname_chain: Sequence[str] = ()) -> tuple[str, ...] | None:
        """"ADDRESS (what it is)" for each address when all are sinkhole answers for a public name, else None.

        A private address reached through a `privatelink.` CNAME is an Azure Private Link endpoint the customer
        set up (management.azure.com can resolve that way), not a sinkhole.
        """
        if not addresses or not self.is_public_name(name):
            return None
        private_link = any(label == "privatelink" for target in cname_chain for label in target.split("."))
        reasons: list[str] = []
        for address in addresses:
            try:
                ip = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                return None
            if any(ip.version == net.version and ip in net for net in self.lab_networks):
                return None
            if private_link and ip.is_private and not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                return None
            what = self.explain(address)
            if what is None:
                return None
            reasons.append(f"{address} ({what})")
        return tuple(reasons)


def parse_lab_network(text: str) -> IpNetwork:
    """--lab-dns-answer ADDRESS or CIDR; ValueError with a one-line reason."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"--lab-dns-answer {text!r}: expected an IP address or a CIDR range such as 127.0.0.0/8") \
            from None


@dataclass(frozen=True)
class SystemDns:
    """Where this machine's DNS servers are read from: resolv.conf on POSIX, the registry on Windows.

    Tests point `resolv_conf` (and `port`) at a local dnsmasq; nothing ever writes either file.
    """

    resolv_conf: Path = Path("/etc/resolv.conf")
    port: int = 53
    platform: str = sys.platform

    def nameservers(self) -> tuple[str, ...]:
        """The configured DNS server addresses; SystemDnsUnknown (one-line reason) when they cannot be read."""
        if self.platform == "win32":
            return registry_nameservers()
        import dns.exception
        import dns.resolver

        try:  # read_resolv_conf, not configure=True: on Windows dnspython would read the registry instead
            configured = dns.resolver.Resolver(configure=False)
            configured.read_resolv_conf(str(self.resolv_conf))
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            raise SystemDnsUnknown(f"cannot read the DNS servers from {self.resolv_conf}: {exc}") from None
        return tuple(str(server) for server in configured.nameservers)


def registry_nameservers(win32util: Any = None) -> tuple[str, ...]:
    """The DNS servers Windows uses, read by dnspython from the registry (its Registry method, not WMI).

    `win32util` is dnspython's `dns.win32util` (injected in tests). Any failure to read is SystemDnsUnknown:
    the probe then reports the operating system's own message rather than breaking.
    """
    try:
        if win32util is None:
            import dns.win32util as win32util
        win32util.set_config_method(win32util.ConfigMethod.Registry)
        info = win32util.get_dns_info()
        servers = tuple(str(server) for server in info.nameservers)
    except (OSError, AttributeError, ImportError, NotImplementedError, ValueError, TypeError) as exc:
        raise SystemDnsUnknown(f"cannot read the DNS servers from the registry ({type(exc).__name__}: {exc})") \
            from None
    if not servers:
        raise SystemDnsUnknown("the registry names no DNS server for any enabled network adapter")
    return servers


DEFAULT_SYSTEM_DNS = SystemDns()  # what a Resolver asks when the OS resolver fails (tests point it at dnsmasq)


def _default_system_dns() -> SystemDns | None:
    return DEFAULT_SYSTEM_DNS


def _special_use(name: str) -> bool:
    return name.rsplit(".", 1)[-1] in SPECIAL_USE_TLDS


@dataclass(frozen=True)
class Resolver:
    """Resolves (host, port) for probes; immutable so concurrent probes can share it.

    `lifetime` bounds each dnspython lookup (kept below the probe's deadline so a silent server is named as a
    timeout); `system_dns` is where the OS resolver's servers are read from to name its failures (None: not
    asked); `dns_filter` recognises sinkhole answers (None: not checked).
    """

    overrides: Mapping[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)
    dns_server: tuple[str, int] | None = None
    dns_filter: DnsFilterPolicy | None = None
    system_dns: SystemDns | None = field(default_factory=_default_system_dns)
    lifetime: float = 5.0

    @classmethod
    def build(cls, overrides: Iterable[ResolveOverride] = (), dns_server: tuple[str, int] | None = None, *,
              dns_filter: DnsFilterPolicy | None = None, lifetime: float = 5.0) -> Resolver:
        table: dict[tuple[str, int], tuple[str, ...]] = {}
        for item in overrides:
            table[(item.host, item.port)] = item.addresses
        return cls(table, dns_server, dns_filter, lifetime=lifetime)

    def source_for(self, host: str, port: int) -> str:
        """Where `host` will be resolved: "literal", "--resolve", "dns-server ADDR:PORT" or "system"."""
        name = host.lower().rstrip(".")
        if is_ip_literal(name):
            return "literal"
        if (name, port) in self.overrides:
            return "--resolve"
        if self.dns_server is not None:
            return f"dns-server {self.dns_server[0]}:{self.dns_server[1]}"
        return "system"

    def pending(self, host: str, port: int) -> DnsInfo:
        """The evidence so far for a lookup that has not finished (what a probe's deadline leaves behind)."""
        return DnsInfo(host.lower().rstrip("."), source=self.source_for(host, port))

    async def resolve(self, host: str, port: int, *, check_filter: bool = False) -> DnsInfo:
        """The addresses for host:port. ResolveFailure names why not; DnsFiltered when `check_filter` and the
        answer is a sinkhole (only for names the DNS answered: never for literals or --resolve)."""
        name = host.lower().rstrip(".")
        if is_ip_literal(name):
            return DnsInfo(name, (name.strip("[]"),), (), "literal")
        override = self.overrides.get((name, port))
        if override:
            return DnsInfo(name, override, (), "--resolve")
        if self.dns_server is not None:
            server, server_port = self.dns_server
            info = await _ask(name, [server], server_port, self.lifetime, f"{server}:{server_port}",
                              f"dns-server {server}:{server_port}")
        else:
            info = await self._resolve_with_os(name, port)
        if check_filter and self.dns_filter is not None:
            reasons = self.dns_filter.sinkholed(name, info.addresses, info.cname_chain)
            if reasons:
                raise await self._filtered(info, reasons)
        return info

    async def _resolve_with_os(self, name: str, port: int) -> DnsInfo:
        try:
            infos = await _getaddrinfo_daemon(name, port)
        except socket.gaierror as exc:
            raise await self._diagnose_os_failure(name, f"{name}: {exc.strerror or exc}") from None
        except UnicodeError:
            raise ResolveFailure(f"{name}: not a valid host name",
                                 DnsInfo(name, source="system", failure=DnsFailure.ERROR.value)) from None
        addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        canonical = next((info[3] for info in infos if info[3]), "")
        chain = (canonical.lower().rstrip("."),) if canonical and canonical.lower().rstrip(".") != name else ()
        return DnsInfo(name, addresses, chain, "system")

    async def _system_servers(self) -> tuple[tuple[str, ...], str]:
        """This machine's DNS servers and how to name them; SystemDnsUnknown when they cannot be read."""
        if self.system_dns is None:
            raise SystemDnsUnknown("not asked")
        servers = await asyncio.to_thread(self.system_dns.nameservers)
        if not servers:
            raise SystemDnsUnknown("no DNS server is configured")
        return servers, _servers_label(servers, self.system_dns.port)

    async def _diagnose_os_failure(self, name: str, os_error: str) -> ResolveFailure:
        """Ask this machine's DNS servers what the OS resolver would not say (NXDOMAIN, SERVFAIL, ...)."""
        unknown = DnsInfo(name, source="system", failure=DnsFailure.ERROR.value)
        if _special_use(name) or self.system_dns is None:
            return ResolveFailure(os_error, unknown)
        os_error = os_error.rstrip(".")  # Windows says "No such host is known."; more follows
        try:
            servers, label = await self._system_servers()
        except SystemDnsUnknown as exc:
            return ResolveFailure(f"{os_error} (the cause could not be asked: {exc})", unknown)
        assert self.system_dns is not None
        try:
            info = await _ask(name, servers, self.system_dns.port, self.lifetime, label, "system")
        except ResolveFailure as failure:
            return ResolveFailure(f"{os_error}; asked directly, {_without_name(str(failure), name)}", failure.dns)
        shown = ", ".join(info.addresses)
        return ResolveFailure(
            f"{os_error}, although {label} resolve it ({shown}): the operating system's resolver fails on its own "
            "(a hosts file entry, a Name Resolution Policy Table rule or a stale DNS client cache)",
            replace(unknown, server=info.server))

    async def _filtered(self, info: DnsInfo, reasons: tuple[str, ...]) -> DnsFiltered:
        """The sinkhole verdict; for the OS resolver, confirm with its DNS servers that DNS gave that answer."""
        answers = ", ".join(info.addresses) + (", a DNS filter's sinkhole answer" if len(reasons) == 1 else
                                               ", DNS filters' sinkhole answers")
        name = info.name
        if info.source != "system":
            server = info.source.removeprefix("dns-server ")
            return DnsFiltered(f"{name}: the DNS server {server} answered {answers}",
                               replace(info, failure=DnsFailure.FILTERED.value, server=server, sinkhole=reasons))
        assert self.dns_filter is not None
        local = replace(info, failure=DnsFailure.LOCAL_OVERRIDE.value, sinkhole=reasons)
        try:
            servers, label = await self._system_servers()
            assert self.system_dns is not None
            asked = await _ask(name, servers, self.system_dns.port, self.lifetime, label, "system")
        except SystemDnsUnknown:
            return DnsFiltered(f"{name}: the operating system resolved it to {answers}",
                               replace(info, failure=DnsFailure.FILTERED.value, sinkhole=reasons))
        except ResolveFailure as failure:
            if failure.dns.failure in (DnsFailure.NXDOMAIN, DnsFailure.NO_ADDRESS):
                # DNS has no such address to give: the answer came from this machine (hosts file, local policy)
                return DnsFiltered(f"{name}: the operating system resolved it to {answers}, but asked directly, "
                                   f"{_without_name(str(failure), name)}", replace(local, server=failure.dns.server))
            return DnsFiltered(f"{name}: the operating system resolved it to {answers} (asking {label} directly "
                               f"failed: {_without_name(str(failure), name)})",
                               replace(info, failure=DnsFailure.FILTERED.value, sinkhole=reasons))
        if self.dns_filter.sinkholed(name, asked.addresses, asked.cname_chain):
            return DnsFiltered(f"{name}: {label} answered {answers}",
                               replace(info, failure=DnsFailure.FILTERED.value, server=asked.server,
                                       sinkhole=reasons))
        return DnsFiltered(f"{name}: the operating system resolved it to {answers}, but asked directly, {label} "
                           f"gave {', '.join(asked.addresses)}", replace(local, server=asked.server))


def _servers_label(servers: Sequence[str], port: int) -> str:
    shown = ", ".join(servers if port == 53 else [f"{s}:{port}" for s in servers])
    return f"this machine's DNS server{'s' if len(servers) > 1 else ''} ({shown})"


def _without_name(message: str, name: str) -> str:
    return message.removeprefix(f"{name}: ")


async def _ask(name: str, servers: Sequence[str], port: int, lifetime: float, label: str, source: str) -> DnsInfo:
    """A and then AAAA for `name` from `servers` with dnspython; ResolveFailure names the cause.

    `label` names the servers in messages ("the DNS server 127.0.0.1:5353"), `source` goes to DnsInfo.source.
    """
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = list(servers)
    resolver.port = port
    resolver.lifetime = lifetime
    resolver.timeout = min(2.0, lifetime)
    resolver.use_edns(0, 0, 1232)  # EDNS, so a server can say why it failed (Extended DNS Errors, RFC 8914)
    server = ", ".join(servers) if port == 53 else ", ".join(f"{s}:{port}" for s in servers)
    evidence = DnsInfo(name, source=source, server=server)

    def fail(cause: DnsFailure, message: str, chain: Sequence[str] = (), response: Any = None) -> ResolveFailure:
        blocked = _ede_blocked(response) if response is not None else None
        if blocked is not None:  # the server itself says a policy blocked the name (RFC 8914 codes 15-17)
            return DnsFiltered(f"{message}{_ede(response)}",
                               replace(evidence, failure=DnsFailure.FILTERED.value, cname_chain=tuple(chain),
                                       sinkhole=(blocked,)))
        return ResolveFailure(message, replace(evidence, failure=cause.value, cname_chain=tuple(chain)))

    chain: list[str] = []
    addresses: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = await resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN as exc:
            responses = list(dict(exc.kwargs.get("responses") or {}).values())
            for response in responses:
                _add_cnames(chain, response)
            last = responses[-1] if responses else None
            if chain:  # the name is an alias; the end of its chain is what does not exist
                raise fail(DnsFailure.NXDOMAIN, f"{name}: NXDOMAIN for {chain[-1]}, the end of its CNAME chain "
                                                f"({_chain_text(name, chain)}), from {label}", chain, last) from None
            raise fail(DnsFailure.NXDOMAIN, f"{name}: NXDOMAIN (the name does not exist) from {label}",
                       response=last) from None
        except dns.resolver.NoAnswer as exc:
            if exc.kwargs.get("response") is not None:
                _add_cnames(chain, exc.kwargs["response"])
            continue
        except dns.resolver.NoNameservers as exc:
            raise _classify(name, list(exc.kwargs.get("errors") or ()), label, fail) from None
        except dns.exception.Timeout as exc:
            errors = list(exc.kwargs.get("errors") or ()) if hasattr(exc, "kwargs") else []
            answered = [e for e in errors if len(e) > 4 and e[4] is not None]
            if answered:
                raise _classify(name, answered, label, fail) from None
            raise fail(DnsFailure.TIMEOUT, f"{name}: no answer from {label} within {lifetime:.3g} s") from None
        except dns.exception.DNSException as exc:
            raise fail(DnsFailure.ERROR, f"{name}: {exc}") from None
        _add_cnames(chain, answer.response)
        addresses += [str(rdata.address) for rdata in answer]
        if addresses and _ede_blocked(answer.response) is not None:  # a block page address, flagged by the server
            evidence = replace(evidence, addresses=tuple(dict.fromkeys(addresses)))
            raise fail(DnsFailure.FILTERED, f"{name}: {label} answered {', '.join(evidence.addresses)}", chain,
                       answer.response)
        if addresses:
            break
    if not addresses:
        if chain:
            raise fail(DnsFailure.NO_ADDRESS, f"{name}: its CNAME chain ({_chain_text(name, chain)}) ends at "
                                              f"{chain[-1]}, which has no address record (A/AAAA) at {label}", chain)
        raise fail(DnsFailure.NO_ADDRESS, f"{name}: the name exists but has no address record (A/AAAA) at {label}")
    return replace(evidence, addresses=tuple(dict.fromkeys(addresses)), cname_chain=tuple(chain))


def _classify(name: str, errors: Sequence[Any], label: str,
              fail: Callable[..., ResolveFailure]) -> ResolveFailure:
    """The cause from dnspython's per-server errors: (server, tcp, port, error, response) tuples, first first."""
    import dns.exception
    import dns.message
    import dns.rcode

    for _server, _tcp, _port, error, response in errors:
        if response is None:
            continue
        loop = _cname_loop(name, response)
        if loop is not None or isinstance(error, dns.message.ChainTooLong):
            chain = loop or _cname_targets(response)
            if loop is not None:
                return fail(DnsFailure.CNAME_LOOP, f"{name}: the CNAME chain from {label} loops "
                                                   f"({_chain_text(name, loop)})", loop)
            return fail(DnsFailure.CNAME_LOOP, f"{name}: the CNAME chain from {label} is longer than "
                                               f"{MAX_CNAME_HOPS} names ({_chain_text(name, chain[:5])} -> ...)",
                        chain)
        rcode = response.rcode()
        said = f"{label} answered {dns.rcode.to_text(rcode)}{_ede(response)}"
        if _ede_blocked(response) is not None:
            return fail(DnsFailure.FILTERED, f"{name}: {label} answered {dns.rcode.to_text(rcode)}",
                        response=response)
        if rcode == dns.rcode.SERVFAIL:
            return fail(DnsFailure.SERVFAIL, f"{name}: {said}")
        if rcode == dns.rcode.REFUSED:
            return fail(DnsFailure.REFUSED, f"{name}: {said}")
        return fail(DnsFailure.ERROR, f"{name}: {said}")
    for _server, _tcp, _port, error, _response in errors:
        if isinstance(error, dns.exception.Timeout):
            return fail(DnsFailure.TIMEOUT, f"{name}: no answer from {label}")
        if isinstance(error, ConnectionRefusedError):
            return fail(DnsFailure.ERROR, f"{name}: nothing answers DNS at {label} (connection refused)")
        return fail(DnsFailure.ERROR, f"{name}: {label} could not be asked: {error}")
    return fail(DnsFailure.ERROR, f"{name}: {label} gave no usable answer")


def _ede(response: Any) -> str:
    """Extended DNS Errors (RFC 8914) of a response, e.g. " (EDE 6: DNSSEC Bogus)"; empty when there are none."""
    import dns.edns

    parts = []
    for option in response.extended_errors():
        code = int(option.code)
        try:
            words = dns.edns.EDECode.to_text(code).split("_")
        except ValueError:
            words = []
        title = " ".join(w if w in EDE_ACRONYMS else w.capitalize() for w in words)
        detail = ": ".join(p for p in (title, option.text or "") if p)
        parts.append(f"EDE {code}" + (f": {detail}" if detail else ""))
    return f" ({'; '.join(parts)})" if parts else ""


def _ede_blocked(response: Any) -> str | None:
    """"EDE 15: Blocked" (16 Censored, 17 Filtered) when the server says a policy stopped the name, else None."""
    for option in response.extended_errors():
        if int(option.code) in EDE_BLOCKING:
            return f"EDE {int(option.code)}: {EDE_BLOCKING[int(option.code)]}" + (f" ({option.text})"
                                                                               if option.text else "")
    return None


def _cname_targets(response: Any) -> list[str]:
    chain: list[str] = []
    _add_cnames(chain, response)
    return chain


def _cname_loop(name: str, response: Any) -> list[str] | None:
    """The CNAME chain from `name` in a response when it comes back to a name already seen, else None."""
    import dns.rdatatype

    links: dict[str, str] = {}
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME:
            owner = rrset.name.to_text(omit_final_dot=True).lower()
            for rdata in rrset:
                links.setdefault(owner, str(rdata.target).lower().rstrip("."))
    seen = [name]
    current = name
    while current in links:
        current = links[current]
        seen.append(current)
        if current in seen[:-1]:
            return seen[1:]
    return None


def _add_cnames(chain: list[str], response: Any) -> None:
    """Append the CNAME targets of a DNS response (a dns.message.Message) to `chain`, once each, in order."""
    import dns.rdatatype

    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME:
            for rdata in rrset:
                target = str(rdata.target).lower().rstrip(".")
                if target not in chain:
                    chain.append(target)


def _chain_text(name: str, chain: Sequence[str]) -> str:
    return " -> ".join([name, *chain])
