"""`ad dcs` with three DCs: the real Samba AD DC plus two loopback stand-ins that relay to it with added latency
(TCP and UDP). Each DC is first surveyed alone, then all three at once: the concurrent survey should take no more
than twice the slowest DC's own survey. Needs root (Samba, ports 88/389/636/3268/3269). Prints the figures.

    python bench/ad.py [RUNS] [DELAY_S ...]     (default 5 runs, stand-in delays 0.10 s and 0.25 s)
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.infra.ad_peers import StandInDc
from tests.infra.ports import spare_loopback_address
from tests.infra.samba import SambaDC

from aadc_doctor.cli import main

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
DELAYS = [float(d) for d in sys.argv[2:]] or [0.10, 0.25]


def survey(*dcs: str, ca_file: Path) -> tuple[float, dict[str, float]]:
    """Wall time of one `ad dcs` run (ms, in-process) and each DC's own probe time."""
    out = io.StringIO()
    args = ["ad", "dcs", "--domain", "contoso.test", "--ca-file", str(ca_file), "--timeout", "5", "--json"]
    for dc in dcs:
        args += ["--dc", dc]
    start = time.perf_counter()
    main(args, stdout=out, stderr=io.StringIO(), env={})
    wall = (time.perf_counter() - start) * 1000
    results = json.loads(out.getvalue())["results"]
    return wall, {dc["name"]: dc["probe_ms"] for dc in results["dcs"]}


def main_bench() -> None:
    t0 = time.monotonic()
    with SambaDC() as dc:
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in dc.timings.items())
        print(f"samba DC ready in {time.monotonic() - t0:.1f} s ({steps})")
        stand_ins = [StandInDc(spare_loopback_address(tcp_ports=(389, 636, 88, 3268, 3269), udp_ports=(88, 389)),
                               dc.address, delay).start() for delay in DELAYS]
        try:
            names = [dc.address] + [s.address for s in stand_ins]
            survey(*names, ca_file=dc.ca_file)  # warm-up: imports, first TLS handshakes
            alone: dict[str, list[float]] = {n: [] for n in names}
            together: list[float] = []
            for _ in range(RUNS):
                for name in names:
                    alone[name].append(survey(name, ca_file=dc.ca_file)[0])
                together.append(survey(*names, ca_file=dc.ca_file)[0])
            for name, delay in zip(names, [0.0, *DELAYS], strict=True):
                median = statistics.median(alone[name])
                print(f"{name:<16} added latency {delay * 1000:4.0f} ms  alone: median {median:7.1f} ms")
            slowest = max(statistics.median(v) for v in alone.values())
            wall = statistics.median(together)
            print(f"3 DCs together: median {wall:.1f} ms (runs={RUNS}, max {max(together):.1f} ms)")
            print(f"ratio to the slowest DC alone: {wall / slowest:.2f} (target <= 2.00)")
        finally:
            for stand_in in stand_ins:
                stand_in.stop()


if __name__ == "__main__":
    main_bench()
