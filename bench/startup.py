"""Start-up cost of the CLI: median wall time of `aadc-doctor helpmsg 1328` against `python -c pass`.

The CLI imports every command module at start-up, so a heavy import anywhere shows here. Target:
helpmsg at most 0.25 s median. Usage: python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.25


def cli_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m aadc_doctor`."""
    beside = Path(sys.executable).with_name("aadc-doctor")
    found = str(beside) if beside.exists() else shutil.which("aadc-doctor")
    return [found] if found else [sys.executable, "-m", "aadc_doctor"]


def median_seconds(command: list[str], runs: int) -> tuple[float, float, float, float]:
    """Median, min and max wall time, and median CPU time (user+sys of the child), after one warm-up run.

    CPU time barely moves when the machine is busy, so it tells a slow start-up from a loaded machine
    (os.times() reports no child CPU time on Windows: it shows 0 there).
    """
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    times: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        before = os.times()
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
        after = os.times()
        cpu.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
    return statistics.median(times), min(times), max(times), statistics.median(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs per command (default 21)")
    args = parser.parse_args()
    helpmsg = [*cli_command(), "helpmsg", "1328"]
    check = subprocess.run(helpmsg, capture_output=True, text=True, check=False)
    if check.returncode != 0:
        print(f"aadc-doctor helpmsg 1328 failed (exit {check.returncode}): {check.stderr.strip()}")
        return 1
    baseline = median_seconds([sys.executable, "-c", "pass"], args.runs)
    cli = median_seconds(helpmsg, args.runs)
    print(f"runs per command: {args.runs} (after one warm-up run)")
    for label, figures in (("python -c pass", baseline), ("aadc-doctor helpmsg 1328", cli)):
        wall, low, high, cpu_time = figures
        print(f"{label:<25} median {wall:.3f} s  (min {low:.3f}, max {high:.3f}; median CPU {cpu_time:.3f} s)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > (os.cpu_count() or 1):
        print(f"warning: load average {load:.1f} on {os.cpu_count()} CPUs: wall times are inflated")
    print(f"aadc-doctor over bare interpreter: {cli[0] - baseline[0]:.3f} s")
    verdict = "within" if cli[0] <= TARGET_SECONDS else "OVER"
    print(f"target {TARGET_SECONDS:.2f} s median: {verdict}")
    return 0 if cli[0] <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
