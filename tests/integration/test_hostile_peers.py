"""Issue 17, item 2: hostile HTTP peers (real loopback servers, TLS with the lab CA) cannot exhaust memory,
outlast the deadline or crash the JSON parsing of `account`, nor stall a PAC download.

Each case runs the whole CLI; the endless body runs as a subprocess so its peak memory is measured
(tests/infra/peak_memory.py: os.wait4 on POSIX, GetProcessMemoryInfo on Windows).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from tests.infra.hostile_peers import HostilePeer, hostile_peer
from tests.infra.peak_memory import run_measuring_peak

LOGIN = "login.microsoftonline.com"


@pytest.fixture(scope="session")
def tls_peer(lab_ca: trustme.CA) -> Iterator[HostilePeer]:
    with hostile_peer(lab_ca, (LOGIN,)) as peer:
        yield peer


@pytest.fixture(scope="session")
def http_peer() -> Iterator[HostilePeer]:
    with hostile_peer() as peer:
        yield peer


def _account_args(peer: HostilePeer, ca_file: Path, upn: str) -> list[str]:
    return ["account", upn, "--direct", "--no-sign-in", "--connect-to", f"{LOGIN}:443:127.0.0.1:{peer.port}",
            "--ca-file", str(ca_file), "--timeout", "3", "--json"]


def test_endless_body_is_capped_in_memory_and_time(tls_peer: HostilePeer, lab_ca_file: Path) -> None:
    import json

    run = run_measuring_peak([sys.executable, "-m", "aadc_doctor",
                              *_account_args(tls_peer, lab_ca_file, "endless@contoso.com")], timeout=90)
    assert run.code == 1, run.stderr
    failure = json.loads(run.stdout)["results"]["realm"]["failure"]
    assert failure["outcome"] in ("http_error", "timeout"), failure
    assert "larger than 8 MiB" in failure["message"] or "whole answer within 3 s" in failure["message"]
    assert run.peak_kib < 200 * 1024, run.peak_kib  # was 15 GB; about 70 MB
    assert run.seconds < 30


def test_one_byte_a_second_ends_at_the_deadline(run_cli: Callable[..., Any], tls_peer: HostilePeer,
                                                lab_ca_file: Path) -> None:
    started = time.monotonic()
    result = run_cli(*_account_args(tls_peer, lab_ca_file, "drip@contoso.com"))
    seconds = time.monotonic() - started
    assert result.code == 1, result.stderr
    failure = result.json()["results"]["realm"]["failure"]
    assert failure["outcome"] == "timeout"
    assert failure["message"] == f"{LOGIN} did not send its whole answer within 3 s"
    assert seconds < 12  # --timeout 3: one deadline per request, plus at most one read


def test_deeply_nested_json_is_refused_not_a_crash(run_cli: Callable[..., Any], tls_peer: HostilePeer,
                                                   lab_ca_file: Path) -> None:
    started = time.monotonic()
    result = run_cli(*_account_args(tls_peer, lab_ca_file, "nested@contoso.com"))
    assert result.code == 1, result.stderr
    assert "RecursionError" not in result.stderr + result.stdout
    failure = result.json()["results"]["realm"]["failure"]
    assert failure["message"] == f"{LOGIN} sent JSON nested 100000 levels deep; not parsed"
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("path", ["drip.pac", "dripheaders.pac"], ids=["body-drips", "headers-drip"])
def test_slow_pac_download_ends_at_its_deadline(run_cli: Callable[..., Any], http_peer: HostilePeer,
                                                path: str) -> None:
    """A PAC whose body, or whose status line and headers, arrive one byte a second ends at the one deadline."""
    url = f"http://127.0.0.1:{http_peer.port}/{path}"
    started = time.monotonic()
    result = run_cli("proxy", "--pac", url)
    seconds = time.monotonic() - started
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        f"aadc-doctor: error: {url}: cannot download the PAC file: not complete within 10 s"]
    assert seconds < 20


def test_endless_pac_download_is_capped(run_cli: Callable[..., Any], http_peer: HostilePeer) -> None:
    url = f"http://127.0.0.1:{http_peer.port}/endless.pac"
    started = time.monotonic()
    result = run_cli("proxy", "--pac", url)
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        f"aadc-doctor: error: {url}: the PAC file is larger than 2 MiB; refusing it"]
    assert time.monotonic() - started < 15


# Slow-drip *headers*: the status line and headers one byte a second. requests' timeout bounds each read, so
# before the per-exchange watchdog (net/deadline.py) these ran for the whole 1,000 bytes (about 17 minutes).


def test_account_headers_one_byte_a_second_end_at_the_deadline(run_cli: Callable[..., Any], tls_peer: HostilePeer,
                                                               lab_ca_file: Path) -> None:
    started = time.monotonic()
    result = run_cli(*_account_args(tls_peer, lab_ca_file, "dripheaders@contoso.com"))
    seconds = time.monotonic() - started
    assert result.code == 1, result.stderr
    failure = result.json()["results"]["realm"]["failure"]
    assert failure["outcome"] == "timeout", failure
    assert failure["message"] == f"{LOGIN} did not send its whole answer within 3 s"
    assert seconds < 12  # --timeout 3; the realm request ends at its deadline, the next ones are not made


def test_account_proxy_connect_answer_one_byte_a_second_ends_at_the_deadline(
        run_cli: Callable[..., Any], http_peer: HostilePeer, lab_ca_file: Path) -> None:
    """The proxy's answer to CONNECT drips: the tunnel is part of the exchange and of its deadline."""
    started = time.monotonic()
    result = run_cli("account", "user@contoso.com", "--proxy", f"http://127.0.0.1:{http_peer.port}", "--no-sign-in",
                     "--ca-file", str(lab_ca_file), "--timeout", "3", "--json")
    seconds = time.monotonic() - started
    assert result.code == 1, result.stderr
    failure = result.json()["results"]["realm"]["failure"]
    assert failure["outcome"] == "timeout", failure
    assert failure["message"] == (f"the proxy http://127.0.0.1:{http_peer.port} did not answer CONNECT {LOGIN} "
                                  "within 3 s (TCP to it worked)")
    assert seconds < 12


def test_check_headers_one_byte_a_second_end_at_the_deadline(run_cli: Callable[..., Any], tls_peer: HostilePeer,
                                                             lab_ca_file: Path) -> None:
    """`check`'s probe (asyncio, one timeout around the whole probe) against the same dripping endpoint."""
    started = time.monotonic()
    result = run_cli("check", "--endpoint", f"https://{LOGIN}/dripheaders", "--direct", "--timeout", "3",
                     "--resolve", f"{LOGIN}:443:127.0.0.1", "--connect-to", f"{LOGIN}:443:127.0.0.1:{tls_peer.port}",
                     "--lab-microsoft-root", str(lab_ca_file), "--json")
    seconds = time.monotonic() - started
    endpoint = result.json()["results"]["endpoints"][0]
    assert endpoint["outcome"] == "timeout", endpoint
    assert seconds < 12


def test_check_proxy_connect_answer_one_byte_a_second_ends_at_the_deadline(
        run_cli: Callable[..., Any], http_peer: HostilePeer, lab_ca_file: Path) -> None:
    started = time.monotonic()
    result = run_cli("check", "--endpoint", f"https://{LOGIN}/", "--proxy", f"http://127.0.0.1:{http_peer.port}",
                     "--timeout", "3", "--lab-microsoft-root", str(lab_ca_file), "--json")
    seconds = time.monotonic() - started
    endpoint = result.json()["results"]["endpoints"][0]
    assert endpoint["outcome"] in ("timeout", "proxy_unreachable"), endpoint
    assert seconds < 12


def test_check_crl_download_headers_one_byte_a_second_end_at_the_deadline(run_cli: Callable[..., Any],
                                                                          http_peer: HostilePeer) -> None:
    """A CRL fetch (plain HTTP, `.crl` path) is a probe too: its headers end at the probe's one deadline."""
    started = time.monotonic()
    result = run_cli("check", "--endpoint", "http://crl.microsoft.com/pki/dripheaders.crl", "--direct",
                     "--timeout", "3", "--resolve", "crl.microsoft.com:80:127.0.0.1",
                     "--connect-to", f"crl.microsoft.com:80:127.0.0.1:{http_peer.port}", "--json")
    seconds = time.monotonic() - started
    endpoint = result.json()["results"]["endpoints"][0]
    assert endpoint["outcome"] == "timeout", endpoint
    assert seconds < 12
