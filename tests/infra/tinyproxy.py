"""A real tinyproxy on 127.0.0.1: Filter allow or deny lists, ConnectPort, BasicAuth, its own log file.

tinyproxy resolves names with the C library, so the lab names reach 127.0.0.1 through nss_wrapper
(`libnss-wrapper`, NSS_WRAPPER_HOSTS): a private hosts file for this process only, nothing global is changed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from . import procs
from .hosts import LAB_HOSTS
from .ports import LOOPBACK, free_port
from .tools import INSTALL_HINT, ComponentMissing, find_tool, is_root

NSS_WRAPPER_PATHS = ("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so", "/usr/lib/aarch64-linux-gnu/libnss_wrapper.so",
                     "/usr/lib64/libnss_wrapper.so", "/usr/lib/libnss_wrapper.so")


def find_nss_wrapper() -> str:
    for path in NSS_WRAPPER_PATHS:
        if Path(path).is_file():
            return path
    raise ComponentMissing(f"libnss_wrapper.so (Debian package libnss-wrapper) is not installed; {INSTALL_HINT}")


def private_hosts_env(hosts_file: Path) -> dict[str, str]:
    """Environment that makes a child resolve names from `hosts_file` only (nss_wrapper), nothing global."""
    env = dict(os.environ)
    env.update({"LD_PRELOAD": find_nss_wrapper(), "NSS_WRAPPER_HOSTS": str(hosts_file)})
    return env


@dataclass(frozen=True)
class TinyproxyConfig:
    """filter: domain regexes (tinyproxy's Filter file, FilterExtended); filter_default_deny True makes it an
    allow-list (only matching hosts pass), False a deny-list. connect_ports: tinyproxy's ConnectPort lines (empty:
    every port). basic_auth: user -> password (BasicAuth). hosts: name -> address (default: LAB_HOSTS -> 127.0.0.1).
    """

    filter: Sequence[str] = ()
    filter_default_deny: bool = False
    connect_ports: Sequence[int] = ()
    basic_auth: Mapping[str, str] = field(default_factory=dict)
    hosts: Mapping[str, str] | None = None


class Tinyproxy:
    """`tinyproxy -d -c CONF` in a fresh work dir; url, port, log (tinyproxy's own log file)."""

    def __init__(self, config: TinyproxyConfig | None = None, *, ready_timeout: float = 10.0) -> None:
        self.config = config or TinyproxyConfig()
        self._binary = find_tool("tinyproxy")
        find_nss_wrapper()
        self._ready_timeout = ready_timeout
        self.workdir = Path()
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@{LOOPBACK}:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "tinyproxy.log"

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []

    def render_config(self) -> str:
        cfg = self.config
        w = self.workdir
        lines = [f"Port {self.port}", f"Listen {LOOPBACK}", "Timeout 30", f'LogFile "{w}/tinyproxy.log"',
                 "LogLevel Info", f'PidFile "{w}/tinyproxy.pid"', "MaxClients 64", "DisableViaHeader No"]
        if is_root():
            lines += ["User nobody", "Group nogroup"]
        if cfg.filter:
            lines += [f'Filter "{w}/filter"', "FilterURLs Off", "FilterExtended On", "FilterCaseSensitive Off",
                      f"FilterDefaultDeny {'Yes' if cfg.filter_default_deny else 'No'}"]
        lines += [f"ConnectPort {port}" for port in cfg.connect_ports]
        lines += [f"BasicAuth {user} {password}" for user, password in cfg.basic_auth.items()]
        return "\n".join(lines) + "\n"

    def start(self) -> Tinyproxy:
        self.workdir = procs.fresh_workdir("aadc-tinyproxy-")
        self.port = free_port()
        hosts = self.config.hosts if self.config.hosts is not None else {h: LOOPBACK for h in LAB_HOSTS}
        (self.workdir / "hosts").write_text("".join(f"{addr} {name}\n" for name, addr in hosts.items()))
        (self.workdir / "filter").write_text("".join(f"{pattern}\n" for pattern in self.config.filter))
        (self.workdir / "tinyproxy.conf").write_text(self.render_config())
        if is_root():  # tinyproxy drops to nobody:nogroup and then writes its log and pid file here
            for path in (self.workdir, *self.workdir.iterdir()):
                shutil.chown(path, "nobody", "nogroup")
        self._proc = procs.launch([self._binary, "-d", "-c", str(self.workdir / "tinyproxy.conf")],
                                  self.workdir / "tinyproxy.out", env=private_hosts_env(self.workdir / "hosts"))
        try:
            procs.wait_until(self._listening, timeout=self._ready_timeout, proc=self._proc, what="tinyproxy",
                             diagnostics=self._diagnostics)
        except BaseException:
            procs.terminate(self._proc)
            raise
        return self

    def _listening(self) -> bool:
        text = "\n".join(self.log_lines())
        return re.search(r"listening on|Setting the various signals|Starting main loop", text, re.I) is not None

    def _diagnostics(self) -> str:
        parts = []
        for name in ("tinyproxy.out", "tinyproxy.log", "tinyproxy.conf"):
            path = self.workdir / name
            if path.exists():
                parts.append(f"--- {path} ---\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        procs.terminate(proc)

    def __enter__(self) -> Tinyproxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
