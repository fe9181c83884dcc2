"""Running a lab daemon as a child process: fresh work dir, readiness by polling, clean stop, background reaping."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

_background: list[threading.Thread] = []
_background_lock = threading.Lock()
_running: set[subprocess.Popen[bytes]] = set()

KEEP_ENV = "AADC_KEEP_LAB"  # set to 1 to keep the daemons' work dirs (configs, logs) for debugging


def fresh_workdir(prefix: str, parent: Path | None = None) -> Path:
    """A new private directory under the system temp dir (world-traversable parents: daemons drop root)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=str(parent) if parent else None))


def chown_tree(path: Path, user: str) -> None:
    """Hand a work dir to the unprivileged user a daemon switches to when started as root."""
    shutil.chown(path, user, user)
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            shutil.chown(os.path.join(root, name), user, user)


_PR_SET_PDEATHSIG = 1


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
    except OSError:
        return None


def launch(argv: list[str], output: Path, *, run_as: str | None = None,
           env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a daemon in the foreground in its own process group (so its helpers can be killed with it),
    stdout+stderr to `output`.

    On Linux the daemon gets SIGKILL when the thread that started it dies (PR_SET_PDEATHSIG), so a test run
    killed by a timeout leaves no squid/dnsmasq behind; start daemons from a long-lived thread (pytest's main one).
    The kernel clears that setting when a process changes its user id, so `run_as` switches user *before* exec
    (and the daemon must then not switch again). Whatever is still running at interpreter exit is killed too.
    """
    libc = _libc()
    parent = os.getpid()
    ids: tuple[int, int] | None = None
    if run_as is not None:
        import pwd

        entry = pwd.getpwnam(run_as)
        ids = (entry.pw_uid, entry.pw_gid)

    def in_child() -> None:
        if ids is not None:
            os.setgroups([])
            os.setgid(ids[1])
            os.setuid(ids[0])
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # parent already gone before prctl took effect
                os._exit(1)

    with output.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=in_child, env=env)
    _running.add(proc)
    return proc


@atexit.register
def _kill_leftovers() -> None:
    """At interpreter exit: finish background stops (they remove work dirs), then kill anything still running."""
    join_background(timeout=10)
    for proc in list(_running):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


def wait_until(predicate: Callable[[], bool], *, timeout: float, proc: subprocess.Popen[bytes] | None,
               what: str, diagnostics: Callable[[], str]) -> float:
    """Poll `predicate` every 20 ms; fail fast with diagnostics if `proc` dies. Returns seconds waited."""
    start = time.monotonic()
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} before it was ready:\n{diagnostics()}")
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what} not ready after {timeout:.0f}s:\n{diagnostics()}")
        time.sleep(0.02)
    return time.monotonic() - start


def terminate(proc: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """SIGTERM the process and wait; SIGKILL its whole process group if it does not exit within `grace`."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    _running.discard(proc)


def remove_workdir(path: Path) -> None:
    if os.environ.get(KEEP_ENV) != "1":
        shutil.rmtree(path, ignore_errors=True)


def terminate_in_background(proc: subprocess.Popen[bytes], workdir: Path, *, grace: float = 10.0) -> None:
    """Send SIGTERM now, wait for the exit (squid takes 2-3 s) in a thread; `join_background()` collects them."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)

    def finish() -> None:
        terminate(proc, grace=grace)
        remove_workdir(workdir)

    thread = threading.Thread(target=finish, name=f"reap-{proc.pid}", daemon=True)
    thread.start()
    with _background_lock:
        _background.append(thread)


def join_background(timeout: float = 30.0) -> None:
    """Wait for every daemon stopped with terminate_in_background (call once at session end)."""
    deadline = time.monotonic() + timeout
    with _background_lock:
        threads = list(_background)
        _background.clear()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))


class LabDaemon:
    """One real daemon for the tests: a fresh work dir, one child process, ready when `_ready()` says so, stopped
    cleanly; used as a context manager. Subclasses write their configuration and call `_run` from `start`.

    Why a base: every daemon (dnsmasq, NSD, tinyproxy, mitmproxy) needs the same launch, fail-fast readiness
    with its own files as diagnostics, and stop; written once, a fix (e.g. a leaked process) reaches all of them.
    """

    what = "daemon"
    workdir_prefix = "aadc-daemon-"
    diagnostic_files: tuple[str, ...] = ()  # names in the work dir whose tails explain a failed start

    def __init__(self, *, ready_timeout: float = 10.0, parent_dir: Path | None = None) -> None:
        self.workdir = Path()
        self._ready_timeout = ready_timeout
        self._parent_dir = parent_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0

    def _new_workdir(self) -> Path:
        self.workdir = fresh_workdir(self.workdir_prefix, self._parent_dir)
        return self.workdir

    def _ready(self) -> bool:
        raise NotImplementedError

    def _run(self, argv: list[str], output_name: str, *, env: dict[str, str] | None = None) -> None:
        """Launch `argv` (output to `output_name` in the work dir) and wait until ready, or stop it and raise."""
        self._proc = launch(argv, self.workdir / output_name, env=env)
        try:
            self.startup_seconds = wait_until(self._ready, timeout=self._ready_timeout, proc=self._proc,
                                              what=self.what, diagnostics=self._diagnostics)
        except BaseException:
            terminate(self._proc)
            self._proc = None
            raise

    def _diagnostics(self) -> str:
        parts = []
        for name in self.diagnostic_files:
            path = self.workdir / name
            if path.exists():
                parts.append(f"--- {path} ---\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        terminate(proc)
        remove_workdir(self.workdir)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def child_pids(pid: int) -> list[str]:
    """The pids of a process's direct children (Linux `pgrep -P`)."""
    return subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout.split()


def wait_for_children(proc: subprocess.Popen[str], timeout: float) -> list[str]:
    """The children of ``proc`` once it has some (a helper started), or [] if it ends or the time runs out first."""
    deadline = time.monotonic() + timeout
    children: list[str] = []
    while not children and time.monotonic() < deadline and proc.poll() is None:
        children = child_pids(proc.pid)
        time.sleep(0.005)
    return children


def all_gone(pids: list[str]) -> bool:
    """Every one of these processes has ended (a zombie waiting for its parent counts as ended)."""
    return all(not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
               for pid in pids)
