"""`check` against real dnsmasq (CNAME chains into nsatc.net, NXDOMAIN) and TLS servers (inspection, expiry)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from tests.conftest import CliRun
from tests.infra import NXDOMAIN_HOST, DnsConfig, Dnsmasq, SquidProxy, TlsOrigin
from tests.infra.certs import issue_server_cert

LOGIN = "login.microsoftonline.com"
Runner = Callable[..., CliRun]


def _check(run_cli: Runner, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    run = run_cli("check", "--json", *args, env=env)
    assert run.code in (0, 1), run.stderr
    report: dict[str, Any] = run.json()
    report["_code"] = run.code
    return report


def test_cname_chain_through_nsatc_resolves_and_is_explained(run_cli: Runner, dnsmasq: Dnsmasq,
                                                             tls_origin: TlsOrigin, lab_ca_file: Path) -> None:
    report = _check(run_cli, "--direct", "--dns-server", f"{dnsmasq.address}:{dnsmasq.port}", "--lab-microsoft-root",
                    str(lab_ca_file), "--lab-dns-answer", "127.0.0.0/8",
                    "--endpoint", tls_origin.url(LOGIN, "/common/oauth2/token"))
    assert report["results"]["proxy"]["source"] == "--direct"
    row = report["results"]["endpoints"][0]
    assert row["outcome"] == "ok" and row["via_proxy"] is None
    assert row["dns"]["cname_chain"] == ["ak.privatelink.msidentity.com", "login.microsoftonline.com.nsatc.net"]
    assert row["dns"]["addresses"] == ["127.0.0.1"]
    [finding] = report["findings"]
    assert (finding["id"], finding["severity"], report["_code"]) == ("dns-cname-outside-domain", "info", 0)


def test_nxdomain_is_a_dns_failure_with_the_articles_words(run_cli: Runner, dnsmasq: Dnsmasq, tls_origin: TlsOrigin,
                                                           lab_ca_file: Path) -> None:
    report = _check(run_cli, "--direct", "--dns-server", f"{dnsmasq.address}:{dnsmasq.port}", "--lab-microsoft-root",
                    str(lab_ca_file), "--endpoint", tls_origin.url(LOGIN), "--endpoint",
                    tls_origin.url(NXDOMAIN_HOST), env={"HTTPS_PROXY": "http://proxy.contoso.com:8080"})
    rows = {e["host"]: e for e in report["results"]["endpoints"]}
    assert (rows[NXDOMAIN_HOST]["outcome"], rows[NXDOMAIN_HOST]["phase"]) == ("dns_failure", "dns")
    assert "NXDOMAIN" in rows[NXDOMAIN_HOST]["error"]
    failure = next(f for f in report["findings"] if f["id"] == "dns-failure")
    assert "Unable to connect to the remote server" in failure["title"]
    assert "HTTPS_PROXY" in failure["detail"] and "machine.config" in failure["remedy"]
    assert report["_code"] == 1


def test_a_cname_to_a_name_without_address_names_the_end_of_the_chain(
        run_cli: Runner, dnsmasq_factory: Callable[..., Dnsmasq]) -> None:
    config = DnsConfig(a_records={}, cnames={LOGIN: "ak.privatelink.msidentity.com"}, nxdomain=())
    server = dnsmasq_factory(config)
    report = _check(run_cli, "--direct", "--dns-server", f"{server.address}:{server.port}",
                    "--endpoint", f"https://{LOGIN}/")
    [row] = report["results"]["endpoints"]
    assert (row["outcome"], row["phase"]) == ("dns_failure", "dns")
    assert f"CNAME chain ({LOGIN} -> ak.privatelink.msidentity.com) ends at ak.privatelink.msidentity.com" \
        in row["error"]


def test_every_name_failing_is_one_dns_cause(run_cli: Runner, dnsmasq: Dnsmasq) -> None:
    report = _check(run_cli, "--direct", "--dns-server", f"{dnsmasq.address}:{dnsmasq.port}", "--endpoint",
                    f"https://{NXDOMAIN_HOST}/", "--endpoint", "https://nothing-here.microsoftonline.com/")
    assert [f["id"] for f in report["findings"]] == ["no-dns"]


def test_inspecting_proxy_ca_is_tls_intercepted(run_cli: Runner, squid: SquidProxy, inspected_origin: TlsOrigin,
                                                tls_origin: TlsOrigin, lab_ca_file: Path) -> None:
    report = _check(run_cli, "--proxy", squid.url("open"), "--lab-microsoft-root", str(lab_ca_file), "--endpoint",
                    inspected_origin.url(LOGIN), "--endpoint", tls_origin.url("graph.windows.net"))
    rows = {e["host"]: e for e in report["results"]["endpoints"]}
    row = rows[LOGIN]
    assert (row["outcome"], row["phase"], row["connect_status"]) == ("tls_intercepted", "tls", 200)
    assert row["tls"]["issuer_organization"] == "Contoso TLS Inspection CA" and not row["tls"]["verified"]
    finding = next(f for f in report["findings"] if f["id"] == "tls-intercepted")
    assert "Contoso TLS Inspection CA" in finding["title"] and "client certificate" in finding["remedy"]
    assert rows["graph.windows.net"]["outcome"] == "ok"


def test_inspection_ca_in_the_machine_store_is_still_caught(run_cli: Runner, inspected_origin: TlsOrigin,
                                                            inspecting_ca_file: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The CA verifies (it is in the system store, as group policy deploys it) but is not a CA Microsoft uses."""
    monkeypatch.setenv("SSL_CERT_FILE", str(inspecting_ca_file))
    report = _check(run_cli, "--direct", "--resolve", f"{LOGIN}:{inspected_origin.port}:127.0.0.1",
                    "--endpoint", inspected_origin.url(LOGIN))
    row = report["results"]["endpoints"][0]
    assert (row["outcome"], row["tls"]["verified"], row["tls"]["trust"]) == ("tls_intercepted", True, "system")
    assert "this machine trusts that CA (this machine's trusted root store)" in row["error"]
    assert row["tls"]["microsoft_chain"] is False
    assert [f["id"] for f in report["findings"]] == ["tls-intercepted"]
    assert "inspected by a CA this machine trusts" in report["findings"][0]["title"]


def test_expired_certificate_is_a_tls_failure(run_cli: Runner, squid: SquidProxy, lab_ca: trustme.CA,
                                              lab_ca_file: Path, tls_origin_factory: Callable[..., TlsOrigin]) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    origin = tls_origin_factory(cert=issue_server_cert(lab_ca, [LOGIN], not_before=past - dt.timedelta(days=90),
                                                       not_after=past))
    report = _check(run_cli, "--proxy", squid.url("open"), "--lab-microsoft-root", str(lab_ca_file), "--endpoint",
                    origin.url(LOGIN))
    row = report["results"]["endpoints"][0]
    assert (row["outcome"], row["tls"]["trust"]) == ("tls_failure", "expired")
    assert report["findings"][0]["id"] == "tls-failure"
