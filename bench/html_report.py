"""Benchmark the HTML report on big inputs: it must stay bounded (top N with counts) and quick to write.

Generates a 100,000-line Squid access.log (5,000 distinct Microsoft host names, 3,000 clients, denials spread over
30 days) and a PTA trace with 100,000 failed sign-ins over 90 days, runs `proxylog` and `pta trace` in-process
(as the CLI does), then times the JSON report and the HTML report of the same results and prints their sizes.

Usage: .venv/bin/python bench/html_report.py [--lines 100000] [--failures 100000]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def squid_log(path: Path, lines: int) -> None:
    rng = random.Random(7)
    start = 1_767_225_600.0  # 2026-01-01
    with path.open("w") as out:
        for i in range(lines):
            at = start + i * (30 * 86400 / lines)
            host = f"t{rng.randrange(5000)}.microsoftonline.com"
            client = f"10.{rng.randrange(12)}.{rng.randrange(250)}.{rng.randrange(1, 250)}"
            status, tag = (("403", "TCP_DENIED") if rng.random() < 0.3 else ("407", "TCP_DENIED")
                           if rng.random() < 0.1 else ("200", "TCP_TUNNEL"))
            out.write(f"{at:.3f} {rng.randrange(5, 900)} {client} {tag}/{status} 3900 CONNECT {host}:443 - "
                      "HIER_NONE/- -\n")


def pta_trace(path: Path, failures: int) -> None:
    from tests.fixtures.pta import tracegen

    rng = random.Random(11)
    reasons = (1326, 1326, 1326, 1317, 1328, 1330, 1331, 1793, 1909, 1327, 1311, 1355, 1312)
    with path.open("w") as out:
        for i in range(failures):
            when = tracegen.T0 + timedelta(seconds=i * (90 * 86400 / failures))
            out.write(tracegen.failure_entry(tracegen.CURRENT_EXE, tracegen.request_id(i), rng.choice(reasons), when))


def measure(argv: list[str]) -> tuple[float, float, int, float, int]:
    """(analysis s, JSON s, JSON bytes, HTML s, HTML bytes) for one command line."""
    from aadc_doctor.commands import RunContext
    from aadc_doctor.pipeline import run_argv
    from aadc_doctor.render.html import report_to_html
    from aadc_doctor.render.json_report import report_to_json

    ctx = RunContext(json_mode=True, stdout=io.StringIO(), stderr=io.StringIO(), env={})
    began = time.perf_counter()
    report = run_argv(argv, ctx).report
    analysed = time.perf_counter()
    json_text = report_to_json(report)
    json_done = time.perf_counter()
    html_text = report_to_html(report, exit_code=1)
    html_done = time.perf_counter()
    return (analysed - began, json_done - analysed, len(json_text.encode()), html_done - json_done,
            len(html_text.encode()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--failures", type=int, default=100_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aadc-html-bench-") as tmp:
        log, trace = Path(tmp) / "access.log", Path(tmp) / "trace.log"
        squid_log(log, options.lines)
        pta_trace(trace, options.failures)
        for label, argv in ((f"proxylog, {options.lines:,} lines", ["proxylog", str(log)]),
                            (f"pta trace, {options.failures:,} failures", ["pta", "trace", str(trace)])):
            analysis, json_s, json_bytes, html_s, html_bytes = measure(argv)
            print(f"{label}: analysis {analysis:.2f} s; JSON report {json_s * 1000:.0f} ms, {json_bytes / 1e6:.2f} MB; "
                  f"HTML report {html_s * 1000:.0f} ms, {html_bytes / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
