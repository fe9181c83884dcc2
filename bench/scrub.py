"""Secret scrubbing and safe rendering: linear in the text's length, even on text made to defeat it.

Figures: scrub() throughput on hostile texts at three sizes (each 4x the last: linear time means each time
is about 4x the last, quadratic 16x); the terminal console on the same; and two whole runs from issue 17,
`pta events --json` on an XML export with a 300 KB field (46 s before) and `proxy --json` on a machine.config
with a 15 MB proxyaddress (39 s before).

Run: .venv/bin/python bench/scrub.py   (prints one line per figure; no network)
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aadc_doctor.cli import main as cli_main
from aadc_doctor.render.terminal import make_console
from aadc_doctor.secrets import register_secret, scrub

REPO = Path(__file__).resolve().parents[1]
SIZES = (250_000, 1_000_000, 4_000_000)

# Each text defeated the scrubber of before (a pattern retried from every position of a long run) or tries to.
HOSTILE_UNITS = {
    "letters, then a URL": None,  # one long run of scheme letters before "://"
    "eyJ-eyJ-...": "eyJ-",
    "a://a://...": "a://",
    "a:b@a:b@...": "a:b@",
    "x=u:p@h:80;...": "x=u:p@h:8;",
    "Authorization: ...": "Authorization: Basic ",
    "registered secret, overlapping": "hunter2hunter",
}


def hostile(name: str, size: int) -> str:
    unit = HOSTILE_UNITS[name]
    if unit is None:
        return "a" * size + "://user:password@proxy/"
    return unit * (size // len(unit))


def seconds(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def scrub_figures() -> None:
    register_secret("hunter2hunter2", user="bob")
    for name in HOSTILE_UNITS:
        texts = [hostile(name, size) for size in SIZES]
        times = [seconds(lambda text=text: scrub(text)) for text in texts]
        growth = "  ".join(f"x{later / max(earlier, 1e-6):.1f}" for earlier, later in itertools.pairwise(times))
        shown = "  ".join(f"{size / 1e6:g} MB {t * 1000:,.0f} ms" for size, t in zip(SIZES, times, strict=True))
        print(f"scrub {name:32} {shown}   growth per 4x: {growth}")


def console_figures() -> None:
    for name in ("letters, then a URL", "a:b@a:b@..."):
        times = []
        for size in SIZES[:2]:
            sink = io.StringIO()
            console = make_console(sink, {"COLUMNS": "120"})
            text = hostile(name, size)
            times.append(seconds(lambda c=console, t=text: c.print(t)))
        print(f"terminal print {name:23} " + "  ".join(
            f"{size / 1e6:g} MB {t * 1000:,.0f} ms" for size, t in zip(SIZES, times, strict=False)))


def _tracegen():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("tracegen", REPO / "tests" / "fixtures" / "pta" / "tracegen.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(*args: str) -> tuple[int, float]:
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = cli_main(list(args), stdout=out, stderr=err, env={"NO_COLOR": "1", "COLUMNS": "120"})
    return code, time.perf_counter() - started


def whole_run_figures(folder: Path) -> None:
    tg = _tracegen()
    field = "a" * 300_000 + "://" + "eyJ-" * 1000
    export = folder / "export.xml"
    export.write_text(tg.events_document([tg.failed_logon(tg.T0, field, "0xc000006a", "0x0")]), encoding="utf-8")
    for mode in ("--json", None):
        code, elapsed = run_cli("pta", "events", str(export), *([mode] if mode else []))
        print(f"pta events {mode or '(human)':8} on an XML export with a 300 KB TargetUserName: {elapsed:.2f} s "
              f"(exit {code})")
    address = "bob:" + "p" * 15_000_000 + "@proxy.corp:8080"
    config = folder / "machine.config"
    config.write_text(f'<configuration><system.net><defaultProxy><proxy proxyaddress="{address}"/></defaultProxy>'
                      "</system.net></configuration>", encoding="utf-8")
    for mode in ("--json", None):
        code, elapsed = run_cli("proxy", "--machine-config", str(config), *([mode] if mode else []))
        print(f"proxy {mode or '(human)':8} on a machine.config with a 15 MB proxyaddress: {elapsed:.2f} s "
              f"(exit {code})")
    address = "proxy" + "a" * 15_000_000 + ":8080"
    config.write_text(f'<configuration><system.net><defaultProxy><proxy proxyaddress="http://{address}"/>'
                      "</defaultProxy></system.net></configuration>", encoding="utf-8")
    for mode in ("--json", None):
        code, elapsed = run_cli("proxy", "--machine-config", str(config), *([mode] if mode else []))
        print(f"proxy {mode or '(human)':8} on a machine.config with a 15 MB host name: {elapsed:.2f} s (exit {code})")


def main() -> None:
    scrub_figures()
    console_figures()
    with tempfile.TemporaryDirectory() as folder:
        whole_run_figures(Path(folder))


if __name__ == "__main__":
    main()
