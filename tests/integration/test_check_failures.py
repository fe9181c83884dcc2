"""A dead or stalled proxy, a closed port, an endpoint that never answers: bounded time, one clear cause."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import CliRun
from tests.infra import StalledProxy, TlsOrigin

LOGIN = "login.microsoftonline.com"
Runner = Callable[..., CliRun]
HOSTS = ("login.microsoftonline.com", "graph.windows.net", "adminwebservice.microsoftonline.com")


def _check(run_cli: Runner, *args: str) -> dict[str, Any]:
    run = run_cli("check", "--json", *args)
    assert run.code == 1, run.stderr
    report: dict[str, Any] = run.json()
    return report


def test_stalled_proxy_never_hangs_the_run(run_cli: Runner, stalled_proxy: StalledProxy) -> None:
    endpoints = [arg for host in HOSTS for arg in ("--endpoint", f"https://{host}/")]
    start = time.monotonic()
    report = _check(run_cli, "--proxy", stalled_proxy.url, "--timeout", "1", *endpoints)
    elapsed = time.monotonic() - start
    assert elapsed < 2.5, f"3 stalled probes took {elapsed:.1f}s: they must run concurrently"
    assert stalled_proxy.connections == 3
    assert {(e["outcome"], e["phase"]) for e in report["results"]["endpoints"]} == {("timeout", "connect")}
    [finding] = report["findings"]
    assert finding["id"] == "proxy-not-answering" and stalled_proxy.url.split("//")[1] in finding["subject"]


def test_proxy_on_a_closed_port_is_one_cause(run_cli: Runner, closed_port: int) -> None:
    endpoints = [arg for host in HOSTS for arg in ("--endpoint", f"https://{host}/")]
    report = _check(run_cli, "--proxy", f"http://127.0.0.1:{closed_port}", *endpoints)
    assert {e["outcome"] for e in report["results"]["endpoints"]} == {"proxy_unreachable"}
    [finding] = report["findings"]
    assert finding["id"] == "proxy-unreachable" and "All 3 endpoints" in finding["detail"]


def test_direct_to_a_closed_port_is_refused(run_cli: Runner, closed_port: int, tls_origin: TlsOrigin,
                                            lab_ca_file: Path) -> None:
    report = _check(run_cli, "--direct", "--lab-microsoft-root", str(lab_ca_file),
                    "--resolve", f"{LOGIN}:{closed_port}:127.0.0.1", "--endpoint", f"https://{LOGIN}:{closed_port}/",
                    "--resolve", f"{LOGIN}:{tls_origin.port}:127.0.0.1", "--endpoint", tls_origin.url(LOGIN))
    rows = {e["port"]: e for e in report["results"]["endpoints"]}
    assert (rows[closed_port]["outcome"], rows[tls_origin.port]["outcome"]) == ("tcp_refused", "ok")
    [finding] = report["findings"]
    assert finding["id"] == "tcp-refused" and "Unable to connect to the remote server" in finding["title"]


def test_endpoint_that_never_answers_times_out_at_http(run_cli: Runner, squid: Any, lab_ca_file: Path,
                                                       tls_origin_factory: Callable[..., TlsOrigin]) -> None:
    origin = tls_origin_factory(stall="response")
    report = _check(run_cli, "--proxy", squid.url("open"), "--lab-microsoft-root", str(lab_ca_file), "--timeout", "1",
                    "--endpoint", origin.url(LOGIN))
    row = report["results"]["endpoints"][0]
    assert (row["outcome"], row["phase"], row["connect_status"]) == ("timeout", "http", 200)
    assert report["findings"][0]["id"] == "endpoint-timeout"


def test_ctrl_c_mid_run_exits_130_at_once_without_traceback(stalled_proxy: StalledProxy) -> None:
    """A real SIGINT to a real process while every probe hangs on a stalled proxy: 130, one line, no waiting for
    the 30 s probe limit (no thread left holding the exit)."""
    import os
    import signal
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    proc = subprocess.Popen([sys.executable, "-m", "aadc_doctor", "check", "--proxy", stalled_proxy.url,
                             "--profile", "all", "--timeout", "30"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 10
        while stalled_proxy.connections < 5 and time.monotonic() < deadline:  # probes are under way
            time.sleep(0.05)
        assert stalled_proxy.connections >= 5
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        elapsed = time.monotonic() - start
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == "aadc-doctor: interrupted" and "Traceback" not in out + err
    assert elapsed < 2, f"exit took {elapsed:.1f} s after Ctrl-C"
