"""A real tinyproxy on 127.0.0.1: Filter deny list, ConnectPort, BasicAuth, and an upstream proxy.

Used by the proxylog tests; tests/infra/tinyproxy.py is the `check` tests' variant with a private hosts file.

tinyproxy resolves names with the system resolver, which the tests must not change; with ``upstream`` set, it hands
every request to that proxy (a SquidProxy whose hosts file maps the lab names), as a branch-office tinyproxy in
front of a corporate proxy does. Its log (``LogFile``, ``LogLevel Info``) is what `aadc-doctor proxylog` reads.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from . import procs
from .ports import LOOPBACK, free_port
from .tools import find_tool


@dataclass(frozen=True)
class TinyproxyConfig:
    """filter_deny: regular expressions of host names tinyproxy refuses (``Filter`` + ``FilterDefaultDeny No``).
    connect_ports: ``ConnectPort`` values (CONNECT to any other port is refused); empty = tinyproxy's default (any).
    basic_auth: (user, password) for ``BasicAuth``, or None.
    upstream: "127.0.0.1:3128" for ``Upstream http``, or None (tinyproxy then resolves names itself).
    """

    filter_deny: Sequence[str] = ()
    connect_ports: Sequence[int] = (443,)
    basic_auth: tuple[str, str] | None = None
    upstream: str | None = None


class Tinyproxy:
    """``with Tinyproxy(TinyproxyConfig(...)) as proxy:`` then ``proxy.url()``, ``proxy.log_path``."""

    def __init__(self, config: TinyproxyConfig | None = None, *, ready_timeout: float = 15.0) -> None:
        self.config = config or TinyproxyConfig()
        self._binary = find_tool("tinyproxy")
        self._ready_timeout = ready_timeout
        self.workdir = Path()
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "tinyproxy.log"

    @property
    def conf_path(self) -> Path:
        return self.workdir / "tinyproxy.conf"

    def url(self, auth: bool = True) -> str:
        cred = ""
        if auth and self.config.basic_auth:
            cred = f"{self.config.basic_auth[0]}:{self.config.basic_auth[1]}@"
        return f"http://{cred}{LOOPBACK}:{self.port}"

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []

    def render_config(self) -> str:
        cfg = self.config
        lines = [f"Port {self.port}", f"Listen {LOOPBACK}", "Timeout 30", f'LogFile "{self.log_path}"',
                 "LogLevel Info", "MaxClients 50", f'PidFile "{self.workdir}/tinyproxy.pid"']
        lines += [f"ConnectPort {port}" for port in cfg.connect_ports]
        if cfg.filter_deny:
            (self.workdir / "filter").write_text("".join(f"{pattern}\n" for pattern in cfg.filter_deny))
            lines += [f'Filter "{self.workdir}/filter"', "FilterDefaultDeny No", "FilterType ere"]
        if cfg.basic_auth:
            lines.append(f"BasicAuth {cfg.basic_auth[0]} {cfg.basic_auth[1]}")
        if cfg.upstream:
            lines.append(f"Upstream http {cfg.upstream}")
        return "\n".join(lines) + "\n"

    def start(self) -> Tinyproxy:
        self.workdir = procs.fresh_workdir("aadc-tinyproxy-")
        self.port = free_port()
        self.conf_path.write_text(self.render_config())
        # -d: stay in the foreground (procs.launch owns the process); as root it keeps running as root
        self._proc = procs.launch([self._binary, "-d", "-c", str(self.conf_path)], self.workdir / "tinyproxy.out")
        try:
            procs.wait_until(self._ready, timeout=self._ready_timeout, proc=self._proc, what="tinyproxy",
                             diagnostics=self._diagnostics)
        except BaseException:
            procs.terminate(self._proc)
            raise
        return self

    def _ready(self) -> bool:
        return any("Accepting connections" in line for line in self.log_lines())

    def _diagnostics(self) -> str:
        parts = []
        for name in ("tinyproxy.out", "tinyproxy.log", "tinyproxy.conf"):
            path = self.workdir / name
            if path.exists():
                parts.append(f"--- {path} ---\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def wait_for_log(self, text: str, *, count: int = 1, timeout: float = 10.0) -> None:
        """Until `text` appears `count` times in the log (tinyproxy writes outcome lines a moment after answering)."""
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.log_lines()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not {count}x in {self.log_path} within {timeout}s:\n"
                                     + "\n".join(self.log_lines()[-20:]))
            time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        procs.terminate(proc)
        procs.remove_workdir(self.workdir)

    def __enter__(self) -> Tinyproxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
