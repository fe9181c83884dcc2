"""The runner: results in job order, live callbacks, and no wait on a resolver stuck past the deadline."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from aadc_doctor.net.outcome import EndpointResult, EndpointTarget, Outcome, Phase
from aadc_doctor.net.probe import ProbeSettings
from aadc_doctor.net.resolve import Resolver
from aadc_doctor.net.runner import ProbeJob, run_probes
from aadc_doctor.net.tls import build_trust


def _job(host: str, port: int = 443) -> ProbeJob:
    return ProbeJob(EndpointTarget(f"https://{host}:{port}/", host, port, "https", "/", "https"), None)


def test_a_stuck_system_resolver_costs_the_timeout_not_more(monkeypatch: pytest.MonkeyPatch) -> None:
    def stuck(*args: Any, **kwargs: Any) -> Any:
        time.sleep(3)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    settings = ProbeSettings(Resolver(), build_trust(None), timeout=0.3)
    seen: list[int] = []
    start = time.monotonic()
    results = run_probes([_job("a.contoso.test"), _job("b.contoso.test")], settings,
                         on_result=lambda i, r: seen.append(i))
    assert time.monotonic() - start < 1.5
    assert [(r.outcome, r.phase) for r in results] == [(Outcome.DNS_FAILURE, Phase.DNS)] * 2
    assert sorted(seen) == [0, 1]


def test_results_keep_job_order_under_concurrency() -> None:
    settings = ProbeSettings(Resolver(), build_trust(None), timeout=2)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        jobs = [_job("127.0.0.1", port) for _ in range(5)] + [_job("name.invalid")]
        results: list[EndpointResult] = run_probes(jobs, settings, concurrency=2)
    assert [r.outcome for r in results] == [Outcome.TCP_REFUSED] * 5 + [Outcome.DNS_FAILURE]
