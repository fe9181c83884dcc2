"""Wall time of `aadc-doctor demo` (the README's main-job command; the issue asks for under 30 s).

Runs the demo as a user would (a fresh process, `--json`), a few times, and prints the wall time of each run,
the demo's own per-scenario times, and the lab's start/stop time measured in-process.

Usage: python bench/demo_time.py [RUNS]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def lab_start_stop() -> tuple[float, float]:
    from aadc_doctor.lab.lab import Lab

    started = time.perf_counter()
    lab = Lab().start()
    up = time.perf_counter() - started
    started = time.perf_counter()
    lab.close()
    return up, time.perf_counter() - started


def main() -> None:
    walls: list[float] = []
    per_scenario: dict[str, list[float]] = {}
    env = {**os.environ, "NO_COLOR": "1"}
    for _ in range(RUNS):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "aadc_doctor", "demo", "--json"], capture_output=True, text=True,
                              env=env)
        walls.append(time.perf_counter() - started)
        if done.returncode != 0:
            sys.exit(f"demo exited {done.returncode}: {done.stderr[-500:]}")
        for entry in json.loads(done.stdout)["results"]["scenarios"]:
            per_scenario.setdefault(entry["name"], []).append(entry["elapsed_s"])
    print(f"aadc-doctor demo, {RUNS} runs (fresh process each, --json)")
    print(f"  wall time: median {statistics.median(walls):.2f} s, max {max(walls):.2f} s (limit 30 s)")
    for name, times in per_scenario.items():
        print(f"  {name:<24} median {statistics.median(times):.2f} s")
    up, down = lab_start_stop()
    print(f"  lab start {up * 1000:.0f} ms, stop {down * 1000:.0f} ms (in-process)")


if __name__ == "__main__":
    main()
