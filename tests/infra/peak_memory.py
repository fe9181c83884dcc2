"""Run a command and measure its peak memory, on Linux and on Windows (the hostile suites run in both lanes).

POSIX: a small fresh Python parent runs the command and reports ``RUSAGE_CHILDREN``'s ``ru_maxrss`` (KiB on
Linux, bytes on macOS). Not ``os.wait4`` on a child of the test process: Linux keeps a process's peak across
``exec``, so a child forked from a large pytest process reports pytest's size. Windows: the exited process's
handle still answers ``GetProcessMemoryInfo`` (``PeakWorkingSetSize``, bytes). Both report the resident peak,
the figure the issue measured (an endless body grew it to 15 GB).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MeasuredRun:
    code: int
    stdout: str
    stderr: str
    peak_kib: int
    seconds: float


# the fresh parent: its only child is the command, so RUSAGE_CHILDREN's peak is that run's own
_POSIX_PARENT = ("import json, resource, subprocess, sys; done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE); "
                 "print(json.dumps({'code': done.returncode, 'stdout': done.stdout.decode('utf-8', 'replace'), "
                 "'peak': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))")


def run_measuring_peak(argv: list[str], *, timeout: float, env: dict[str, str] | None = None) -> MeasuredRun:
    """Run ``argv`` to its end (killed after ``timeout`` seconds) and return its output and peak memory."""
    import json

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        if sys.platform == "win32":
            process = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise
            code, peak = process.returncode, _windows_peak_bytes(process) // 1024
        else:
            parent = subprocess.run([sys.executable, "-c", _POSIX_PARENT, *argv], stdout=subprocess.PIPE,
                                    stderr=err, env=env, timeout=timeout, check=True)
            measured = json.loads(parent.stdout)
            out.write(str(measured["stdout"]).encode())
            scale = 1 if sys.platform.startswith("linux") else 1024  # macOS reports bytes
            code, peak = int(measured["code"]), int(measured["peak"]) // scale
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return MeasuredRun(code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                           peak, seconds)


def _windows_peak_bytes(process: subprocess.Popen[bytes]) -> int:
    import ctypes
    from ctypes import wintypes

    class Counters(ctypes.Structure):
        _fields_ = [("cb", wintypes.DWORD), ("PageFaultCount", wintypes.DWORD),
                    ("PeakWorkingSetSize", ctypes.c_size_t), ("WorkingSetSize", ctypes.c_size_t),
                    ("QuotaPeakPagedPoolUsage", ctypes.c_size_t), ("QuotaPagedPoolUsage", ctypes.c_size_t),
                    ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t), ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
                    ("PagefileUsage", ctypes.c_size_t), ("PeakPagefileUsage", ctypes.c_size_t)]

    counters = Counters()
    counters.cb = ctypes.sizeof(Counters)
    handle: Any = process._handle  # type: ignore[attr-defined]  # Popen keeps the process handle open
    psapi: Any = ctypes.WinDLL("psapi")  # type: ignore[attr-defined]
    if not psapi.GetProcessMemoryInfo(wintypes.HANDLE(int(handle)), ctypes.byref(counters), counters.cb):
        raise OSError("GetProcessMemoryInfo failed")
    return int(counters.PeakWorkingSetSize)
