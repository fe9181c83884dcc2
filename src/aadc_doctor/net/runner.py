"""Run every probe concurrently on one event loop, with a concurrency cap and a hard limit per probe.

The run takes about as long as its slowest probe, never the sum: an admin behind a slow proxy gets the whole
picture in seconds, and a dead proxy costs one timeout, not one per endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aadc_doctor.net.outcome import EndpointResult, EndpointTarget, Outcome, Phase
from aadc_doctor.net.probe import ProbeSettings, ProxyRoute, probe_endpoint

DEFAULT_CONCURRENCY = 32
# Extra seconds the runner grants beyond the probe's own deadline before it gives up on it regardless.
SAFETY_MARGIN_S = 2.0


@dataclass(frozen=True)
class ProbeJob:
    target: EndpointTarget
    proxy: ProxyRoute | None


ResultCallback = Callable[[int, EndpointResult], None]


async def run_probes_async(jobs: Sequence[ProbeJob], settings: ProbeSettings, *,
                           concurrency: int = DEFAULT_CONCURRENCY,
                           on_result: ResultCallback | None = None) -> list[EndpointResult]:
    """Probe every job; results come back in job order, `on_result(index, result)` fires as each finishes."""
    gate = asyncio.Semaphore(max(1, concurrency))
    results: list[EndpointResult | None] = [None] * len(jobs)

    async def one(index: int, job: ProbeJob) -> None:
        async with gate:
            try:
                result = await asyncio.wait_for(probe_endpoint(job.target, job.proxy, settings),
                                                settings.timeout + SAFETY_MARGIN_S)
            except TimeoutError:
                result = EndpointResult(job.target, Outcome.TIMEOUT, Phase.HTTP,
                                        via_proxy=job.proxy.display if job.proxy else None,
                                        connect_to=_shown_dial(settings.dial_for(job.target)),
                                        error=f"the probe did not finish within {settings.timeout:g} s",
                                        elapsed_ms=(settings.timeout + SAFETY_MARGIN_S) * 1000)
        results[index] = result
        if on_result is not None:
            on_result(index, result)

    await asyncio.gather(*(one(i, job) for i, job in enumerate(jobs)))
    return [r for r in results if r is not None]


def _shown_dial(dial: tuple[str, int] | None) -> str | None:
    if dial is None:
        return None
    host, port = dial
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def run_probes(jobs: Sequence[ProbeJob], settings: ProbeSettings, *, concurrency: int = DEFAULT_CONCURRENCY,
               on_result: ResultCallback | None = None) -> list[EndpointResult]:
    """Synchronous entry point: one fresh event loop for the whole run."""
    return asyncio.run(run_probes_async(jobs, settings, concurrency=concurrency, on_result=on_result))
