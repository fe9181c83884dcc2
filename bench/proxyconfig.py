"""Proxy-source figures: machine.config parse time, proxy_for rate per source, XML-bomb refusal time.

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
from aadc_doctor.proxyconfig.pac import load_pac

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
    for label, cfg in (("machine.config bypass regexes", dotnet), ("NO_PROXY", env), ("PAC (pypac/dukpy)", pac)):
        it = iter(URLS * 100)
        per_second(f"proxy_for via {label}", lambda c=cfg, i=it: c.proxy_for(next(i)), 4000)


if __name__ == "__main__":
    main()
