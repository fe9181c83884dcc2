"""Whole profiles from the endpoint catalog, unmodified URLs on ports 80/443, through a real Squid (root only).

The lab impersonates every catalog host on a spare 127.x.y.z (TLS on 443 with a lab certificate naming them all,
CRLs on 80); Squid's hosts file points the real names there, so `check` runs exactly as on a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import trustme
from tests.conftest import CliRun
from tests.infra import (
    HttpOrigin,
    SquidProxy,
    TlsOrigin,
    build_crl,
    crl_route,
    ocsp_route,
    spare_loopback_address,
)
from tests.infra.tools import is_root

from aadc_doctor.knowledge.endpoints import load_catalog

Runner = Callable[..., CliRun]
MFA = "secure.aadcdn.microsoftonline-p.com"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # a tenant id is a GUID (checked)


@dataclass(frozen=True)
class CatalogLab:
    address: str
    hosts: tuple[str, ...]


@pytest.fixture(scope="module")
def catalog_lab(lab_ca: trustme.CA) -> Iterator[CatalogLab]:
    if not is_root():
        pytest.fail("the catalog lab listens on ports 80/443 and needs root (CI runs as root)", pytrace=False)
    urls = [u for r in load_catalog().for_profiles(["all"]) for u in r.urls_to_probe(TENANT)]
    https_hosts = sorted({urlsplit(u).hostname or "" for u in urls if u.startswith("https:")})
    crl = crl_route(build_crl(lab_ca))
    routes = {urlsplit(u).path: crl for u in urls if urlsplit(u).path.lower().endswith(".crl")}
    address = spare_loopback_address(tcp_ports=(80, 443))
    with TlsOrigin(lab_ca, https_hosts, host=address, port=443), \
            HttpOrigin(routes, default_route=ocsp_route(), host=address, port=80):
        yield CatalogLab(address, tuple(sorted({urlsplit(u).hostname or "" for u in urls})))


def _squid(factory: Callable[..., SquidProxy], lab: CatalogLab, **overrides: Any) -> SquidProxy:
    return factory(allowed_domains=None, hosts={h: lab.address for h in lab.hosts}, **overrides)


def test_sync_profile_with_the_mfa_host_denied(run_cli: Runner, catalog_lab: CatalogLab, lab_ca_file: Path,
                                              squid_factory: Callable[..., SquidProxy]) -> None:
    squid = _squid(squid_factory, catalog_lab, denied_domains=[MFA])
    run = run_cli("check", "--json", "--proxy", squid.url("open"), "--lab-microsoft-root", str(lab_ca_file))
    assert run.code == 1, run.stderr
    report = run.json()
    rows = report["results"]["endpoints"]
    assert {r["profile"] for r in rows} >= {"sync"} and len(rows) >= 15
    bad = [r for r in rows if r["outcome"] != "ok"]
    assert [(r["host"], r["outcome"]) for r in bad] == [(MFA, "proxy_forbidden")]
    crls = [r for r in rows if r["kind"] == "crl"]
    assert crls and all(r["crl"]["parsed"] for r in crls)
    wildcard = next(r for r in rows if r["host"] == "adminwebservice.microsoftonline.com")
    assert wildcard["rule"] == {"id": "microsoftonline", "pattern": "*.microsoftonline.com"}
    assert [f["id"] for f in report["findings"]] == ["proxy-forbidden", "mfa-endpoint-unreachable"]
    skipped = {s["rule"] for s in report["results"]["not_probed"]}
    assert {"crl-entrust-com", "windows-net"} <= skipped  # stale seed rows are listed, not probed


def test_pta_profile_behind_an_authenticating_proxy(run_cli: Runner, catalog_lab: CatalogLab, lab_ca_file: Path,
                                                    squid_factory: Callable[..., SquidProxy]) -> None:
    squid = _squid(squid_factory, catalog_lab)
    run = run_cli("check", "--json", "--profile", "pta", "--proxy", squid.url("basic"), "--lab-microsoft-root",
                  str(lab_ca_file), "--proxy-user", "alice", "--proxy-password-env", "PW", "--tenant-id", TENANT,
                  env={"PW": "s3cret"})
    report = run.json()
    rows = {r["host"]: r for r in report["results"]["endpoints"]}
    assert {r["outcome"] for r in rows.values()} == {"ok"}
    assert rows[f"{TENANT}.pta.bootstrap.his.msappproxy.net"]["rule"]["pattern"] == "*.msappproxy.net"
    assert rows[f"{TENANT}.registration.msappproxy.net"]["proxy_auth_scheme"] == "Basic"
    assert [f["id"] for f in report["findings"]] == ["pta-proxy-needs-anonymous"]
    assert run.code == 1
    assert {s["rule"]: s["reason"] for s in report["results"]["not_probed"]}["pta-status-8080"].endswith("optional")


def test_tenant_hosts_need_the_tenant_id(run_cli: Runner, catalog_lab: CatalogLab, lab_ca_file: Path,
                                         squid_factory: Callable[..., SquidProxy]) -> None:
    squid = _squid(squid_factory, catalog_lab)
    report = run_cli("check", "--json", "--profile", "pta", "--proxy", squid.url("open"), "--lab-microsoft-root",
                     str(lab_ca_file)).json()
    assert not any(r["host"].startswith(TENANT) for r in report["results"]["endpoints"])
    assert {s["rule"]: s["reason"] for s in report["results"]["not_probed"]}["msappproxy"].endswith("--tenant-id")
    assert report["findings"] == []


def test_cloudsync_profile_with_service_bus_denied(run_cli: Runner, catalog_lab: CatalogLab, lab_ca_file: Path,
                                                   squid_factory: Callable[..., SquidProxy]) -> None:
    squid = _squid(squid_factory, catalog_lab, denied_domains=[".servicebus.windows.net"])
    run = run_cli("check", "--json", "--profile", "cloudsync", "--proxy", squid.url("open"), "--lab-microsoft-root",
                  str(lab_ca_file), "--tenant-id", TENANT)
    assert run.code == 1, run.stderr
    rows = {r["host"]: r for r in run.json()["results"]["endpoints"]}
    assert set(rows) == {"autoupdate.msappproxy.net", f"{TENANT}.registration.msappproxy.net",
                         f"{TENANT}.pta.bootstrap.his.msappproxy.net", "watchdog.servicebus.windows.net",
                         "login.microsoftonline.com"}
    assert rows["watchdog.servicebus.windows.net"]["outcome"] == "proxy_forbidden"
    assert {r["outcome"] for h, r in rows.items() if "servicebus" not in h} == {"ok"}
    assert [f["id"] for f in run.json()["findings"]] == ["proxy-forbidden"]


def test_collect_runs_check_through_the_real_proxy_and_analyze_reads_it(
        run_cli: Runner, catalog_lab: CatalogLab, lab_ca_file: Path, squid_factory: Callable[..., SquidProxy],
        tmp_path: Path) -> None:
    """collect (on the fake server) runs `check` in-process per installed component through Squid; the saved
    results come back out of `analyze` as the same findings."""
    import argparse
    import io

    from tests.fixtures.server import fake_server

    from aadc_doctor.commands import RunContext
    from aadc_doctor.commands.collect import collect_with

    squid = _squid(squid_factory, catalog_lab, denied_domains=[".servicebus.windows.net"])
    system = fake_server.build(tmp_path / "server")
    out = tmp_path / "case.zip"
    args = argparse.Namespace(out=str(out), since=None, max_mb=200.0, redact=False, no_check=False)
    collect_with(system, args, RunContext(json_mode=True, stdout=io.StringIO(), stderr=io.StringIO(), env={}),
                 check_args=("--proxy", squid.url("open"), "--lab-microsoft-root", str(lab_ca_file)))
    report = run_cli("analyze", str(out), "--today", "2026-12-05", "--json").json()
    checks = next(a for a in report["results"]["analysers"] if a["name"] == "check")
    outcomes = {r["file"]: r["outcomes"] for r in checks["results"]["reports"]}
    assert outcomes["collected/check-sync.json"] == {"ok": outcomes["collected/check-sync.json"]["ok"]}
    assert outcomes["collected/check-cloudsync.json"]["proxy_forbidden"] == 1
    forbidden = [f for f in report["findings"] if f["id"] == "proxy-forbidden"]
    assert [f["subject"] for f in forbidden] == ["watchdog.servicebus.windows.net:443"]
