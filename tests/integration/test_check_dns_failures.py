"""DNS filtering and DNS failures, named: `check --dns-server` against real dnsmasq (and NSD behind it).

One filtering resolver (dnsmasq) answers Microsoft names the ways corporate DNS breaks them: sinkhole answers
(0.0.0.0 and :: as Pi-hole/AdGuard do, loopback, RFC 1918, link-local, the Umbrella block page), NXDOMAIN
(an internal zone shadowing microsoftonline.com), REFUSED (no recursion for a name outside its zones), and a
CNAME loop (a domain forwarded to an internal NSD zone whose records loop). A second dnsmasq validates DNSSEC
against the real root trust anchor while its upstream serves unsigned answers: SERVFAIL (EDE "DNSSEC Bogus").
A UDP port that never answers is the timeout. Each case runs through the CLI; outcome, dns.failure and the
finding id are asserted exactly. No test touches /etc/resolv.conf.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliRun
from tests.infra import Dnsmasq, TlsOrigin
from tests.infra.dns_lab import (
    BLOCK_PAGE,
    LINK_LOCAL,
    LOOP,
    LOOP_TARGET,
    LOOPBACK_NAME,
    NXDOMAIN,
    PRIVATE,
    REFUSED,
    SERVFAIL,
    ZERO,
)
from tests.infra.ports import LOOPBACK

Runner = Callable[..., CliRun]


def _check(run_cli: Runner, server: str, *hosts: str, extra: tuple[str, ...] = (), timeout: str = "3",
           env: dict[str, str] | None = None) -> dict[str, Any]:
    endpoints = [arg for host in hosts for arg in ("--endpoint", f"https://{host}/")]
    run = run_cli("check", "--json", "--direct", "--dns-server", server, "--timeout", timeout, *extra, *endpoints,
                  env=env)
    assert run.code in (0, 1), run.stderr
    report: dict[str, Any] = run.json()
    report["_code"] = run.code
    return report


def _row(report: dict[str, Any], host: str) -> dict[str, Any]:
    return next(e for e in report["results"]["endpoints"] if e["host"] == host)


@pytest.mark.parametrize(("host", "answers", "what"), [
    (ZERO, ["0.0.0.0"], "null address"),
    (LOOPBACK_NAME, ["127.0.0.1"], "loopback"),
    (PRIVATE, ["10.20.30.40"], "private (RFC 1918)"),
    (LINK_LOCAL, ["169.254.10.10"], "link-local"),
    (BLOCK_PAGE, ["146.112.61.104"], "Cisco Umbrella (OpenDNS) block page"),
])
def test_a_sinkhole_answer_is_dns_filtering(run_cli: Runner, filtering_dns: Dnsmasq, host: str,
                                            answers: list[str], what: str) -> None:
    report = _check(run_cli, filtering_dns.nameserver, host)
    row = _row(report, host)
    assert (row["outcome"], row["phase"], row["dns"]["failure"]) == ("dns_filtered", "dns", "filtered")
    assert row["dns"]["addresses"] == answers and row["dns"]["server"] == filtering_dns.nameserver
    assert row["phases"]["tcp_ms"] is None  # never connected to the sinkhole
    assert [f["id"] for f in report["findings"]] == ["dns-filtered"] and report["_code"] == 1
    finding = report["findings"][0]
    assert what in finding["detail"] and filtering_dns.nameserver in finding["remedy"]
    assert "proxy" not in finding["title"].lower()


def test_every_endpoint_sinkholed_is_one_dns_filtering_finding(run_cli: Runner, filtering_dns: Dnsmasq) -> None:
    report = _check(run_cli, filtering_dns.nameserver, ZERO, PRIVATE, BLOCK_PAGE)
    assert {e["outcome"] for e in report["results"]["endpoints"]} == {"dns_filtered"}
    [finding] = report["findings"]
    assert finding["id"] == "dns-filtered" and "every endpoint" in finding["title"]
    assert all(host in finding["remedy"] for host in (ZERO, PRIVATE, BLOCK_PAGE))


@pytest.mark.parametrize(("host", "server_fixture", "failure", "finding_id", "said"), [
    (NXDOMAIN, "filtering_dns", "nxdomain", "dns-nxdomain", "NXDOMAIN"),
    (REFUSED, "filtering_dns", "refused", "dns-refused", "answered REFUSED"),
    (LOOP, "filtering_dns", "cname_loop", "dns-cname-loop", f"loops ({LOOP} -> {LOOP_TARGET} -> {LOOP})"),
    (SERVFAIL, "validating_dns", "servfail", "dns-servfail", "answered SERVFAIL (EDE 6: DNSSEC Bogus)"),
])
def test_dns_failures_are_told_apart(run_cli: Runner, request: pytest.FixtureRequest, host: str,
                                     server_fixture: str, failure: str, finding_id: str, said: str) -> None:
    server: Dnsmasq = request.getfixturevalue(server_fixture)
    report = _check(run_cli, server.nameserver, host)
    row = _row(report, host)
    assert (row["outcome"], row["phase"], row["dns"]["failure"]) == ("dns_failure", "dns", failure)
    assert said in row["error"] and row["dns"]["server"] == server.nameserver
    assert [f["id"] for f in report["findings"]] == [finding_id] and report["_code"] == 1


def test_a_dns_server_that_never_answers_is_a_timeout(run_cli: Runner, silent_dns_port: int) -> None:
    report = _check(run_cli, f"{LOOPBACK}:{silent_dns_port}", ZERO, timeout="1.5")
    row = _row(report, ZERO)
    assert (row["outcome"], row["phase"], row["dns"]["failure"]) == ("dns_failure", "dns", "timeout")
    assert f"no answer from {LOOPBACK}:{silent_dns_port}" in row["error"]
    assert [f["id"] for f in report["findings"]] == ["dns-timeout"]


def test_mixed_dns_causes_give_one_finding_per_cause(run_cli: Runner, filtering_dns: Dnsmasq) -> None:
    report = _check(run_cli, filtering_dns.nameserver, NXDOMAIN, "bba900-anchor.microsoftonline.com", REFUSED,
                    BLOCK_PAGE)
    assert [f["id"] for f in report["findings"]] == ["dns-nxdomain", "dns-refused", "dns-filtered"]
    assert report["findings"][0]["subject"] == f"{NXDOMAIN}:443, bba900-anchor.microsoftonline.com:443"


def test_a_direct_run_without_any_proxy_leads_with_dns(run_cli: Runner, filtering_dns: Dnsmasq) -> None:
    """No proxy anywhere: the remedy is the DNS server, not 'configure a proxy' (that is only a last resort)."""
    report = _check(run_cli, filtering_dns.nameserver, NXDOMAIN, "bba900-anchor.microsoftonline.com")
    [finding] = report["findings"]
    assert finding["id"] == "no-dns"
    assert finding["title"] == "No endpoint name resolves: the DNS server answers NXDOMAIN"
    assert finding["remedy"].startswith(f"Fix DNS on the DNS server {filtering_dns.nameserver}")
    assert "configure" not in finding["title"].lower() and "proxy" not in finding["title"].lower()


def test_with_a_proxy_configured_elsewhere_the_article_finding_stays(run_cli: Runner,
                                                                     filtering_dns: Dnsmasq) -> None:
    report = _check(run_cli, filtering_dns.nameserver, NXDOMAIN, env={"HTTPS_PROXY": "http://proxy.contoso.com:8080"})
    assert _row(report, NXDOMAIN)["dns"]["failure"] == "nxdomain"
    [finding] = report["findings"]
    assert finding["id"] == "dns-failure" and "machine.config" in finding["remedy"]
    assert "HTTPS_PROXY" in finding["detail"]


def test_a_mapped_name_is_never_a_sinkhole(run_cli: Runner, filtering_dns: Dnsmasq, tls_origin: TlsOrigin,
                                           lab_ca_file: Path) -> None:
    """--resolve and --connect-to say where a name goes: loopback is then the user's choice, not a filter's."""
    by_resolve = _check(run_cli, filtering_dns.nameserver, extra=(
        "--lab-microsoft-root", str(lab_ca_file), "--resolve", f"{LOOPBACK_NAME}:{tls_origin.port}:127.0.0.1",
        "--endpoint", tls_origin.url(LOOPBACK_NAME)))
    assert [(e["outcome"], e["dns"]["source"]) for e in by_resolve["results"]["endpoints"]] == [("ok", "--resolve")]
    by_connect_to = _check(run_cli, filtering_dns.nameserver, extra=(
        "--lab-microsoft-root", str(lab_ca_file),
        "--connect-to", f"{LOOPBACK_NAME}:443:{LOOPBACK_NAME}:{tls_origin.port}",
        "--endpoint", f"https://{LOOPBACK_NAME}/"))
    [row] = by_connect_to["results"]["endpoints"]
    assert (row["outcome"], row["dns"]["addresses"]) == ("ok", ["127.0.0.1"])
    assert by_resolve["findings"] == by_connect_to["findings"] == []


def test_the_lab_option_declares_loopback_answers_expected(run_cli: Runner, filtering_dns: Dnsmasq,
                                                           tls_origin: TlsOrigin, lab_ca_file: Path) -> None:
    """The same DNS answer (127.0.0.1 from the DNS server) is a sinkhole, unless the run declares a lab range."""
    url = tls_origin.url(LOOPBACK_NAME)
    plain = _check(run_cli, filtering_dns.nameserver,
                   extra=("--lab-microsoft-root", str(lab_ca_file), "--endpoint", url))
    assert _row(plain, LOOPBACK_NAME)["outcome"] == "dns_filtered"
    lab = _check(run_cli, filtering_dns.nameserver,
                 extra=("--lab-microsoft-root", str(lab_ca_file), "--lab-dns-answer", "127.0.0.0/8", "--endpoint", url))
    assert (_row(lab, LOOPBACK_NAME)["outcome"], lab["findings"]) == ("ok", [])
    # a lab range covers only itself: 10.20.30.40 is still a sinkhole in the same run
    both = _check(run_cli, filtering_dns.nameserver, PRIVATE, extra=("--lab-dns-answer", "127.0.0.1"))
    assert _row(both, PRIVATE)["outcome"] == "dns_filtered"


def test_a_bad_lab_range_is_a_usage_error(run_cli: Runner) -> None:
    run = run_cli("check", "--direct", "--lab-dns-answer", "127.0.0.0/33", "--endpoint", "https://x.example/")
    assert run.code == 2 and "--lab-dns-answer '127.0.0.0/33'" in run.stderr and "Traceback" not in run.stderr
