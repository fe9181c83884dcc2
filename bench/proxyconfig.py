"""Proxy-source figures: machine.config parse time, proxy_for rate per source, XML-bomb refusal time, and the
cost of running PAC scripts in a worker process (start-up, per-lookup latency, against pypac in-process).

Run: .venv/bin/python bench/proxyconfig.py   (prints one line per figure; no network)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from aadc_doctor.errors import InputError
from aadc_doctor.proxyconfig.dotnet_config import parse_config_bytes
from aadc_doctor.proxyconfig.environment import environment_proxy
from aadc_doctor.proxyconfig.machine_config import machine_config_proxy, read_machine_config
from aadc_doctor.proxyconfig.model import ProxyConfig
from aadc_doctor.proxyconfig.pac import load_pac, parse_pac

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
URLS = [f"https://host{i}.microsoftonline.com/path" for i in range(200)] + [
    f"https://app{i}.fabrikam.local/" for i in range(200)]


def per_second(label: str, fn: Callable[[], object], n: int) -> None:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    elapsed = time.perf_counter() - started
    print(f"{label}: {n / elapsed:,.0f}/s ({elapsed / n * 1e6:,.1f} us each)")


def main() -> None:
    valid = FIXTURES / "machine_config" / "valid.config"
    size_kb = valid.stat().st_size / 1024
    per_second(f"parse machine.config (valid fixture, {size_kb:.1f} KB)", lambda: read_machine_config(valid), 2000)

    big = valid.read_bytes().replace(b"<runtime/>", b"<runtime>" + b"<x a='1'/>" * 40000 + b"</runtime>")
    started = time.perf_counter()
    parse_config_bytes(big, "big.config")
    print(f"parse a {len(big) / 1024:,.0f} KB machine.config: {(time.perf_counter() - started) * 1000:,.1f} ms")

    bomb = (FIXTURES / "machine_config" / "billion-laughs.config").read_bytes()
    started = time.perf_counter()
    with contextlib.suppress(InputError):
        parse_config_bytes(bomb, "bomb.config")
    print(f"refuse the billion-laughs file: {(time.perf_counter() - started) * 1000:,.2f} ms")

    dotnet = machine_config_proxy(read_machine_config(FIXTURES / "machine_config" / "bypass-list.config"))
    env = environment_proxy({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": ".fabrikam.local,10.0.0.0/8,localhost"})
    pac = ProxyConfig(source="pac", pac=load_pac(str(FIXTURES / "pac" / "corporate.pac")))
    assert env is not None
    for label, cfg in (("machine.config bypass regexes", dotnet), ("NO_PROXY", env), ("PAC (worker process)", pac)):
        it = iter(URLS * 100)
        per_second(f"proxy_for via {label}", lambda c=cfg, i=it: c.proxy_for(next(i)), 4000)

    pac_worker_figures()


def pac_worker_figures() -> None:
    """What moving PAC evaluation into a child process costs, with pypac in-process as the baseline."""
    text = (FIXTURES / "pac" / "corporate.pac").read_text()
    starts = []
    for _ in range(10):
        started = time.perf_counter()
        script = parse_pac(text, "corporate.pac")
        starts.append(time.perf_counter() - started)
        script.close()
    starts.sort()
    print(f"PAC worker start + load (10 runs): median {starts[5] * 1000:,.0f} ms, max {starts[-1] * 1000:,.0f} ms")

    script = parse_pac(text, "corporate.pac")
    latencies = []
    for url in URLS:
        started = time.perf_counter()
        script.proxy_for(url)
        latencies.append(time.perf_counter() - started)
    script.close()
    latencies.sort()
    print(f"PAC lookup in the worker ({len(URLS)} URLs): median {latencies[len(URLS) // 2] * 1e6:,.0f} us, "
          f"p99 {latencies[int(len(URLS) * 0.99)] * 1e6:,.0f} us")

    started = time.perf_counter()
    from pypac.parser import PACFile  # the baseline: what pac.py did before (in-process, unkillable)

    engine = PACFile(text)
    print(f"baseline, pypac in-process: import + load {(time.perf_counter() - started) * 1000:,.0f} ms")
    started = time.perf_counter()
    for url in URLS:
        engine.find_proxy_for_url(url, url.split("/")[2])
    print(f"baseline, pypac in-process lookup: {(time.perf_counter() - started) / len(URLS) * 1e6:,.0f} us each")


if __name__ == "__main__":
    main()
