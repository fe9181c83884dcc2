"""Benchmark: `aadc-doctor pta events --json` against the evtx package's own raw record iteration.

Copies the corpus .evtx files into a temporary folder until they hold at least 100 MB (default), then
prints records/s for (1) the raw iteration of the Rust-backed `evtx` package over the same files, with
its default threading and with one thread, and (2) the whole CLI (a subprocess, start-up and JSON
output included). Target: the CLI at least half the raw rate.

Usage: python bench/evtx.py [--mb 100] [--corpus ../shared/corpus/evtx]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# this script is called evtx.py: keep its own folder off the path so `import evtx` finds the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def make_copies(corpus: Path, target: Path, megabytes: int) -> list[Path]:
    sources = sorted(corpus.glob("*.evtx"))
    if not sources:
        raise SystemExit(f"no .evtx files in {corpus}")
    copies: list[Path] = []
    total = 0
    round_no = 0
    while total < megabytes * 1_000_000:
        for src in sources:
            dst = target / f"{round_no:03d}_{src.name}"
            shutil.copyfile(src, dst)
            copies.append(dst)
            total += dst.stat().st_size
        round_no += 1
    return copies


def raw_rate(files: list[Path], threads: int | None) -> tuple[int, float]:
    import evtx

    start = time.perf_counter()
    records = 0
    for path in files:
        parser = evtx.PyEvtxParser(str(path)) if threads is None else evtx.PyEvtxParser(str(path),
                                                                                        number_of_threads=threads)
        for _ in parser.records():
            records += 1
    return records, time.perf_counter() - start


def cli_rate(files: list[Path], jobs: int) -> tuple[int, float, int]:
    exe = Path(sys.executable).with_name("aadc-doctor")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "aadc_doctor"]
    start = time.perf_counter()
    done = subprocess.run([*command, "pta", "events", "--json", "--jobs", str(jobs), *map(str, files)],
                          capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"aadc-doctor failed ({done.returncode}): {done.stderr.decode(errors='replace')[:500]}")
    report = json.loads(done.stdout)
    records = sum(f["records"] for f in report["results"]["files"])
    return records, elapsed, len(done.stdout)


def in_process_rate(files: list[Path]) -> tuple[int, float]:
    """The same work without the interpreter's start-up: read, analyse, write the JSON report."""
    import io

    from aadc_doctor.cli import main as cli_main

    out = io.StringIO()
    start = time.perf_counter()
    code = cli_main(["pta", "events", "--json", "--jobs", "1", *map(str, files)], stdout=out, stderr=io.StringIO(),
                    env={})
    elapsed = time.perf_counter() - start
    if code not in (0, 1):
        raise SystemExit(f"aadc-doctor failed ({code})")
    return sum(f["records"] for f in json.loads(out.getvalue())["results"]["files"]), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="repeat the corpus to at least this many MB")
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "evtx")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is reported "
                        "(as timeit does: the others measured other load on the machine)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aadc-evtx-bench-") as tmp:
        files = make_copies(args.corpus, Path(tmp), args.mb)
        size = sum(f.stat().st_size for f in files)
        print(f"input: {len(files)} files, {size / 1e6:.1f} MB (corpus repeated); best of {args.repeat} runs")
        rates: dict[str, float] = {}
        for label, threads in (("default threads", None), ("1 thread", 1)):
            runs = [raw_rate(files, threads) for _ in range(args.repeat)]
            records, elapsed = min(runs, key=lambda r: r[1])
            rates[label] = records / elapsed
            print(f"evtx raw iteration ({label}): {records:,} records in {elapsed:.2f} s "
                  f"= {records / elapsed:,.0f} records/s")
        best_raw = max(rates.values())
        for jobs, label in ((1, "default, 1 process"), (2, f"--jobs 2, {os.cpu_count()} CPUs")):
            cli_runs = [cli_rate(files, jobs) for _ in range(args.repeat)]
            records, elapsed, out_bytes = min(cli_runs, key=lambda r: r[1])
            rate = records / elapsed
            print(f"aadc-doctor pta events --json ({label}): {records:,} records in {elapsed:.2f} s "
                  f"= {rate:,.0f} records/s (JSON {out_bytes / 1e6:.1f} MB, start-up included); "
                  f"ratio to the faster raw rate: {rate / best_raw:.2f} (target >= 0.50)")
        records, elapsed = min((in_process_rate(files) for _ in range(args.repeat)), key=lambda r: r[1])
        print(f"same, in-process (no interpreter start-up, 1 process): {records / elapsed:,.0f} records/s; "
              f"ratio {records / elapsed / best_raw:.2f}")
        if hasattr(os, "getloadavg"):
            print(f"load average while measuring: {os.getloadavg()[0]:.2f}")

if __name__ == "__main__":
    main()
