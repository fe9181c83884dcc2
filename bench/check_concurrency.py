"""Benchmark: `check` probes endpoints concurrently, so a slow proxy costs one delay, not one per endpoint.

Setup (all on 127.0.0.1, in a separate process so the servers do not share this one's CPU): a TLS origin
answering for 20 host names (trustme certificate), and a CONNECT proxy that waits 300 ms before answering each
CONNECT, then tunnels. The same 20 endpoints are checked with the default concurrency and with
--concurrency 1 (one after another); "slowest single probe" is the longest probe of the sequential run.

Targets (issue 3): sequential / concurrent >= 10, and concurrent <= 2 x the slowest single probe.
Run: .venv/bin/python bench/check_concurrency.py [--endpoints 20] [--delay 0.3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

from aadc_doctor.cli import main


class Lab:
    """The delaying proxy and the TLS origin on one event loop (run by `--serve` in a child process)."""

    def __init__(self, hosts: list[str], delay: float, workdir: Path) -> None:
        self.delay = delay
        ca = trustme.CA(organization_name="bench CA")
        self.ca_file = workdir / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        leaf = ca.issue_cert(*hosts)
        pem = workdir / "server.pem"
        leaf.private_key_and_cert_chain_pem.write_to_path(str(pem))
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(str(pem))
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.origin_port = 0
        self.proxy_port = 0

    def serve_forever(self) -> None:
        """Start both servers, announce their ports on stdout (one JSON line), run until killed."""
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        print(json.dumps({"proxy_port": self.proxy_port, "origin_port": self.origin_port,
                          "ca_file": str(self.ca_file)}), flush=True)
        self.loop.run_forever()

    async def _start(self) -> None:
        origin = await asyncio.start_server(self._origin, "127.0.0.1", 0, ssl=self.server_ctx, backlog=512)
        proxy = await asyncio.start_server(self._proxy, "127.0.0.1", 0, backlog=512)
        self.origin_port = origin.sockets[0].getsockname()[1]
        self.proxy_port = proxy.sockets[0].getsockname()[1]

    async def _origin(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(self.delay)  # the slow proxy: every answer comes 300 ms late
            authority = head.split(b" ", 2)[1].decode()
            port = int(authority.rsplit(":", 1)[1])
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            writer.close()

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            dst.close()


@dataclass(frozen=True)
class LabAddress:
    proxy_port: int
    origin_port: int
    ca_file: str


def run_check(lab: LabAddress, hosts: list[str], concurrency: int | None) -> tuple[float, list[dict[str, Any]]]:
    args = ["check", "--json", "--proxy", f"http://127.0.0.1:{lab.proxy_port}", "--lab-microsoft-root", lab.ca_file]
    for host in hosts:
        args += ["--endpoint", f"https://{host}:{lab.origin_port}/"]
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    code = main(args, stdout=out, stderr=err, env={"NO_COLOR": "1"})
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"check failed (exit {code}): {err.getvalue()}{out.getvalue()[:2000]}")
    rows: list[dict[str, Any]] = json.loads(out.getvalue())["results"]["endpoints"]
    return wall, rows


def _hosts(count: int) -> list[str]:
    return [f"ep{i:02d}.login.microsoftonline.com" for i in range(1, count + 1)]


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", metavar="WORKDIR", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    hosts = _hosts(opts.endpoints)
    if opts.serve:
        Lab(hosts, opts.delay, Path(opts.serve)).serve_forever()
        return
    with tempfile.TemporaryDirectory(prefix="aadc-bench-") as tmp:
        server = subprocess.Popen([sys.executable, __file__, "--serve", tmp, "--endpoints", str(opts.endpoints),
                                   "--delay", str(opts.delay)], stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            lab = LabAddress(**json.loads(server.stdout.readline()))
            run_check(lab, hosts[:1], None)  # warm-up: imports, first TLS context
            concurrent, sequential, slowest = [], [], []
            for _ in range(opts.rounds):
                wall_c, _rows = run_check(lab, hosts, None)
                wall_s, rows_s = run_check(lab, hosts, 1)
                concurrent.append(wall_c)
                sequential.append(wall_s)
                slowest.append(max(r["elapsed_ms"] for r in rows_s) / 1000)
            args = [sys.executable, "-m", "aadc_doctor", "check", "--json", "--proxy",
                    f"http://127.0.0.1:{lab.proxy_port}", "--lab-microsoft-root", lab.ca_file]
            for host in hosts:
                args += ["--endpoint", f"https://{host}:{lab.origin_port}/"]
            start = time.perf_counter()
            proc = subprocess.run(args, capture_output=True, check=False)
            process_wall = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(timeout=10)
    conc, seq, slow = statistics.median(concurrent), statistics.median(sequential), statistics.median(slowest)
    print(f"endpoints: {opts.endpoints}, proxy delay per CONNECT answer: {opts.delay * 1000:.0f} ms, "
          f"median of {opts.rounds} rounds")
    print(f"sequential (--concurrency 1) wall: {seq:.3f} s")
    print(f"concurrent (default)        wall: {conc:.3f} s")
    print(f"slowest single probe:             {slow:.3f} s")
    print(f"speed-up sequential/concurrent:   {seq / conc:.1f}x   (target >= 10x)  "
          f"{'PASS' if seq / conc >= 10 else 'FAIL'}")
    print(f"concurrent / slowest probe:       {conc / slow:.2f}x  (target <= 2x)   "
          f"{'PASS' if conc / slow <= 2 else 'FAIL'}")
    print(f"whole `aadc-doctor check` process (interpreter start-up included): {process_wall:.3f} s, "
          f"exit {proc.returncode}")


if __name__ == "__main__":
    main_bench()
