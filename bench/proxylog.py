"""Benchmark `aadc-doctor proxylog --json` on a generated 2-million-line Squid access.log, against `grep -c`.

Prints lines/s end to end (a fresh process, as an admin runs it; also per CPU second, the figure that holds on a
machine other work slows down; the CPU time includes the reading helper process), the same with ``--jobs 1``
(one process, for comparison), `grep -c TCP_DENIED` on the same file, their
ratio, the peak memory (max RSS) of the run, and the same for a file four times larger (the 2M file concatenated
four times) to show memory does not grow with the file. Also a plain Python ``str.split()`` loop for scale.

Usage: .venv/bin/python bench/proxylog.py [--lines 2000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AADC_SERVER = "10.0.5.20"
AADC_SEQUENCE = (
    "login.microsoftonline.com", "adminwebservice.microsoftonline.com", "bn1bba800-anchor.microsoftonline.com",
    "login.microsoftonline.com", "provisioningapi.microsoftonline.com", "bn1bwsc02-relay.microsoftonline.com",
    "login.windows.net", "adminwebservice.microsoftonline.com", "bn1bba900-anchor.microsoftonline.com",
)
BROWSER_AZURE = ("login.microsoftonline.com", "aadcdn.msauth.net", "aadcdn.msftauth.net", "graph.windows.net",
                 "contoso.blob.core.windows.net", "www.office.com", "dc.services.visualstudio.com",
                 "outlook.office365.com", "www.microsoft.com", "ocsp.digicert.com")


def generate(path: Path, lines: int, seed: int = 7) -> None:
    """A busy site's mix: thousands of clients and hosts, tunnels, cache hits, 403 and 407, ~3% Azure AD."""
    rng = random.Random(seed)
    clients = [f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}" for _ in range(5000)]
    words = ["news", "shop", "video", "cdn", "static", "api", "mail", "docs", "img", "ads", "track", "cloud"]
    tlds = ["com", "net", "org", "de", "io", "co.uk"]
    hosts = [f"{rng.choice(['www', 'cdn', 'api', 'static', 'img'])}.{rng.choice(words)}{i}.{rng.choice(tlds)}"
             for i in range(4000)]
    users = ["-"] * 6 + ["alice", "bob", "CONTOSO\\svc-web"]
    types = ["text/html", "application/json", "image/png", "text/css", "application/javascript"]
    out: list[str] = []
    t = 1_700_000_000.0
    aadc_step = 0
    with path.open("w", encoding="ascii", newline="\n") as fh:
        for _ in range(lines):
            t += 0.0005
            r = rng.random()
            client = rng.choice(clients)
            elapsed = rng.randint(0, 60000)
            if r < 0.004:  # the Azure AD Connect server: its sequence, some denials and 407 runs
                host = AADC_SEQUENCE[aadc_step % len(AADC_SEQUENCE)]
                aadc_step += 1
                code = rng.choices(["TCP_TUNNEL/200", "TCP_DENIED/403", "TCP_DENIED/407"], [90, 5, 5])[0]
                out.append(f"{t:.3f} {elapsed:6d} {AADC_SERVER} {code} {rng.randint(300, 90000)} CONNECT {host}:443 "
                           f"- HIER_DIRECT/20.190.151.{rng.randint(1, 254)} -\n")
            elif r < 0.03:  # browsers and agents reaching Microsoft endpoints
                host = rng.choice(BROWSER_AZURE)
                code = rng.choices(["TCP_TUNNEL/200", "TCP_DENIED/407", "TCP_DENIED/403"], [85, 12, 3])[0]
                out.append(f"{t:.3f} {elapsed:6d} {client} {code} {rng.randint(300, 90000)} CONNECT {host}:443 "
                           f"{rng.choice(users)} HIER_DIRECT/40.126.{rng.randint(0, 63)}.{rng.randint(1, 254)} -\n")
            elif r < 0.60:  # tunnels
                code = rng.choices(["TCP_TUNNEL/200", "TCP_DENIED/407", "TCP_DENIED/403", "NONE_NONE/503"],
                                   [88, 7, 4, 1])[0]
                out.append(f"{t:.3f} {elapsed:6d} {client} {code} {rng.randint(0, 500000)} CONNECT "
                           f"{rng.choice(hosts)}:443 {rng.choice(users)} HIER_DIRECT/93.184.{rng.randint(0, 255)}."
                           f"{rng.randint(1, 254)} -\n")
            else:  # plain HTTP through the cache
                code = rng.choices(["TCP_MISS/200", "TCP_HIT/200", "TCP_MEM_HIT/200", "TCP_REFRESH_MODIFIED/304",
                                    "TCP_MISS/404", "TCP_DENIED/403"], [50, 20, 10, 10, 5, 5])[0]
                host = rng.choice(hosts)
                out.append(f"{t:.3f} {rng.randint(0, 3000):6d} {client} {code} {rng.randint(0, 200000)} GET "
                           f"http://{host}/{rng.choice(words)}/{rng.randint(0, 10**6)}.html {rng.choice(users)} "
                           f"HIER_DIRECT/93.184.{rng.randint(0, 255)}.{rng.randint(1, 254)} {rng.choice(types)}\n")
            if len(out) >= 20000:
                fh.write("".join(out))
                out.clear()
        fh.write("".join(out))


def run_measured(argv: list[str]) -> tuple[float, float, bytes, float]:
    """(seconds, peak RSS in MB, stdout, CPU seconds) of one child process (wait4: the child's own usage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} exited {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime


def best_of(n: int, argv: list[str]) -> tuple[float, float, bytes, float]:
    runs = [run_measured(argv) for _ in range(n)]
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2], min(r[3] for r in runs)


def split_loop(path: Path) -> float:
    start = time.perf_counter()
    denied = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) > 6 and fields[3].startswith("TCP_DENIED"):
                denied += 1
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--keep", metavar="DIR", help="write the generated logs here and keep them (reused if there)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best time, highest memory)")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="aadc-proxylog-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    doctor = str(Path(sys.executable).with_name("aadc-doctor"))
    grep = shutil.which("grep")
    if grep is None:
        raise SystemExit("grep is needed for the comparison")
    try:
        log = work / f"access-{args.lines}.log"
        t0 = time.perf_counter()
        if not log.exists():
            generate(log, args.lines)
        size = log.stat().st_size
        print(f"{args.lines:,} lines ({size / 1e6:.0f} MB) ready in {time.perf_counter() - t0:.1f} s: {log}")
        big = work / f"access-{args.lines}-x4.log"
        with big.open("wb") as out:
            for _ in range(4):
                with log.open("rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        for path in (log, big):  # warm the page cache so both tools read from memory
            with path.open("rb") as fh:
                while fh.read(16 << 20):
                    pass

        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            print("note: PYTHONDONTWRITEBYTECODE is set: each run compiles the modules that have no .pyc yet "
                  "(an installed tool has them; python -m compileall src makes them)")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
              "(other work on the machine slows every figure below)")
        doc_s, doc_mb, doc_out, doc_cpu = best_of(args.repeat, [doctor, "proxylog", "--json", str(log)])
        one_s, one_mb, _, one_cpu = best_of(args.repeat, [doctor, "proxylog", "--json", "--jobs", "1", str(log)])
        grep_s, _, grep_out, grep_cpu = best_of(args.repeat, [grep, "-c", "TCP_DENIED", str(log)])
        big_s, big_mb, _, big_cpu = best_of(max(1, args.repeat - 1), [doctor, "proxylog", "--json", str(big)])
        loop_s = split_loop(log)
        import json

        report = json.loads(doc_out)
        lines = report["results"]["lines"]
        assert lines == args.lines, (lines, args.lines)
        doc_rate, grep_rate = args.lines / doc_s, args.lines / grep_s
        print(f"aadc-doctor proxylog --json: {doc_s:.2f} s = {doc_rate / 1e6:.2f} M lines/s "
              f"({size / doc_s / 1e6:.0f} MB/s; CPU {doc_cpu:.2f} s = {args.lines / doc_cpu / 1e6:.2f} M lines per "
              f"CPU second), peak RSS {doc_mb:.0f} MB; "
              f"{report['results']['line_counts']['records']:,} lines parsed in full")
        print(f"  the same with --jobs 1:    {one_s:.2f} s = {args.lines / one_s / 1e6:.2f} M lines/s "
              f"(CPU {one_cpu:.2f} s = {args.lines / one_cpu / 1e6:.2f} M lines per CPU second), "
              f"peak RSS {one_mb:.0f} MB")
        print(f"grep -c TCP_DENIED:          {grep_s:.2f} s = {grep_rate / 1e6:.2f} M lines/s "
              f"(CPU {grep_cpu:.2f} s; count {int(grep_out)})")
        print(f"ratio (grep / aadc-doctor):  {grep_rate / doc_rate:.1f}x  (aadc-doctor at "
              f"{doc_rate / grep_rate:.0%} of grep's rate)")
        print(f"4x file ({4 * args.lines:,} lines): {big_s:.2f} s = {4 * args.lines / big_s / 1e6:.2f} M lines/s "
              f"(CPU {big_cpu:.2f} s = {4 * args.lines / big_cpu / 1e6:.2f} M lines per CPU second), peak RSS "
              f"{big_mb:.0f} MB (vs {doc_mb:.0f} MB)")
        print(f"plain Python str.split() loop: {loop_s:.2f} s = {args.lines / loop_s / 1e6:.2f} M lines/s")
        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average after: "
              f"{os.getloadavg()[0]:.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
