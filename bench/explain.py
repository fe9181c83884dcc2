"""Benchmark `aadc-doctor explain -` on hostile and large pastes: the time grows linearly with the paste.

Each case is a paste an admin (or a fuzzer) could give: the 91-character event row that once took 20 s, 8,000
numbers on one line, ``'AADSTS50126 ' * 50000``, 1 MB of mixed log text, and 1 MB of nearly nothing but numbers
(one line, and one per line: up to 100,000 distinct values, each looked up). Prints the wall and CPU time of the
in-process explanation (parse, look up, rank) per case and the throughput; a second size of each case shows the
growth (about 2x time for 2x input is linear). CPU time is the figure to compare on a shared machine. Then the
whole CLI, ``aadc-doctor explain [--json] -`` reading a megabyte from stdin in a new process (start-up, parse,
render): its wall time and the CPU time of the process (user+sys).

Usage: .venv/bin/python bench/explain.py [--repeat 1] [--no-cli]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from aadc_doctor.explain.lookup import explain_all
from aadc_doctor.explain.request_ids import find_request_ids

EVENT_ROW = "4625  " + "0  " * 28 + "x"  # 91 characters: the blank runs the nested `\s*[,;]?\s+` split 2^28 ways


def event_row(scale: int) -> str:
    return (EVENT_ROW * scale)[: 91 * scale]


def numbers(count: int) -> str:
    rng = random.Random(3)
    return " ".join(str(rng.randint(0, 99999)) for _ in range(count))


def aadsts(count: int) -> str:
    return "AADSTS50126 " * count


def mixed(size: int) -> str:
    rng = random.Random(5)
    lines = [
        "2024-05-01 10:11:12Z Error: 12 : Reason: '1328' Trace ID: 0a1b2c3d-0000-1111-2222-333344445555",
        "Invoke-WebRequest : The remote server returned an error: (407) Proxy Authentication Required.",
        "AADSTS50126: Error validating credentials due to invalid username or password.",
        "Sub Status: 0xC000006A Logon Type: 3 Caller Process ID: 0x1f4",
        "1326, 1327; 0x530 helpmsg 1330 ERROR_LOGON_FAILURE InvalidGrant",
        "The user realm discovery failed; proxy 10.0.0.1:8080 said 403 Forbidden",
    ]
    out: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(lines)
        out.append(line)
        total += len(line) + 1
    return "\n".join(out)[:size]


def numbers_megabyte(size: int, separator: str = " ") -> str:
    """``size`` characters of random numbers up to 99,999, with a word every few thousand (``nearly`` all)."""
    rng = random.Random(7)
    out: list[str] = []
    total = 0
    while total < size:
        token = str(rng.randint(0, 99999)) if len(out) % 5000 else "error 1328"
        out.append(token)
        total += len(token) + 1
    return separator.join(out)[:size]


def numbers_lines(size: int) -> str:
    return numbers_megabyte(size, "\n")


CASES: list[tuple[str, Callable[[int], str], int]] = [
    ("event row (91 chars) x N", event_row, 1),
    ("numbers on one line", numbers, 8000),
    ("'AADSTS50126 ' * N", aadsts, 50000),
    ("mixed log text (bytes)", mixed, 1_000_000),
    ("numbers, one line (bytes)", numbers_megabyte, 500_000),
    ("numbers, one a line (bytes)", numbers_lines, 500_000),
]


def measure(text: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one explanation."""
    started, cpu = time.perf_counter(), time.process_time()
    explain_all([text])
    find_request_ids(text)
    return time.perf_counter() - started, time.process_time() - cpu


def measure_cli(text: str, json_output: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of `aadc-doctor explain [--json] -` on the text."""
    command = [sys.executable, "-m", "aadc_doctor", "explain", *(["--json"] if json_output else []), "-"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, input=text.encode("utf-8"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")},
                          check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"explain exited {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-cli", action="store_true", help="skip the whole-CLI figures")
    args = parser.parse_args()
    measure("warm-up 1328")  # the tables and the relevance index are built once per process
    measure("proxy authentication")
    print(f"{'case':32} {'N':>9} {'bytes':>9} {'seconds':>8} {'cpu s':>8} {'MB/s':>7}")
    for name, make, n in CASES:
        sizes = (n, n * 2) if name != "event row (91 chars) x N" else (1, 11_000)
        for size in sizes:
            text = make(size)
            seconds, cpu = min(measure(text) for _ in range(args.repeat))
            rate = len(text) / cpu / 1e6 if cpu else float("inf")
            print(f"{name:32} {size:>9} {len(text):>9} {seconds:>8.3f} {cpu:>8.3f} {rate:>7.2f}")
    if args.no_cli:
        return
    print(f"\n{'CLI, 1 MB on stdin':32} {'output':>9} {'bytes':>9} {'wall s':>8} {'cpu s':>8}")
    for name, make in (("numbers, one a line", numbers_lines), ("mixed log text", mixed)):
        text = make(1_000_000)
        for json_output in (False, True):
            wall, cpu = min(measure_cli(text, json_output) for _ in range(args.repeat))
            print(f"{name:32} {'json' if json_output else 'human':>9} {len(text):>9} {wall:>8.3f} {cpu:>8.3f}")


if __name__ == "__main__":
    main()
