"""Benchmark: `aadc-doctor pta events --json` against the evtx package's own raw record iteration.

Copies the corpus .evtx files into a temporary folder until they hold at least 100 MB (default), then
prints records/s for (1) the raw iteration of the Rust-backed `evtx` package over the same files, with
its default threading and with one thread, and (2) the whole CLI (a subprocess, start-up and JSON
output included). Target: the CLI at least half the raw rate. Then the CLI's peak RSS (POSIX only), also with
services.exe taken as the PTA agent, which makes the corpus's thousands of successful 4624s the agent's: the
figure must not grow with them (they are counted, not kept).

Usage: python bench/evtx.py [--mb 100] [--corpus ../shared/corpus/evtx]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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


def _cli_command() -> list[str]:
    exe = Path(sys.executable).with_name("aadc-doctor")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "aadc_doctor"]


def warm_up(files: list[Path]) -> None:
    """One untimed run that may write bytecode caches, as an installed package has them.

    With PYTHONDONTWRITEBYTECODE set (as in some dev shells) every edited module would otherwise be
    compiled from source on each timed run, which no installed copy does.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([*_cli_command(), "pta", "events", "--json", *map(str, files[:3])], capture_output=True,
                   check=False, env=env)


def cli_rate(files: list[Path], jobs: int | None) -> tuple[int, float, int]:
    """The whole CLI as a user runs it; ``jobs`` None: its default (every CPU for large inputs)."""
    option = [] if jobs is None else ["--jobs", str(jobs)]
    start = time.perf_counter()
    done = subprocess.run([*_cli_command(), "pta", "events", "--json", *option, *map(str, files)],
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
    code = cli_main(["pta", "events", "--json", *map(str, files)], stdout=out, stderr=io.StringIO(), env={})
    elapsed = time.perf_counter() - start
    if code not in (0, 1):
        raise SystemExit(f"aadc-doctor failed ({code})")
    return sum(f["records"] for f in json.loads(out.getvalue())["results"]["files"]), elapsed


SERVICES = r"C:\Windows\System32\services.exe"


def peak_rss_mb(files: list[Path], extra: list[str]) -> tuple[float, int] | None:
    """Peak RSS of one `pta events --json` run, and the successes it counted; None where os.wait4 is missing."""
    if not hasattr(os, "wait4"):
        return None
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([*_cli_command(), "pta", "events", "--json", *extra, *map(str, files)], stdout=out,
                                stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        if proc.returncode not in (0, 1):
            raise SystemExit(f"aadc-doctor failed ({proc.returncode})")
        out.seek(0)
        successes = json.load(out)["results"]["summary"]["succeeded_by_agent"]
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return usage.ru_maxrss / scale, successes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="repeat the corpus to at least this many MB")
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "evtx")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; best and median are "
                        "reported (the best, as timeit does: slower runs measured other load on the machine)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aadc-evtx-bench-") as tmp:
        files = make_copies(args.corpus, Path(tmp), args.mb)
        size = sum(f.stat().st_size for f in files)
        print(f"input: {len(files)} files, {size / 1e6:.1f} MB (corpus repeated); {args.repeat} rounds, "
              "each measuring every variant once (interleaved, so load changes hit all of them)")
        if hasattr(os, "getloadavg"):
            print(f"load average before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
        warm_up(files)
        variants = ("raw, default threads", "raw, 1 thread", "cli", "cli --jobs 1", "in-process")
        times: dict[str, list[float]] = {v: [] for v in variants}
        records = 0
        for _ in range(args.repeat):
            records, elapsed = raw_rate(files, None)
            times["raw, default threads"].append(elapsed)
            times["raw, 1 thread"].append(raw_rate(files, 1)[1])
            cli_records, elapsed, out_bytes = cli_rate(files, None)
            assert cli_records == records, (cli_records, records)
            times["cli"].append(elapsed)
            times["cli --jobs 1"].append(cli_rate(files, 1)[1])
            times["in-process"].append(in_process_rate(files)[1])
        best = {v: min(t) for v, t in times.items()}
        median = {v: statistics.median(t) for v, t in times.items()}
        raw_best = min(best["raw, default threads"], best["raw, 1 thread"])
        raw_median = min(median["raw, default threads"], median["raw, 1 thread"])
        for v in variants:
            line = (f"{v:22s} best {records / best[v]:>9,.0f} records/s ({best[v]:.2f} s), "
                    f"median {records / median[v]:>9,.0f} records/s ({median[v]:.2f} s)")
            if not v.startswith("raw"):
                line += f"; ratio to raw: best {raw_best / best[v]:.2f}, median {raw_median / median[v]:.2f}"
            print(line)
        from aadc_doctor.commands.pta_event_logs import default_processes

        print(f"records: {records:,}; JSON report {out_bytes / 1e6:.2f} MB; cli = `aadc-doctor pta events --json` "
              f"as a subprocess (start-up included; by default it read with {default_processes(size)} processes "
              "here); target: cli ratio >= 0.50")
        for label, extra in (("cli", []), ("cli, services.exe as the agent", ["--process", SERVICES])):
            peak = peak_rss_mb(files, extra)
            if peak is not None:
                print(f"peak RSS {label}: {peak[0]:.1f} MB ({peak[1]:,} successful sign-ins counted)")
        if hasattr(os, "getloadavg"):
            print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
