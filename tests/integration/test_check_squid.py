"""`aadc-doctor check` as a user runs it, through a real Squid: allow-list, 403, Basic 407 then 200, NTLM."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import CliRun
from tests.infra import MICROSOFT_CRL_PATH, HttpOrigin, Route, SquidProxy, TlsOrigin

LOGIN = "login.microsoftonline.com"
Runner = Callable[..., CliRun]


def _check(run_cli: Runner, *args: str, env: dict[str, str] | None = None) -> tuple[CliRun, dict[str, Any]]:
    run = run_cli("check", "--json", *args, env=env)
    assert run.code in (0, 1), run.stderr
    return run, run.json()


def _by_host(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["host"]: e for e in report["results"]["endpoints"]}


def test_allowed_denied_and_crl_through_squid(run_cli: Runner, squid: SquidProxy, tls_origin: TlsOrigin,
                                              crl_origin: HttpOrigin, lab_ca_file: Path) -> None:
    since = squid.log_offset()
    run, report = _check(
        run_cli, "--proxy", squid.url("open"), "--lab-microsoft-root", str(lab_ca_file),
        "--endpoint", tls_origin.url(LOGIN, "/common/oauth2/token"),
        "--endpoint", tls_origin.url("denied.example.com"),
        "--endpoint", crl_origin.url("crl.microsoft.com", MICROSOFT_CRL_PATH))
    assert run.code == 1
    assert report["results"]["proxy"]["source"] == "--proxy"
    rows = _by_host(report)
    ok = rows[LOGIN]
    assert (ok["outcome"], ok["connect_status"], ok["http_status"]) == ("ok", 200, 200)
    assert ok["tls"]["issuer_organization"] == "aadc-doctor lab CA" and ok["tls"]["version"].startswith("TLSv1.")
    assert all(ok["phases"][k] is not None for k in ("dns_ms", "tcp_ms", "connect_ms", "tls_ms", "http_ms"))
    denied = rows["denied.example.com"]
    assert (denied["outcome"], denied["connect_status"], denied["phase"]) == ("proxy_forbidden", 403, "connect")
    assert denied["proxy_error"].startswith("ERR_ACCESS_DENIED")
    crl = rows["crl.microsoft.com"]
    assert crl["outcome"] == "ok" and crl["crl"]["parsed"] and "aadc-doctor lab CA" in crl["crl"]["issuer"]
    [finding] = report["findings"]
    assert finding["id"] == "proxy-forbidden" and finding["subject"].startswith("denied.example.com:")
    assert "Allow denied.example.com" in finding["remedy"]
    squid.wait_for_log(r"TCP_DENIED/403 \d+ CONNECT denied\.example\.com:", since=since)
    squid.wait_for_log(r"GET http://crl\.microsoft\.com:\d+/pki/mscorp/crl/", since=since)


def test_basic_proxy_407_then_200_with_credentials(run_cli: Runner, squid: SquidProxy, tls_origin: TlsOrigin,
                                                   lab_ca_file: Path) -> None:
    endpoint = tls_origin.url(LOGIN, "/")
    run, report = _check(run_cli, "--proxy", squid.url("basic"), "--lab-microsoft-root", str(lab_ca_file),
                         "--endpoint", endpoint)
    row = report["results"]["endpoints"][0]
    assert (run.code, row["outcome"], row["connect_status"]) == (1, "proxy_auth_required", 407)
    assert row["proxy_authenticate"] == ["Basic"] and row["proxy_auth_scheme"] is None
    assert [f["id"] for f in report["findings"]] == ["proxy-auth-required"]
    assert "useDefaultCredentials" in report["findings"][0]["remedy"]

    since = squid.log_offset()
    run, report = _check(run_cli, "--proxy", squid.url("basic"), "--lab-microsoft-root", str(lab_ca_file), "--endpoint",
                         endpoint, "--proxy-user", "alice", "--proxy-password-env", "LAB_PROXY_PW",
                         env={"LAB_PROXY_PW": "s3cret"})
    row = report["results"]["endpoints"][0]
    assert (run.code, row["outcome"], row["proxy_auth_scheme"]) == (0, "ok", "Basic")
    assert row["proxy_auth_challenged"]
    assert report["findings"] == [] and "s3cret" not in run.stdout
    assert report["results"]["auth"] == {"mode": "auto", "user": "alice"}
    squid.wait_for_log(r"TCP_TUNNEL/200 \d+ CONNECT login\.microsoftonline\.com:\d+ alice ", since=since)


def test_wrong_basic_password_is_rejected(run_cli: Runner, squid: SquidProxy, tls_origin: TlsOrigin,
                                          lab_ca_file: Path) -> None:
    run, report = _check(run_cli, "--proxy", squid.url("basic"), "--lab-microsoft-root", str(lab_ca_file), "--endpoint",
                         tls_origin.url(LOGIN), "--proxy-user", "alice", "--proxy-password-env", "PW",
                         env={"PW": "wrong-password"})
    row = report["results"]["endpoints"][0]
    assert (row["outcome"], row["proxy_auth_scheme"]) == ("proxy_auth_required", "Basic")
    assert [f["id"] for f in report["findings"]] == ["proxy-auth-rejected"]
    assert "wrong-password" not in run.stdout


def test_ntlm_handshake_completes(run_cli: Runner, squid: SquidProxy, tls_origin: TlsOrigin, crl_origin: HttpOrigin,
                                  lab_ca_file: Path) -> None:
    since = squid.log_offset()
    run, report = _check(run_cli, "--proxy", squid.url("ntlm"), "--lab-microsoft-root", str(lab_ca_file),
                         "--endpoint", tls_origin.url(LOGIN), "--endpoint",
                         crl_origin.url("crl.microsoft.com", MICROSOFT_CRL_PATH),
                         "--proxy-user", "CONTOSO\\bob", "--proxy-password-env", "PW", env={"PW": "anything"})
    assert run.code == 0, report["findings"]
    for row in report["results"]["endpoints"]:
        assert (row["outcome"], row["proxy_auth_scheme"], row["proxy_authenticate"]) == ("ok", "NTLM", ["NTLM"])
    squid.wait_for_log(r"TCP_TUNNEL/200 \d+ CONNECT login\.microsoftonline\.com:\d+ \S+ HIER_DIRECT", since=since)


def test_ntlm_without_a_user_off_windows_explains_why(run_cli: Runner, squid: SquidProxy, tls_origin: TlsOrigin,
                                                      lab_ca_file: Path) -> None:
    _, report = _check(run_cli, "--proxy", squid.url("ntlm"), "--proxy-auth", "ntlm", "--lab-microsoft-root",
                       str(lab_ca_file), "--endpoint", tls_origin.url(LOGIN))
    row = report["results"]["endpoints"][0]
    assert row["outcome"] == "proxy_auth_required" and "signed-in account" in row["error"]


def test_squid_cannot_reach_the_origin(run_cli: Runner, squid: SquidProxy, closed_port: int,
                                       lab_ca_file: Path) -> None:
    _, report = _check(run_cli, "--proxy", squid.url("open"), "--lab-microsoft-root", str(lab_ca_file),
                       "--endpoint", f"https://{LOGIN}:{closed_port}/")
    row = report["results"]["endpoints"][0]
    assert (row["outcome"], row["connect_status"]) == ("proxy_error", 503)
    assert row["proxy_error"].startswith("ERR_CONNECT_FAIL")
    assert report["findings"][0]["id"] == "proxy-error"


def test_crl_replaced_by_a_proxy_page_is_a_block_page(run_cli: Runner, squid: SquidProxy,
                                                   http_origin_factory: Callable[..., HttpOrigin],
                                                   lab_ca_file: Path) -> None:
    html = Route(200, b"<!DOCTYPE html><html>Please sign in</html>", {"Content-Type": "text/html"})
    origin = http_origin_factory({MICROSOFT_CRL_PATH: html})
    _, report = _check(run_cli, "--proxy", squid.url("open"), "--endpoint",
                       origin.url("crl.microsoft.com", MICROSOFT_CRL_PATH))
    row = report["results"]["endpoints"][0]
    assert (row["outcome"], row["http_status"], row["crl"]["parsed"]) == ("proxy_forbidden", 200, False)
    assert "block page" in row["error"]
    assert {f["id"] for f in report["findings"]} == {"proxy-forbidden", "crl-unreachable"}


def test_plain_http_get_denied_by_squid_is_proxy_forbidden(run_cli: Runner, squid: SquidProxy,
                                                          crl_origin: HttpOrigin) -> None:
    _, report = _check(run_cli, "--proxy", squid.url("open"), "--endpoint",
                       crl_origin.url("denied.example.com", "/root.crl"), "--endpoint",
                       crl_origin.url("crl.microsoft.com", MICROSOFT_CRL_PATH))
    row = _by_host(report)["denied.example.com"]
    assert (row["outcome"], row["phase"], row["proxy_error"][:17]) == ("proxy_forbidden", "http", "ERR_ACCESS_DENIED")
    assert {f["id"] for f in report["findings"]} == {"proxy-forbidden", "crl-unreachable"}


def test_proxy_from_machine_config_as_the_wizard_uses_it(run_cli: Runner, squid: SquidProxy, tls_origin: TlsOrigin,
                                                         lab_ca_file: Path, tmp_path: Path) -> None:
    machine_config = tmp_path / "machine.config"
    machine_config.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <system.net>\n'
        '    <defaultProxy enabled="true" useDefaultCredentials="true">\n'
        f'      <proxy usesystemdefault="true" proxyaddress="{squid.url("open")}" bypassonlocal="true" />\n'
        "    </defaultProxy>\n  </system.net>\n</configuration>\n", encoding="utf-8")
    since = squid.log_offset()
    _, report = _check(run_cli, "--machine-config", str(machine_config), "--lab-microsoft-root", str(lab_ca_file),
                       "--endpoint", tls_origin.url(LOGIN), "--endpoint", tls_origin.url("denied.example.com"))
    proxy = report["results"]["proxy"]
    assert proxy["source"].startswith("machine.config") and proxy["url"] == squid.url("open")
    assert proxy["use_default_credentials"] is True
    assert {e["host"]: e["outcome"] for e in report["results"]["endpoints"]} == {
        LOGIN: "ok", "denied.example.com": "proxy_forbidden"}
    squid.wait_for_log(r"TCP_TUNNEL/200 \d+ CONNECT login\.microsoftonline\.com:", since=since)


def test_a_machine_config_address_without_http_works_for_the_probe_but_is_an_error(
        run_cli: Runner, squid: SquidProxy, tls_origin: TlsOrigin, lab_ca_file: Path, tmp_path: Path) -> None:
    """Squid answers, so the endpoint is ok; .NET Framework cannot use 'host:port', so the run still fails."""
    machine_config = tmp_path / "machine.config"
    address = squid.url("open").removeprefix("http://")
    machine_config.write_text(
        '<configuration>\n  <system.net>\n    <defaultProxy useDefaultCredentials="true">\n'
        f'      <proxy usesystemdefault="true" proxyaddress="{address}" bypassonlocal="true" />\n'
        "    </defaultProxy>\n  </system.net>\n</configuration>\n", encoding="utf-8")
    run, report = _check(run_cli, "--machine-config", str(machine_config), "--lab-microsoft-root", str(lab_ca_file),
                         "--endpoint", tls_origin.url(LOGIN))
    assert [e["outcome"] for e in report["results"]["endpoints"]] == ["ok"]
    assert run.code == 1
    [finding] = report["findings"]
    assert (finding["id"], finding["subject"]) == ("machine-config-proxy-address-invalid", f"{machine_config}:4")


def test_pac_sends_each_url_its_own_way(run_cli: Runner, squid: SquidProxy, tls_origin: TlsOrigin,
                                        lab_ca_file: Path, tmp_path: Path) -> None:
    pac = tmp_path / "proxy.pac"
    pac.write_text('function FindProxyForURL(url, host) {\n'
                   f'  if (dnsDomainIs(host, ".microsoftonline.com")) return "PROXY 127.0.0.1:{squid.open_port}";\n'
                   '  return "DIRECT";\n}\n', encoding="utf-8")
    _, report = _check(run_cli, "--pac", str(pac), "--lab-microsoft-root", str(lab_ca_file),
                       "--resolve", f"allowed.example.com:{tls_origin.port}:127.0.0.1",
                       "--endpoint", tls_origin.url(LOGIN), "--endpoint", tls_origin.url("allowed.example.com"))
    assert report["results"]["proxy"]["source"] == f"pac:{pac}"
    rows = _by_host(report)
    assert (rows[LOGIN]["outcome"], rows[LOGIN]["via_proxy"]) == ("ok", f"http://127.0.0.1:{squid.open_port}")
    assert (rows["allowed.example.com"]["outcome"], rows["allowed.example.com"]["via_proxy"]) == ("ok", None)
    assert rows["allowed.example.com"]["connect_status"] is None


def test_https_scheme_for_a_plain_squid_port_suggests_http(run_cli: Runner, squid: SquidProxy,
                                                           tls_origin: TlsOrigin, lab_ca_file: Path) -> None:
    """--proxy https://... (a common typo) against Squid's plain http_port: say TLS failed and what to type."""
    plain = squid.url("open")
    assert plain.startswith("http://")
    run, report = _check(run_cli, "--proxy", "https://" + plain.removeprefix("http://"), "--lab-microsoft-root",
                         str(lab_ca_file), "--timeout", "3", "--endpoint", tls_origin.url(LOGIN))
    [row] = report["results"]["endpoints"]
    assert (run.code, row["outcome"]) == (1, "proxy_unreachable")
    assert "https:// proxy" in row["error"] and f"try --proxy {plain}" in row["error"], row["error"]
    assert row["phases"]["tcp_ms"] is not None
