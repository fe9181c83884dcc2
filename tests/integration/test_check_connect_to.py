"""`check --connect-to` (curl semantics) against a real TLS origin on a high port and a real Squid.

The URL stays https://login.microsoftonline.com/ (port 443); only the connection goes elsewhere, so SNI,
certificate verification and the Host header carry the real name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import CliRun
from tests.infra import SquidProxy, TlsOrigin

LOGIN = "login.microsoftonline.com"
URL = f"https://{LOGIN}/"
Runner = Callable[..., CliRun]


def _check(run_cli: Runner, *args: str) -> tuple[CliRun, dict[str, Any]]:
    run = run_cli("check", "--json", "--endpoint", URL, *args)
    assert run.code in (0, 1), run.stderr
    return run, run.json()


def test_direct_connect_to_reaches_the_high_port_with_the_real_name(run_cli: Runner, tls_origin: TlsOrigin,
                                                                    lab_ca_file: Path) -> None:
    before = len(tls_origin.requests)
    run, report = _check(run_cli, "--direct", "--lab-microsoft-root", str(lab_ca_file),
                         "--connect-to", f"{LOGIN}:443:127.0.0.1:{tls_origin.port}")
    [row] = report["results"]["endpoints"]
    assert (run.code, row["outcome"], row["port"], row["http_status"]) == (0, "ok", 443, 200), row["error"]
    assert row["connect_to"] == f"127.0.0.1:{tls_origin.port}" and row["via_proxy"] is None
    assert row["tls"]["verified"] and LOGIN in row["tls"]["names"]
    assert tls_origin.requests[before].host == LOGIN
    assert report["results"]["connect_to_unused"] == []


def test_connect_to_through_squid_sends_connect_to_the_destination(run_cli: Runner, squid: SquidProxy,
                                                                   tls_origin: TlsOrigin, lab_ca_file: Path) -> None:
    """With a proxy, CONNECT names HOST2:PORT2 (Squid resolves the lab name to 127.0.0.1), as curl does."""
    since = squid.log_offset()
    before = len(tls_origin.requests)
    run, report = _check(run_cli, "--proxy", squid.url("open"), "--lab-microsoft-root", str(lab_ca_file),
                         "--connect-to", f"{LOGIN}:443:{LOGIN}:{tls_origin.port}")
    [row] = report["results"]["endpoints"]
    assert (run.code, row["outcome"], row["connect_status"], row["http_status"]) == (0, "ok", 200, 200), row["error"]
    assert row["connect_to"] == f"{LOGIN}:{tls_origin.port}" and row["tls"]["verified"]
    assert tls_origin.requests[before].host == LOGIN
    squid.wait_for_log(rf"TCP_TUNNEL/200 \d+ CONNECT login\.microsoftonline\.com:{tls_origin.port} ", since=since)


def test_a_connect_to_that_matches_nothing_is_reported(run_cli: Runner, tls_origin: TlsOrigin,
                                                       lab_ca_file: Path) -> None:
    """A typo (the origin's port instead of the URL's 443) would silently probe the real name: say so."""
    run = run_cli("check", "--direct", "--lab-microsoft-root", str(lab_ca_file), "--timeout", "2", "--endpoint",
                  tls_origin.url(LOGIN), "--connect-to", f"{LOGIN}:443:127.0.0.1:{tls_origin.port}",
                  "--resolve", f"{LOGIN}:{tls_origin.port}:127.0.0.1")
    assert run.code == 0, run.stdout + run.stderr
    assert f"--connect-to {LOGIN}:443:127.0.0.1:{tls_origin.port} matched no probed endpoint" in run.stdout
