"""Windows CPython under Wine: a prefix of our own, the release zip unpacked in it, the tool run as an admin would.

Used by the Windows lane (tests/windows, run by scripts/test-windows.sh). Wine is not Windows: it catches
Windows-only Python behaviour (spawn instead of fork, the Proactor event loop, drive letters, code pages), not
Windows configuration. See docs/notes/windows-on-linux.md for the measured facts behind each choice here.

Three Wine quirks are handled here, never in the release zip:
- Wine 8 has no bcryptprimitives.dll (every Windows 10 / Server 2016+ has it); Rust-built extensions import
  ProcessPrng from it. A shim built with mingw goes into the prefix's system32, not next to python.exe.
- python.exe needs a pipe (not a file) for stdout and no terminal for stdin.
- Wine 8's WMI aborts platform.system(): the unpacked release loses _wmi.pyd (WindowsRelease.unpack).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from tests.infra.tools import ComponentMissing

WINE_CANDIDATES = ("/usr/lib/wine/wine64", "/usr/bin/wine64", "/usr/bin/wine")
MINGW_GCC = "x86_64-w64-mingw32-gcc"
_SHIM_SOURCE = r"""
#include <windows.h>
#include <bcrypt.h>
/* Wine 8 lacks bcryptprimitives.dll; Windows 10 / Server 2016+ ships it. Rust's std imports ProcessPrng. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    return BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG));
}
"""
# characters cmd.exe would interpret in a batch line; the lane's arguments never need them
_CMD_SPECIAL = set('%^&|<>"\r\n')
# variables of the Linux side that must not leak into the Windows run (a proxy would change what `check` sees)
_DROPPED_ENV = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
                "all_proxy", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


def find_wine() -> str:
    for candidate in WINE_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("wine64") or shutil.which("wine")
    if found:
        return found
    raise ComponentMissing("Wine is missing (Debian package wine64); install it with "
                           "`bash scripts/install-system-deps.sh`")


def windows_path(path: Path) -> str:
    """The path as Windows CPython under Wine sees it: Z: is the Linux root; drive_c paths become C:."""
    resolved = path.resolve()
    parts = resolved.parts
    if "drive_c" in parts:
        index = parts.index("drive_c")
        return str(PureWindowsPath("C:\\", *parts[index + 1:]))
    return str(PureWindowsPath("Z:\\", *PurePosixPath(resolved).parts[1:]))


def quote_cmd_argument(argument: str) -> str:
    """One argument as an admin types it in cmd: quoted when it has a space."""
    if _CMD_SPECIAL & set(argument):
        raise ValueError(f"argument needs cmd escaping, which the lane does not do: {argument!r}")
    return f'"{argument}"' if (" " in argument or "\t" in argument or not argument) else argument


@dataclass
class WinRun:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        import json

        return json.loads(self.stdout)


class WinePrefix:
    """A Wine prefix of our own (created once, ~7 s), with the bcryptprimitives shim; stopped with its wineserver."""

    def __init__(self, root: Path) -> None:
        self.wine = find_wine()
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        self.env.update({"WINEPREFIX": str(root), "WINEDEBUG": "-all", "WINEDLLOVERRIDES": "mscoree,mshtml=",
                         "NO_COLOR": "1"})
        self.scripts = Path(tempfile.mkdtemp(prefix="aadc-wine-cmd-"))  # no spaces: cmd /c takes it unquoted

    @property
    def drive_c(self) -> Path:
        return self.root / "drive_c"

    def start(self) -> WinePrefix:
        if not shutil.which(MINGW_GCC):
            raise ComponentMissing(f"{MINGW_GCC} is missing (Debian package gcc-mingw-w64-x86-64); install it "
                                   "with `bash scripts/install-system-deps.sh`")
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run([self.wine, "wineboot", "-i"], env=self.env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True, timeout=180)
        system32 = self.drive_c / "windows" / "system32"
        if not system32.is_dir():
            raise RuntimeError(f"wineboot made no {system32}")
        source = self.scripts / "bcryptprimitives.c"
        source.write_text(_SHIM_SOURCE, encoding="ascii")
        subprocess.run([MINGW_GCC, "-shared", "-O2", "-o", str(system32 / "bcryptprimitives.dll"), str(source),
                        "-lbcrypt"], check=True, timeout=120)
        return self

    def stop(self) -> None:
        wineserver = Path(self.wine).with_name("wineserver")
        if wineserver.exists():
            subprocess.run([str(wineserver), "-k"], env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.scripts, ignore_errors=True)

    def popen(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        """A Windows program started under Wine; stdin from /dev/null, output through pipes (a Wine need)."""
        return subprocess.Popen([self.wine, *argv], env={**self.env, **(env or {})}, cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 120, encoding: str = "utf-8") -> WinRun:
        proc = self.popen(argv, env=env, cwd=cwd)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"{argv} under Wine took more than {timeout} s; the end of its output (what it "
                                 f"was doing): {out[-3000:]!r}; stderr: {err[-2000:]!r}") from None
        return WinRun(proc.returncode, out.decode(encoding, "replace").replace("\r\n", "\n"),
                      err.decode(encoding, "replace").replace("\r\n", "\n"))

    def run_batch(self, lines: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120,
                  encoding: str = "utf-8") -> WinRun:
        """Lines run by cmd.exe from a batch file: exactly what an admin would type at the prompt."""
        handle, name = tempfile.mkstemp(suffix=".cmd", dir=self.scripts)
        with os.fdopen(handle, "wb") as script:
            script.write(("@echo off\r\n" + "\r\n".join(lines) + "\r\nexit /b %ERRORLEVEL%\r\n").encode("ascii"))
        try:
            return self.run(["cmd", "/c", windows_path(Path(name))], env=env, timeout=timeout, encoding=encoding)
        finally:
            os.unlink(name)


class WindowsRelease:
    """The release zip unpacked into a folder with spaces, as an admin would put it on a server."""

    def __init__(self, prefix: WinePrefix, archive: Path, folder: Path) -> None:
        self.prefix = prefix
        self.archive = archive
        self.folder = folder

    def unpack(self) -> WindowsRelease:
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        with zipfile.ZipFile(self.archive) as zf:
            zf.extractall(self.folder)
        # Wine-only: platform.system() (ldap3 calls it when it opens a socket) queries WMI, and Wine 8 aborts the
        # process in propsys.VariantToString (unimplemented). Without _wmi CPython falls back to `ver`, as on a
        # Windows where WMI is off. The zip itself keeps _wmi.pyd (real Windows has a working WMI).
        (self.folder / "python" / "_wmi.pyd").unlink(missing_ok=True)
        return self

    @property
    def launcher(self) -> str:
        return windows_path(self.folder / "aadc-doctor.cmd")

    @property
    def python(self) -> Path:
        return self.folder / "python" / "python.exe"

    def cli(self, *args: str, cwd: str | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 180, encoding: str = "utf-8") -> WinRun:
        """`aadc-doctor.cmd ARGS` typed at a cmd prompt whose current folder is `cwd` (a Windows path)."""
        line = " ".join([quote_cmd_argument(self.launcher), *map(quote_cmd_argument, args)])
        lines = [f"cd /d {quote_cmd_argument(cwd)}", line] if cwd else [line]
        return self.prefix.run_batch(lines, env=env, timeout=timeout, encoding=encoding)

    def python_argv(self, *args: str) -> list[str]:
        return [str(self.python), *args]

    def module(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 180) -> WinRun:
        """`python.exe -m aadc_doctor ARGS`, the embedded interpreter run directly (no cmd in between)."""
        return self.prefix.run(self.python_argv("-m", "aadc_doctor", *args), env=env, timeout=timeout)


def helper_pids(marker: str = "--multiprocessing-fork") -> list[int]:
    """Linux pids of Wine processes whose command line has `marker` (spawned multiprocessing helpers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            if marker.encode() in cmdline and b"python.exe" in cmdline.lower():
                found.append(int(entry.name))
    return found


def wait_until(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(interval)
    return False


@contextlib.contextmanager
def wine_prefix(root: Path) -> Iterator[WinePrefix]:
    prefix = WinePrefix(root)
    try:
        yield prefix.start()
    finally:
        prefix.stop()
