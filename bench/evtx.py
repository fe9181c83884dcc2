"""Benchmark: `aadc-doctor pta events --json` against the evtx package's own raw record iteration.

Copies the corpus .evtx files into a temporary folder until they hold at least 100 MB (default), then
prints records/s for (1) the raw iteration of the Rust-backed `evtx` package over the same files, with
its default threading and with one thread, and (2) the whole CLI (a subprocess, start-up and JSON
output included) as a user runs it (every CPU) and with --jobs 1 (one process). Target: the CLI at least
half the raw rate. Then the CLI's peak RSS (POSIX only), also with services.exe taken as the PTA agent, which
makes the corpus's thousands of successful 4624s the agent's: the figure must not grow with them (they are
counted, not kept).

Usage: python bench/evtx.py [--mb 100] [--corpus corpus/evtx]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
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


def make_one_log(corpus: Path, target: Path, megabytes: int) -> Path:
    """One large Security-style log, as an admin exports it: the corpus files' chunks, repeated, in one file.

    Each 64 KiB chunk carries its own templates and strings, so chunks from several logs make a valid
    file once the header counts them (and its checksum is fixed).
    """
    chunks: list[bytes] = []
    for src in sorted(corpus.glob("*.evtx")):
        data = src.read_bytes()
        chunks += [data[at:at + 65536] for at in range(4096, len(data) - 65535, 65536)
                   if data.startswith(b"ElfChnk\x00", at)]  # used chunks only, as an export holds
    header = bytearray(sorted(corpus.glob("*.evtx"))[0].read_bytes()[:4096])
    body: list[bytes] = []
    while sum(map(len, body)) < megabytes * 1_000_000:
        body += chunks
    struct.pack_into("<H", header, 42, len(body))  # chunk count
    struct.pack_into("<I", header, 120, 0)  # flags: clean, as an exported log is
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    path = target / "Security.evtx"
    path.write_bytes(bytes(header) + b"".join(body))
    return path


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
    """One process's work without the interpreter's start-up: read, analyse, write the JSON report (--jobs 1:
    this benchmark process has the evtx package's thread pool running, so it would not fork helpers)."""
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
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus" / "evtx")
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
        variants = ("raw, default threads", "raw, 1 thread", "cli", "cli --jobs 1", "in-process --jobs 1")
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
            times["in-process --jobs 1"].append(in_process_rate(files)[1])
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
        from aadc_doctor.logs.pta_event_logs import default_processes

        print(f"records: {records:,}; JSON report {out_bytes / 1e6:.2f} MB; cli = `aadc-doctor pta events --json` "
              f"as a subprocess (start-up included; by default it read with {default_processes(size)} processes "
              "here); target: cli ratio >= 0.50")
        # one process holds everything the run keeps; with helpers, each is a fork of about the same size
        for label, extra in (("cli --jobs 1", ["--jobs", "1"]),
                             ("cli --jobs 1, services.exe as the agent", ["--jobs", "1", "--process", SERVICES]),
                             ("cli (main process)", [])):
            peak = peak_rss_mb(files, extra)
            if peak is not None:
                print(f"peak RSS {label}: {peak[0]:.1f} MB ({peak[1]:,} successful sign-ins counted)")
        one = make_one_log(args.corpus, Path(tmp), args.mb)
        raw_one: list[float] = []
        cli_one: list[float] = []
        for _ in range(args.repeat):
            one_records, elapsed = raw_rate([one], None)
            raw_one.append(elapsed)
            cli_records, elapsed, _ = cli_rate([one], None)
            assert cli_records == one_records, (cli_records, one_records)
            cli_one.append(elapsed)
        print(f"one {one.stat().st_size / 1e6:.1f} MB log ({one_records:,} records): raw best "
              f"{one_records / min(raw_one):,.0f} records/s, cli best {one_records / min(cli_one):,.0f} records/s; "
              f"ratio to raw: best {min(raw_one) / min(cli_one):.2f}, "
              f"median {statistics.median(raw_one) / statistics.median(cli_one):.2f}")
        if hasattr(os, "getloadavg"):
            print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
