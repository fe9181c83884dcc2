"""Run a command and measure its peak memory, on Linux and on Windows (the hostile suites run in both lanes).

POSIX: ``os.wait4`` returns the child's own rusage (``ru_maxrss``, KiB on Linux, bytes on macOS). Windows: the
exited process's handle still answers ``GetProcessMemoryInfo`` (``PeakWorkingSetSize``, bytes). Both report
the resident peak, the figure the issue measured (an endless body grew it to 15 GB).
"""

from __future__ import annotations

import os
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


def run_measuring_peak(argv: list[str], *, timeout: float, env: dict[str, str] | None = None) -> MeasuredRun:
    """Run ``argv`` to its end (killed after ``timeout`` seconds) and return its output and peak memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        if sys.platform == "win32":
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise
            peak = _windows_peak_bytes(process) // 1024
            code = process.returncode
        else:
            code, peak = _posix_wait(process, timeout)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return MeasuredRun(code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                           peak, seconds)


def _posix_wait(process: subprocess.Popen[bytes], timeout: float) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            scale = 1 if sys.platform.startswith("linux") else 1024  # macOS reports bytes
            return process.returncode, int(usage.ru_maxrss) // scale
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise subprocess.TimeoutExpired(process.args, timeout)
        time.sleep(0.05)


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
