"""`aadc-doctor proxylog` on access.logs written by a real Squid: allowed, denied (403), Basic and NTLM ports (407),
and tunnels Squid cuts when they stay idle longer than its read_timeout.

Requests are real CONNECTs (raw sockets; curl for the NTLM handshake) to names Squid maps to a local origin on
port 443, so the log lines are exactly what Squid writes in production.
"""

from __future__ import annotations

import base64
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.infra import LAB_HOSTS, SquidProxy, TlsOrigin, spare_loopback_address
from tests.infra.tools import find_tool

from aadc_doctor.analysis.proxylog import RecordFilter
from aadc_doctor.logs.proxylog_reader import analyse_files

pytestmark = pytest.mark.integration

CONNECT_PHASE = ["login.microsoftonline.com", "adminwebservice.microsoftonline.com",
                 "bba800-anchor.microsoftonline.com", "login.microsoftonline.com"]
PROVISIONING = "provisioningapi.microsoftonline.com"


def connect(port: int, host: str, *, auth: str | None = None, hold: float = 0.0) -> int:
    """One CONNECT host:443 through the proxy; returns the status code and closes the tunnel."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        request = f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n"
        if auth:
            request += f"Proxy-Authorization: Basic {base64.b64encode(auth.encode()).decode()}\r\n"
        sock.sendall((request + "\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(4096)
            if not data:
                break
            head += data
        if hold:
            time.sleep(hold)
        return int(head.split(b" ", 2)[1])


def wait_for_lines(squid: SquidProxy, count: int, timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = squid.access_log_lines()
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_allowed_denied_and_authenticating_ports(squid_factory: Callable[..., SquidProxy], tls_origin_443: TlsOrigin,
                                                 lab_ca_file: Path, run_cli: Callable[..., Any]) -> None:
    squid = squid_factory(hosts={name: tls_origin_443.host for name in LAB_HOSTS}, denied_domains=[PROVISIONING])
    # Given: the first steps of "Connect to Azure AD" through the open port, then provisioningapi refused twice
    assert [connect(squid.open_port, host) for host in CONNECT_PHASE] == [200, 200, 200, 200]
    assert [connect(squid.open_port, PROVISIONING) for _ in range(2)] == [403, 403]
    # a Basic sign-in that works, and a full NTLM handshake (407 challenge, then the tunnel) by curl
    assert connect(squid.basic_port, "graph.windows.net", auth="alice:s3cret") == 200
    curl = subprocess.run([find_tool("curl"), "-s", "-o", "/dev/null", "-w", "%{http_code}", "--proxy-ntlm",
                           "-x", f"http://127.0.0.1:{squid.ntlm_port}", "-U", "CONTOSO\\bob:anything",
                           "--cacert", str(lab_ca_file), "https://graph.windows.net/"],
                          capture_output=True, text=True, timeout=30)
    assert curl.stdout == "200", curl.stderr
    # Squid logs a tunnel when it sees it closed: wait for curl's, so the 407 run below stays unbroken in the log
    wait_for_lines(squid, 9)
    # and an account the Basic port never accepts: four 407s in a row
    assert [connect(squid.basic_port, "login.microsoftonline.com") for _ in range(4)] == [407] * 4
    squid.wait_for_log(r"TCP_DENIED/407 .* CONNECT login\.microsoftonline\.com:443")
    lines = wait_for_lines(squid, 13)  # 4 + 2 + 1 + NTLM (one 407 challenge, then 200) + 4
    assert len(lines) == 13, lines

    # When
    result = run_cli("proxylog", "--json", str(squid.access_log))

    # Then
    assert result.code == 1, result.stderr
    report = result.json()
    r = report["results"]
    assert (r["format"], r["lines"], r["records"], r["line_counts"]["bad"]) == ("squid", 13, 13, 0)
    endpoints = {(e["host"], e["port"]): e for e in r["endpoints"]}
    login = endpoints[("login.microsoftonline.com", 443)]
    assert (login["requests"], login["allowed"], login["denied"], login["statuses"]) == (6, 2, 4, {"200": 2, "407": 4})
    assert login["denied_unresolved_407"] == 4
    prov = endpoints[(PROVISIONING, 443)]
    assert (prov["denied"], prov["statuses"], prov["allowed"]) == (2, {"403": 2}, 0)
    graph = endpoints[("graph.windows.net", 443)]
    assert graph["allowed"] == 2 and graph["denied"] == 1  # the NTLM challenge leg
    assert graph["auth_challenges"] == graph["denied"] and graph["denied_unresolved_407"] == 0
    findings = {(f["id"], f["subject"]): f for f in report["findings"]}
    assert ("proxylog-required-denied", f"{PROVISIONING}:443") in findings
    assert "407" in findings[("proxylog-required-denied", "login.microsoftonline.com:443")]["title"]
    assert ("proxylog-required-denied", "graph.windows.net:443") not in findings  # handshake legs only
    run = findings[("proxylog-auth-failing", "127.0.0.1")]
    assert "4 407 answers in a row" in run["title"] and "no request succeeded afterwards" in run["detail"]
    connect_phase = r["phases"][0]
    assert (connect_phase["status"], connect_phase["matched_steps"]) == ("partial", 4)
    assert connect_phase["blocked"]["status"] == 403 and connect_phase["blocked"]["host"] == PROVISIONING
    assert findings[("proxylog-phase-stops", "Connect to Azure AD")]["severity"] == "error"


@pytest.fixture
def silent_origin() -> Iterator[str]:
    """A TCP server on a spare 127.x.y.z:443 that accepts connections and never sends a byte (an idle endpoint)."""
    address = spare_loopback_address(tcp_ports=(443,))
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((address, 443))
    server.listen(20)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield address
    server.close()
    for conn in held:
        conn.close()


def test_idle_tunnels_cut_by_the_proxy(squid_factory: Callable[..., SquidProxy], silent_origin: str) -> None:
    squid = squid_factory(hosts={name: silent_origin for name in LAB_HOSTS},
                          extra_directives=["read_timeout 2 seconds"])
    # Given: three tunnels left idle (an export waiting for its answer) and one short call
    idle = ["bwsc02-relay.microsoftonline.com", "bba800-anchor.microsoftonline.com",
            "adminwebservice.microsoftonline.com"]
    results: list[int] = []
    threads = [threading.Thread(target=lambda h=h: results.append(connect(squid.open_port, h, hold=4)))
               for h in idle]
    for thread in threads:
        thread.start()
    assert connect(squid.open_port, "login.microsoftonline.com") == 200
    for thread in threads:
        thread.join()
    assert results == [200, 200, 200]
    lines = wait_for_lines(squid, 4)
    assert len(lines) == 4
    # When
    analysis, _ = analyse_files([squid.access_log], "auto", RecordFilter(),
                                thresholds={"min_idle_evidence_seconds": 1})
    summary = analysis.results()
    # Then: Squid cut all three at its timeout (logged as ordinary TCP_TUNNEL/200 lines with the duration)
    tunnels = summary.tunnels
    # Squid checks read_timeout on its own clock ticks: a tunnel it cuts at "2 seconds" can last 1.9 s (seen under load)
    assert tunnels.suspected_seconds is not None and 1 <= tunnels.suspected_seconds <= 4
    assert tunnels.ending_at_longest is not None and tunnels.ending_at_longest >= 3
    finding = next(f for f in analysis.findings(summary) if f.id == "proxylog-idle-timeout")
    assert f"about {tunnels.suspected_seconds} s" in finding.title
