"""The operating system's resolver path: when getaddrinfo fails or answers a sinkhole, the DNS servers this
machine is configured with are asked with dnspython to name the cause.

getaddrinfo cannot be pointed at a test server, so it is replaced by what the OS would say ("Name or service
not known", or the sinkhole address); the configured DNS servers come from a resolv.conf written in tmp_path
that names the real dnsmasq (never /etc/resolv.conf).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliRun
from tests.infra import Dnsmasq
from tests.infra.dns_lab import LOOP, LOOPBACK_NAME, NXDOMAIN, REFUSED, SERVFAIL, ZERO

from aadc_doctor.net import resolve
from aadc_doctor.net.resolve import DnsFiltered, DnsFilterPolicy, ResolveFailure, Resolver, SystemDns

Runner = Callable[..., CliRun]


def _system_dns(tmp_path: Path, server: Dnsmasq) -> SystemDns:
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"# written by the test\nnameserver {server.address}\n")
    return SystemDns(resolv_conf=conf, port=server.port, platform="linux")


def _os_says_no(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _os_answers(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _policy() -> DnsFilterPolicy:
    from aadc_doctor.knowledge.dns_findings import load_sinkholes

    return DnsFilterPolicy(load_sinkholes().explain, lambda name: name.endswith((".com", ".net")))


def _fail(resolver: Resolver, name: str) -> ResolveFailure:
    with pytest.raises(ResolveFailure) as caught:
        asyncio.run(asyncio.wait_for(resolver.resolve(name, 443, check_filter=True), 10))
    return caught.value


@pytest.mark.parametrize(("host", "server_fixture", "failure"), [
    (NXDOMAIN, "filtering_dns", "nxdomain"),
    (REFUSED, "filtering_dns", "refused"),
    (LOOP, "filtering_dns", "cname_loop"),
    (SERVFAIL, "validating_dns", "servfail"),
])
def test_an_os_failure_is_named_by_asking_the_configured_servers(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest, host: str,
        server_fixture: str, failure: str) -> None:
    server: Dnsmasq = request.getfixturevalue(server_fixture)
    _os_says_no(monkeypatch)
    caught = _fail(Resolver(system_dns=_system_dns(tmp_path, server), lifetime=3), host)
    assert not isinstance(caught, DnsFiltered)
    assert (caught.dns.failure, caught.dns.source, caught.dns.server) == (failure, "system", server.nameserver)
    assert str(caught).startswith(f"{host}: Name or service not known; asked directly, ")
    assert f"this machine's DNS server ({server.nameserver})" in str(caught)


def test_an_os_failure_with_a_silent_dns_server_is_a_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             silent_dns_port: int) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\n")
    _os_says_no(monkeypatch)
    caught = _fail(Resolver(system_dns=SystemDns(conf, silent_dns_port, "linux"), lifetime=0.5), ZERO)
    assert caught.dns.failure == "timeout"


def test_an_unreadable_resolv_conf_keeps_the_os_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _os_says_no(monkeypatch)
    caught = _fail(Resolver(system_dns=SystemDns(tmp_path / "missing.conf", 53, "linux")), ZERO)
    assert caught.dns.failure == "error"
    assert "Name or service not known (the cause could not be asked: cannot read the DNS servers" in str(caught)


def test_an_os_sinkhole_confirmed_by_the_dns_server_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             filtering_dns: Dnsmasq) -> None:
    _os_answers(monkeypatch, "0.0.0.0")
    resolver = Resolver(dns_filter=_policy(), system_dns=_system_dns(tmp_path, filtering_dns), lifetime=3)
    caught = _fail(resolver, ZERO)
    assert isinstance(caught, DnsFiltered)
    assert (caught.dns.failure, caught.dns.server, caught.dns.addresses) == ("filtered", filtering_dns.nameserver,
                                                                            ("0.0.0.0",))
    assert caught.dns.sinkhole[0].startswith("0.0.0.0 (the 'this network' null address")


def test_an_os_sinkhole_the_dns_server_does_not_give_is_a_local_override(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, filtering_dns: Dnsmasq) -> None:
    """The OS says 127.0.0.1, the DNS server says NXDOMAIN: the hosts file (or a local policy) did it."""
    _os_answers(monkeypatch, "127.0.0.1")
    resolver = Resolver(dns_filter=_policy(), system_dns=_system_dns(tmp_path, filtering_dns), lifetime=3)
    caught = _fail(resolver, NXDOMAIN)
    assert isinstance(caught, DnsFiltered) and caught.dns.failure == "local_override"


def test_check_on_the_os_resolver_leads_with_the_named_dns_cause(run_cli: Runner, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path, filtering_dns: Dnsmasq) -> None:
    """The whole CLI on the OS path, direct with no proxy anywhere: the finding is DNS's, naming the server."""
    monkeypatch.setattr(resolve, "DEFAULT_SYSTEM_DNS", _system_dns(tmp_path, filtering_dns))
    _os_says_no(monkeypatch)
    run = run_cli("check", "--json", "--direct", "--timeout", "3", "--endpoint", f"https://{NXDOMAIN}/",
                  "--endpoint", f"https://{REFUSED}/")
    report = run.json()
    rows = {e["host"]: e for e in report["results"]["endpoints"]}
    assert [(rows[h]["outcome"], rows[h]["dns"]["failure"], rows[h]["dns"]["source"]) for h in (NXDOMAIN, REFUSED)] \
        == [("dns_failure", "nxdomain", "system"), ("dns_failure", "refused", "system")]
    assert [f["id"] for f in report["findings"]] == ["dns-nxdomain", "dns-refused"] and run.code == 1
    remedy = report["findings"][0]["remedy"]
    assert remedy.startswith(f"Fix DNS on this machine's DNS server ({filtering_dns.nameserver})")


def test_check_on_the_os_resolver_reports_a_sinkhole(run_cli: Runner, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path, filtering_dns: Dnsmasq) -> None:
    monkeypatch.setattr(resolve, "DEFAULT_SYSTEM_DNS", _system_dns(tmp_path, filtering_dns))
    _os_answers(monkeypatch, "127.0.0.1")
    run = run_cli("check", "--json", "--direct", "--timeout", "3", "--endpoint", f"https://{LOOPBACK_NAME}/")
    report = run.json()
    [row] = report["results"]["endpoints"]
    assert (row["outcome"], row["dns"]["failure"], row["dns"]["server"]) == ("dns_filtered", "filtered",
                                                                            filtering_dns.nameserver)
    assert [f["id"] for f in report["findings"]] == ["dns-filtered"]
