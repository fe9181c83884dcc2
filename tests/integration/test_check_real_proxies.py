"""`check` behind real third-party proxies, set up as corporate networks set them up (issue 13).

Squid with ssl_bump (a two-tier inspection CA, trusted or not; splice for some hosts, bump for the others), Squid
saying no with deny_info redirects and TCP_RESET, a Squid child behind a parent that denies and behind one that is
down, tinyproxy (Filter deny and allow lists, BasicAuth, ConnectPort) and mitmproxy. Every proxy is started once per
session (conftest.py); the origins are the lab's TLS and HTTP servers answering for the Microsoft names. Each
scenario asserts the exact outcome per endpoint and the exact finding ids; each proxy also carries a healthy run
with zero findings.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliRun
from tests.infra import MICROSOFT_CRL_PATH, HttpOrigin, SquidProxy, TlsOrigin
from tests.infra.mitmproxy import Mitmproxy
from tests.infra.tinyproxy import Tinyproxy

from aadc_doctor.errors import ExitCode

Runner = Callable[..., CliRun]
LOGIN = "login.microsoftonline.com"
GRAPH = "graph.windows.net"
MFA = "secure.aadcdn.microsoftonline-p.com"
MSAUTH = "aadcdn.msauth.net"
MSFTAUTH = "aadcdn.msftauth.net"
SPLICED = "contoso.registration.msappproxy.net"
CRL_OK = "crl3.digicert.com"


def _check(run_cli: Runner, proxy: str, lab_ca_file: Path, *urls: str, extra: tuple[str, ...] = (),
           env: dict[str, str] | None = None) -> dict[str, Any]:
    args = ["check", "--json", "--timeout", "5", "--proxy", proxy, "--lab-microsoft-root", str(lab_ca_file), *extra]
    for url in urls:
        args += ["--endpoint", url]
    run = run_cli(*args, env=env)
    assert run.code in (0, 1), run.stderr
    report: dict[str, Any] = run.json()
    return report


def _outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {e["host"]: e["outcome"] for e in report["results"]["endpoints"]}


def _row(report: dict[str, Any], host: str) -> dict[str, Any]:
    row: dict[str, Any] = next(e for e in report["results"]["endpoints"] if e["host"] == host)
    return row


def _ids(report: dict[str, Any]) -> list[str]:
    return [f["id"] for f in report["findings"]]


def _crl(origin: HttpOrigin, host: str = CRL_OK) -> str:
    return origin.url(host, MICROSOFT_CRL_PATH)


# -- Squid ssl_bump: a two-tier inspection CA, splice for some hosts, bump for the others ------------------------

def test_squid_bump_with_the_two_tier_ca_in_the_machine_store_is_trusted_interception(
        run_cli: Runner, bump_squid: SquidProxy, tls_origin: TlsOrigin, crl_origin: HttpOrigin, lab_ca_file: Path,
        inspection_pki: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issuing CA and root both in the trust store (as group policy deploys them): the chains verify and are still
    not Microsoft's. One finding for the two bumped hosts, saying the CA is trusted; the spliced host is fine."""
    monkeypatch.setenv("SSL_CERT_FILE", str(inspection_pki.bundle))
    report = _check(run_cli, bump_squid.url(), lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(GRAPH),
                    tls_origin.url(SPLICED), _crl(crl_origin))
    assert _outcomes(report) == {LOGIN: "tls_intercepted", GRAPH: "tls_intercepted", SPLICED: "ok", CRL_OK: "ok"}
    login = _row(report, LOGIN)["tls"]
    assert (login["verified"], login["trust"], login["microsoft_chain"]) == (True, "system", False)
    assert login["root"] == "Contoso Inspection Root CA"
    assert _row(report, SPLICED)["tls"]["microsoft_chain"] is True
    assert _ids(report) == ["tls-intercepted"]
    finding = report["findings"][0]
    assert finding["title"] == ("TLS to 2 endpoints is inspected by a CA this machine trusts "
                                "(Contoso Inspection Root CA)")
    assert "Contoso TLS Inspection Issuing CA" in finding["detail"] and "deliberate" in finding["remedy"]


def test_ca_file_only_adds_trust_it_never_makes_the_inspection_ca_microsofts(
        run_cli: Runner, bump_squid: SquidProxy, tls_origin: TlsOrigin, lab_ca_file: Path,
        inspection_pki: Any) -> None:
    report = _check(run_cli, bump_squid.url(), lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(SPLICED),
                    extra=("--ca-file", str(inspection_pki.bundle)))
    assert _outcomes(report) == {LOGIN: "tls_intercepted", SPLICED: "ok"}
    assert (_row(report, LOGIN)["tls"]["verified"], _row(report, LOGIN)["tls"]["trust"]) == (True, "ca-file")
    assert _ids(report) == ["tls-intercepted"]
    assert "inspected by a CA this machine trusts" in report["findings"][0]["title"]
    assert f"--ca-file {inspection_pki.bundle}" in report["findings"][0]["detail"]


def test_squid_bump_with_an_untrusted_ca_is_untrusted_interception(
        run_cli: Runner, bump_squid: SquidProxy, tls_origin: TlsOrigin, lab_ca_file: Path) -> None:
    report = _check(run_cli, bump_squid.url(), lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(SPLICED))
    assert _outcomes(report) == {LOGIN: "tls_intercepted", SPLICED: "ok"}
    assert (_row(report, LOGIN)["tls"]["verified"], _row(report, LOGIN)["tls"]["trust"]) == (False,
                                                                                                "untrusted-issuer")
    assert _ids(report) == ["tls-intercepted"]
    assert report["findings"][0]["title"] == ("TLS to login.microsoftonline.com is intercepted by a CA this machine "
                                              "does not trust (issuer: Contoso Inspection Root CA)")
    assert "signed by Contoso TLS Inspection Issuing CA (Contoso)" in report["findings"][0]["detail"]
    assert _row(report, LOGIN)["tls"]["microsoft_chain"] is False


def test_squid_bump_splicing_every_probed_host_is_healthy(
        run_cli: Runner, bump_squid: SquidProxy, tls_origin: TlsOrigin, crl_origin: HttpOrigin,
        lab_ca_file: Path) -> None:
    report = _check(run_cli, bump_squid.url(), lab_ca_file, tls_origin.url(SPLICED),
                    tls_origin.url("autoupdate.msappproxy.net"), _crl(crl_origin))
    assert set(_outcomes(report).values()) == {"ok"}
    assert report["findings"] == []


# -- Squid saying no without a 403: deny_info redirects and TCP_RESET ----------------------------------------------

def test_squid_deny_info_redirects_and_resets_are_denials(
        run_cli: Runner, deny_squid: SquidProxy, tls_origin: TlsOrigin, crl_origin: HttpOrigin,
        lab_ca_file: Path) -> None:
    report = _check(run_cli, deny_squid.url(), lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(MSAUTH),
                    tls_origin.url(MSFTAUTH), tls_origin.url(MFA), _crl(crl_origin),
                    _crl(crl_origin, "crl4.digicert.com"))
    assert _outcomes(report) == {LOGIN: "ok", MSAUTH: "proxy_forbidden", MSFTAUTH: "proxy_forbidden",
                                 MFA: "proxy_forbidden", CRL_OK: "proxy_forbidden",
                                 "crl4.digicert.com": "proxy_forbidden"}
    assert _row(report, MSAUTH)["connect_status"] == 302
    assert "a redirect to http://block.contoso.test/blocked" in _row(report, MSAUTH)["error"]
    assert "reset the connection right after the CONNECT request" in _row(report, MSFTAUTH)["error"]
    assert "a redirect to http://block.contoso.test/blocked" in _row(report, CRL_OK)["error"]
    assert "right after the GET request" in _row(report, "crl4.digicert.com")["error"]
    assert _ids(report) == ["proxy-forbidden"] * 5 + ["mfa-endpoint-unreachable", "crl-unreachable"]
    mfa = next(f for f in report["findings"] if f["id"] == "mfa-endpoint-unreachable")
    assert "the proxy refuses it" in mfa["detail"]


def test_probes_leave_no_error_lines_in_squids_log(
        run_cli: Runner, squid: SquidProxy, tls_origin: TlsOrigin, crl_origin: HttpOrigin, lab_ca_file: Path) -> None:
    """Probes close TLS with close_notify and TCP with FIN: Squid logs no TCP_TUNNEL/500 (an aborted tunnel)."""
    since = squid.log_offset()
    for _ in range(3):
        report = _check(run_cli, squid.url("open"), lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(GRAPH),
                        tls_origin.url("denied.example.com"), _crl(crl_origin))
        assert _outcomes(report) == {LOGIN: "ok", GRAPH: "ok", "denied.example.com": "proxy_forbidden",
                                     CRL_OK: "ok"}
    deadline = time.monotonic() + 5
    while len(squid.access_log_lines(since)) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = squid.access_log_lines(since)
    assert len(lines) == 12, lines
    assert sum("TCP_TUNNEL/200" in line for line in lines) == 6, lines
    assert not [line for line in lines if "/500" in line or "ABORTED" in line or "/000" in line], lines


# -- a parent proxy that denies, and one that is down ----------------------------------------------------------------

def test_a_parents_denial_names_the_parent(
        run_cli: Runner, child_squid: SquidProxy, tls_origin: TlsOrigin, crl_origin: HttpOrigin,
        lab_ca_file: Path) -> None:
    report = _check(run_cli, child_squid.url(), lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(MSFTAUTH),
                    _crl(crl_origin), _crl(crl_origin, "crl4.digicert.com"))
    assert _outcomes(report) == {LOGIN: "ok", MSFTAUTH: "proxy_forbidden", CRL_OK: "ok",
                                 "crl4.digicert.com": "proxy_forbidden"}
    assert _row(report, MSFTAUTH)["answered_by"] == "parent-proxy.fabrikam.test"
    assert _row(report, "crl4.digicert.com")["answered_by"] == "parent-proxy.fabrikam.test"
    assert _ids(report) == ["proxy-forbidden", "proxy-forbidden", "crl-unreachable"]
    for finding in report["findings"][:2]:
        assert "the upstream proxy parent-proxy.fabrikam.test" in finding["detail"]
        assert "of the proxy parent-proxy.fabrikam.test (the upstream proxy behind" in finding["remedy"]


def test_a_healthy_network_through_the_child_and_its_parent(
        run_cli: Runner, child_squid: SquidProxy, tls_origin: TlsOrigin, crl_origin: HttpOrigin,
        lab_ca_file: Path) -> None:
    report = _check(run_cli, child_squid.url(), lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(GRAPH),
                    _crl(crl_origin))
    assert set(_outcomes(report).values()) == {"ok"}
    assert report["findings"] == []


def test_an_upstream_that_is_down_is_one_cause(
        run_cli: Runner, orphan_squid: SquidProxy, tls_origin: TlsOrigin, crl_origin: HttpOrigin,
        lab_ca_file: Path) -> None:
    since = orphan_squid.log_offset()
    report = _check(run_cli, orphan_squid.url(), lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(MFA),
                    tls_origin.url(GRAPH), _crl(crl_origin))
    # on a failure, what Squid logged for this run (HIER_NONE/- : it never reached a parent) beside what we saw
    seen = {"endpoints": report["results"]["endpoints"], "findings": report["findings"],
            "squid": orphan_squid.access_log_lines(since)}
    assert set(_outcomes(report).values()) == {"proxy_error"}, seen
    assert _ids(report) == ["proxy-error"], seen
    assert report["findings"][0]["title"].endswith("fails every request: one cause, not 4"), seen


# -- tinyproxy: Filter deny and allow lists, BasicAuth, ConnectPort --------------------------------------------------

def test_tinyproxy_deny_list(run_cli: Runner, tinyproxy_denylist: Tinyproxy, tls_origin: TlsOrigin,
                             crl_origin: HttpOrigin, lab_ca_file: Path) -> None:
    report = _check(run_cli, tinyproxy_denylist.url, lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(MSFTAUTH),
                    _crl(crl_origin))
    assert _outcomes(report) == {LOGIN: "ok", MSFTAUTH: "proxy_forbidden", CRL_OK: "ok"}
    assert _row(report, MSFTAUTH)["error"] == "the proxy answered CONNECT with 403 Filtered"  # no X-Squid-Error
    assert _ids(report) == ["proxy-forbidden"]


def test_tinyproxy_healthy_network(run_cli: Runner, tinyproxy_denylist: Tinyproxy, tls_origin: TlsOrigin,
                                   crl_origin: HttpOrigin, lab_ca_file: Path) -> None:
    report = _check(run_cli, tinyproxy_denylist.url, lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(GRAPH),
                    _crl(crl_origin))
    assert set(_outcomes(report).values()) == {"ok"}
    assert report["findings"] == []


def test_tinyproxy_allow_list_with_basic_auth(run_cli: Runner, tinyproxy_allowlist: Tinyproxy,
                                              tls_origin: TlsOrigin, crl_origin: HttpOrigin,
                                              lab_ca_file: Path) -> None:
    urls = (tls_origin.url(LOGIN), tls_origin.url(MSFTAUTH), _crl(crl_origin))
    anonymous = _check(run_cli, tinyproxy_allowlist.url, lab_ca_file, *urls)
    assert set(_outcomes(anonymous).values()) == {"proxy_auth_required"}
    assert _ids(anonymous) == ["proxy-auth-required"]
    signed_in = _check(run_cli, tinyproxy_allowlist.url_with("alice", "s3cret"), lab_ca_file, *urls)
    assert _outcomes(signed_in) == {LOGIN: "ok", MSFTAUTH: "proxy_forbidden", CRL_OK: "ok"}
    assert _ids(signed_in) == ["proxy-forbidden"]


def test_tinyproxy_refusing_every_connect_port_is_one_finding(
        run_cli: Runner, tinyproxy_connectport: Tinyproxy, tls_origin: TlsOrigin, crl_origin: HttpOrigin,
        lab_ca_file: Path) -> None:
    report = _check(run_cli, tinyproxy_connectport.url, lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(GRAPH),
                    tls_origin.url(MFA), _crl(crl_origin))
    assert _outcomes(report) == {LOGIN: "proxy_forbidden", GRAPH: "proxy_forbidden", MFA: "proxy_forbidden",
                                 CRL_OK: "ok"}
    assert _ids(report) == ["proxy-connect-port-denied", "mfa-endpoint-unreachable"]
    finding = report["findings"][0]
    assert f"refuses CONNECT to port {tls_origin.port} for every host" in finding["title"]
    assert f"ConnectPort {tls_origin.port}" in finding["remedy"]


# -- mitmproxy ---------------------------------------------------------------------------------------------------------

def test_mitmproxy_untrusted_and_trusted(run_cli: Runner, mitmproxy: Mitmproxy, tls_origin: TlsOrigin,
                                         crl_origin: HttpOrigin, lab_ca_file: Path) -> None:
    urls = (tls_origin.url(LOGIN), tls_origin.url(MFA), tls_origin.url(SPLICED), _crl(crl_origin))
    untrusted = _check(run_cli, mitmproxy.url, lab_ca_file, *urls)
    assert _outcomes(untrusted) == {LOGIN: "tls_intercepted", MFA: "tls_intercepted", SPLICED: "ok", CRL_OK: "ok"}
    assert _ids(untrusted) == ["tls-intercepted", "mfa-endpoint-unreachable"]
    assert "does not trust" in untrusted["findings"][0]["title"]
    assert "intercepted by an inspecting proxy" in untrusted["findings"][1]["detail"]
    trusted = _check(run_cli, mitmproxy.url, lab_ca_file, *urls, extra=("--ca-file", str(mitmproxy.ca_cert)))
    assert _outcomes(trusted) == _outcomes(untrusted)
    assert _row(trusted, LOGIN)["tls"]["trust"] == "ca-file"
    assert _ids(trusted) == ["tls-intercepted", "mfa-endpoint-unreachable"]
    assert "inspected by a CA this machine trusts (mitmproxy)" in trusted["findings"][0]["title"]


def test_mitmproxy_healthy_network(run_cli: Runner, mitmproxy: Mitmproxy, tls_origin: TlsOrigin,
                                   crl_origin: HttpOrigin, lab_ca_file: Path) -> None:
    report = _check(run_cli, mitmproxy.url, lab_ca_file, tls_origin.url(SPLICED),
                    tls_origin.url("autoupdate.msappproxy.net"), _crl(crl_origin))
    assert set(_outcomes(report).values()) == {"ok"}
    assert report["findings"] == []


# -- our own bugs, and the process's end -------------------------------------------------------------------------------

def test_a_bug_inside_a_probe_is_an_internal_error_not_a_network_outcome(
        run_cli: Runner, tls_origin: TlsOrigin, lab_ca_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aadc_doctor.net import tls

    def broken(der: bytes) -> Any:
        raise KeyError("a bug of ours")

    monkeypatch.setattr(tls, "cert_facts", broken)
    run = run_cli("check", "--json", "--direct", "--resolve", f"{LOGIN}:{tls_origin.port}:127.0.0.1",
                  "--lab-microsoft-root", str(lab_ca_file), "--endpoint", tls_origin.url(LOGIN))
    assert run.code == ExitCode.INTERNAL
    assert "internal error" in run.stderr and "KeyError" in run.stderr
    assert "tls_failure" not in run.stdout + run.stderr


@pytest.mark.parametrize("argv", [
    ["--endpoint", "ftp://x", "--direct"],  # refused before the trust store starts loading
    ["--endpoint", "https://login.microsoftonline.com/", "--proxy", "http://proxy:99999"],  # refused after it
])
def test_check_never_crashes_at_exit(argv: list[str]) -> None:
    """Issue 17 #3: the trust-store thread still ran while Python exited (SIGSEGV/SIGABRT in 26 of 40 runs)."""
    codes = []
    for _ in range(12):
        done = subprocess.run([sys.executable, "-m", "aadc_doctor", "check", *argv], capture_output=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        codes.append(done.returncode)
        assert len(done.stderr.decode().strip().splitlines()) <= 2, done.stderr
    assert codes == [int(ExitCode.USAGE_OR_INPUT)] * 12
