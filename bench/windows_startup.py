"""Start-up of the Windows release under Wine: `aadc-doctor.cmd helpmsg 1328`, median of 11 runs.

Measured under Wine on Linux, not on Windows: Wine's own process start-up is part of every figure, so the
bare interpreter (`python.exe -c pass`) and cmd.exe alone are timed too. Needs the zip
(`bash scripts/build-windows.sh`), wine64 and mingw. Usage: .venv/bin/python bench/windows_startup.py [RUNS]
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.infra.wine import WindowsRelease, wine_prefix  # noqa: E402


def timed(action: object, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = action() if callable(action) else None
        samples.append(time.perf_counter() - started)
        assert getattr(result, "code", 0) == 0, result
    return samples


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    text = (ROOT / "src" / "aadc_doctor" / "__init__.py").read_text(encoding="utf-8")
    version = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE).group(1)  # type: ignore[union-attr]
    archive = ROOT / "dist" / f"aadc-doctor-{version}-win-amd64.zip"
    if not archive.is_file():
        print(f"missing {archive}: run bash scripts/build-windows.sh", file=sys.stderr)
        return 2
    print(f"zip: {archive.name} {archive.stat().st_size / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory() as tmp, wine_prefix(Path(tmp) / "prefix") as prefix:
        release = WindowsRelease(prefix, archive, prefix.drive_c / "Program Files" / "aadc doctor").unpack()
        release.cli("helpmsg", "1328")  # first run writes __pycache__, as an admin's first run does
        figures = {
            "cmd /c exit (Wine + cmd.exe alone)": timed(lambda: prefix.run_batch(["rem"]), runs),
            "python.exe -c pass (Wine + interpreter)": timed(lambda: prefix.run(release.python_argv("-c", "pass")),
                                                             runs),
            "python.exe -m aadc_doctor helpmsg 1328": timed(lambda: release.module("helpmsg", "1328"), runs),
            "aadc-doctor.cmd helpmsg 1328": timed(lambda: release.cli("helpmsg", "1328"), runs),
        }
    medians = {name: statistics.median(samples) for name, samples in figures.items()}
    for name, samples in figures.items():
        print(f"{name}: median {statistics.median(samples):.2f} s (min {min(samples):.2f}, max {max(samples):.2f},"
              f" {runs} runs)")
    tool = medians["python.exe -m aadc_doctor helpmsg 1328"] - medians["python.exe -c pass (Wine + interpreter)"]
    print(f"the tool's own start-up (helpmsg minus the bare interpreter, both under Wine): {tool:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
