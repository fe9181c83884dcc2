"""What naming a DNS cause costs: probes of sinkholed and NXDOMAIN names through `Resolver` and the probe runner.

Starts the lab's loopback DNS server (lab/dns.py) with every catalog host answering 127.0.0.1 (a sinkhole) and
everything else NXDOMAIN, then probes N endpoints concurrently, direct, with --dns-server semantics and the real
sinkhole policy, and prints the wall time and per-probe DNS times. Also times the sinkhole verdict alone.

Usage: python bench/dns_diagnosis.py [N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200


def main() -> None:
    from aadc_doctor.knowledge.dns_findings import load_sinkholes
    from aadc_doctor.knowledge.endpoints import load_catalog
    from aadc_doctor.lab.ca import catalog_hosts
    from aadc_doctor.lab.dns import LabDns
    from aadc_doctor.net.outcome import EndpointTarget, Outcome
    from aadc_doctor.net.probe import ProbeSettings
    from aadc_doctor.net.resolve import DnsFilterPolicy, Resolver
    from aadc_doctor.net.runner import ProbeJob, run_probes_async
    from aadc_doctor.net.tls import build_trust

    catalog = load_catalog()
    sinkholes = load_sinkholes()
    policy = DnsFilterPolicy(sinkholes.explain, lambda name: bool(catalog.match(name)))
    hosts = [h for h in catalog_hosts() if "*" not in h]

    started = time.perf_counter()
    rounds = 20000
    for i in range(rounds):
        policy.sinkholed(hosts[i % len(hosts)], ["0.0.0.0", "::"])
    verdict_us = (time.perf_counter() - started) / rounds * 1e6

    async def run() -> tuple[float, list[float], dict[str, int]]:
        dns = LabDns({host: "127.0.0.1" for host in hosts})
        await dns.start()
        try:
            resolver = Resolver.build((), ("127.0.0.1", dns.port), dns_filter=policy, lifetime=4.5)
            settings = ProbeSettings(resolver, build_trust(None), timeout=5.0)
            names = [hosts[i % len(hosts)] if i % 2 == 0 else f"missing{i}.microsoftonline.com" for i in range(N)]
            jobs = [ProbeJob(EndpointTarget(f"https://{n}/", n, 443, "https", "/", "https"), None) for n in names]
            began = time.perf_counter()
            results = await run_probes_async(jobs, settings, concurrency=32)
            wall = time.perf_counter() - began
        finally:
            await dns.close()
        counts: dict[str, int] = {}
        for r in results:
            counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
        assert set(counts) <= {Outcome.DNS_FILTERED.value, Outcome.DNS_FAILURE.value}, counts
        return wall, [r.phases.dns_ms or 0.0 for r in results], counts

    wall, dns_ms, counts = asyncio.run(run())
    print(f"sinkhole verdict: {verdict_us:.1f} us per name ({len(sinkholes.entries)} ranges and addresses)")
    print(f"{N} direct probes, concurrency 32: {wall * 1000:.0f} ms wall; outcomes {counts}")
    print(f"dns_ms per probe: median {statistics.median(dns_ms):.1f}, max {max(dns_ms):.1f}")


if __name__ == "__main__":
    main()
