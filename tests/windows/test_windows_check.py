"""`check` from Windows CPython (Proactor event loop, Windows sockets and TLS) through a real Squid on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.infra import SquidProxy, TlsOrigin
from tests.infra.wine import WindowsRelease

LOGIN = "login.microsoftonline.com"


def _check(release: WindowsRelease, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    run = release.cli("check", "--json", *args, env=env)
    assert run.code in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    return run.code, json.loads(run.stdout)


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["host"]: e for e in report["results"]["endpoints"]}


def test_open_and_403_through_squid(release: WindowsRelease, squid: SquidProxy, tls_origin: TlsOrigin,
                                    lab_ca_file: Path, win: Callable[[Path], str]) -> None:
    since = squid.log_offset()
    code, report = _check(release, "--proxy", squid.url("open"), "--lab-microsoft-root", win(lab_ca_file),
                          "--endpoint", tls_origin.url(LOGIN, "/common/oauth2/token"),
                          "--endpoint", tls_origin.url("denied.example.com"))
    assert code == 1
    rows = _rows(report)
    ok = rows[LOGIN]
    assert (ok["outcome"], ok["connect_status"], ok["http_status"]) == ("ok", 200, 200)
    assert ok["tls"]["issuer_organization"] == "aadc-doctor lab CA"
    denied = rows["denied.example.com"]
    assert (denied["outcome"], denied["connect_status"], denied["phase"]) == ("proxy_forbidden", 403, "connect")
    assert [f["id"] for f in report["findings"]] == ["proxy-forbidden"]
    squid.wait_for_log(r"TCP_DENIED/403 \d+ CONNECT denied\.example\.com:", since=since)


def test_basic_407_then_200_with_credentials(release: WindowsRelease, squid: SquidProxy, tls_origin: TlsOrigin,
                                             lab_ca_file: Path, win: Callable[[Path], str]) -> None:
    endpoint = tls_origin.url(LOGIN, "/")
    code, report = _check(release, "--proxy", squid.url("basic"), "--lab-microsoft-root", win(lab_ca_file),
                          "--endpoint", endpoint)
    row = report["results"]["endpoints"][0]
    assert (code, row["outcome"], row["connect_status"]) == (1, "proxy_auth_required", 407)
    assert [f["id"] for f in report["findings"]] == ["proxy-auth-required"]
    since = squid.log_offset()
    code, report = _check(release, "--proxy", squid.url("basic"), "--lab-microsoft-root", win(lab_ca_file),
                          "--endpoint", endpoint,
                          "--proxy-user", "alice", "--proxy-password-env", "LAB_PROXY_PW",
                          env={"LAB_PROXY_PW": "s3cret"})
    row = report["results"]["endpoints"][0]
    assert (code, row["outcome"], row["proxy_auth_scheme"]) == (0, "ok", "Basic")
    assert "s3cret" not in json.dumps(report)
    squid.wait_for_log(r"TCP_TUNNEL/200 \d+ CONNECT login\.microsoftonline\.com:\d+ alice ", since=since)


def test_ntlm_with_explicit_credentials(release: WindowsRelease, squid: SquidProxy, tls_origin: TlsOrigin,
                                        lab_ca_file: Path, win: Callable[[Path], str]) -> None:
    since = squid.log_offset()
    code, report = _check(release, "--proxy", squid.url("ntlm"), "--lab-microsoft-root", win(lab_ca_file),
                          "--endpoint", tls_origin.url(LOGIN), "--proxy-user", "CONTOSO\\bob",
                          "--proxy-password-env", "PW", env={"PW": "anything"})
    assert code == 0, json.dumps(report["results"]["endpoints"][0])[:1500]
    row = report["results"]["endpoints"][0]
    assert (row["outcome"], row["proxy_auth_scheme"], row["proxy_authenticate"]) == ("ok", "NTLM", ["NTLM"])
    squid.wait_for_log(r"TCP_TUNNEL/200 \d+ CONNECT login\.microsoftonline\.com:\d+ \S+ HIER_DIRECT", since=since)


def test_tls_inspection_is_caught(release: WindowsRelease, squid: SquidProxy, inspected_origin: TlsOrigin,
                                  tls_origin: TlsOrigin, lab_ca_file: Path, win: Callable[[Path], str]) -> None:
    code, report = _check(release, "--proxy", squid.url("open"), "--lab-microsoft-root", win(lab_ca_file),
                          "--endpoint", inspected_origin.url(LOGIN), "--endpoint", tls_origin.url("graph.windows.net"))
    assert code == 1
    rows = _rows(report)
    row = rows[LOGIN]
    assert (row["outcome"], row["phase"], row["connect_status"]) == ("tls_intercepted", "tls", 200)
    assert row["tls"]["issuer_organization"] == "Contoso TLS Inspection CA" and not row["tls"]["verified"]
    assert "tls-intercepted" in {f["id"] for f in report["findings"]}
    assert rows["graph.windows.net"]["outcome"] == "ok"
