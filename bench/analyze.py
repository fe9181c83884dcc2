"""Benchmark: `aadc-doctor analyze` on a server-layout folder against the separate commands on the same files.

Builds a folder laid out as a server's drive: at least 100 MB of .evtx (copies of the corpus logs, named as archives
of the Security log) under Windows/System32/winevt/Logs and at least 50 MB of PTA agent traces (generated in the
agent's TraceSource layout) under ProgramData/.../Trace. Then times, as a user runs them (subprocesses, start-up and
JSON output included, best of --repeat runs): `pta events FOLDER`, `pta trace FOLDER`, and `analyze ROOT`.
Target: analyze <= 1.2 x (pta events + pta trace), in wall time; CPU time (POSIX) is printed too, the steadier
figure when other work shares the CPUs.

Usage: python bench/analyze.py [--evtx-mb 100] [--trace-mb 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXE = "AzureADConnectAuthenticationAgentService.exe"


def make_evtx(target: Path, megabytes: int) -> int:
    """Copies named as Windows names the archives of the Security log (analyze reads, in the event-log folder, only
    the logs of the channels collect exports)."""
    sources = sorted((REPO / "corpus" / "evtx").glob("*.evtx"))
    target.mkdir(parents=True, exist_ok=True)
    total, n = 0, 0
    archived = datetime(2026, 11, 1, tzinfo=UTC)
    while total < megabytes * 1_048_576:
        source = sources[n % len(sources)]
        stamp = (archived + timedelta(minutes=n)).strftime("%Y-%m-%d-%H-%M-%S") + f"-{n % 1000:03d}"
        copy = target / f"Archive-Security-{stamp}.evtx"
        shutil.copyfile(source, copy)
        total += copy.stat().st_size
        n += 1
    return total


def make_traces(target: Path, megabytes: int) -> int:
    """Rotated trace files of ~10 MB: mostly informational entries, a failed sign-in every 50 entries."""
    target.mkdir(parents=True, exist_ok=True)
    t = datetime(2026, 11, 1, tzinfo=UTC)
    total, file_no, entry = 0, 0, 0
    while total < megabytes * 1_048_576:
        parts: list[str] = []
        size = 0
        while size < 10 * 1_048_576:
            t += timedelta(seconds=2)
            stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
            if entry % 50 == 0:
                text = (f"{EXE} Error: 0 : Passthrough Authentication request failed. RequestId: "
                        f"'{entry:08x}-68b9-44ae-8d81-6ad2d844d84e'. Reason: '{(1326, 1328, 1317)[entry % 3]}'.\n")
            else:
                text = f"{EXE} Information: 0 : Passthrough Authentication request succeeded for request {entry}.\n"
            text += f"    ThreadId={entry % 17}\n    DateTime={stamp}\n"
            parts.append(text)
            size += len(text)
            entry += 1
        path = target / f"AzureADConnectAuthenticationAgent_{file_no:03d}.log"
        path.write_text("".join(parts), encoding="utf-8")
        total += path.stat().st_size
        file_no += 1
    return total


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far, helpers included; 0 where unknown."""
    try:
        import resource
    except ImportError:  # Windows: wall time only
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(args: list[str]) -> tuple[float, float]:
    cpu = children_cpu()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "aadc_doctor", *args, "--json"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed, children_cpu() - cpu


def best_times(commands: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, float]]:
    """Best wall time and best CPU time of ``repeat`` runs each, the commands taking turns (on a shared machine, a
    burst of load then hits every command alike instead of one command's whole series)."""
    best = dict.fromkeys(commands, (float("inf"), float("inf")))
    for _ in range(repeat):
        for name, args in commands.items():
            wall, cpu = run_once(args)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evtx-mb", type=int, default=100)
    parser.add_argument("--trace-mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aadc-bench-analyze-") as tmp:
        root = Path(tmp) / "server"
        logs = root / "Windows" / "System32" / "winevt" / "Logs"
        trace = root / "ProgramData" / "Microsoft" / "Azure AD Connect Authentication Agent" / "Trace"
        evtx_bytes = make_evtx(logs, options.evtx_mb)
        trace_bytes = make_traces(trace, options.trace_mb)
        print(f"inputs: {evtx_bytes / 1_048_576:.1f} MB of .evtx in {len(list(logs.iterdir()))} files, "
              f"{trace_bytes / 1_048_576:.1f} MB of traces in {len(list(trace.iterdir()))} files")
        best = best_times({"events": ["pta", "events", str(logs)], "trace": ["pta", "trace", str(trace)],
                           "analyze": ["analyze", str(root)]}, options.repeat)
    for index, unit in ((0, "wall"), (1, "CPU")):
        events, traces, analyze = best["events"][index], best["trace"][index], best["analyze"][index]
        separate = events + traces
        if separate <= 0:
            continue
        print(f"{unit:>4}: pta events {events:.2f} s + pta trace {traces:.2f} s = {separate:.2f} s; "
              f"analyze {analyze:.2f} s; ratio {analyze / separate:.2f} (target <= 1.20, best of {options.repeat})")
    print("CPU time (user + system of the command and its helpers) is the steadier figure on a shared machine")


if __name__ == "__main__":
    main()
