"""A real tinyproxy on 127.0.0.1: Filter allow or deny lists, ConnectPort, BasicAuth, an upstream proxy, and its
own log file (what `aadc-doctor proxylog` reads).

tinyproxy resolves names with the C library, so the lab names reach 127.0.0.1 through nss_wrapper
(`libnss-wrapper`, NSS_WRAPPER_HOSTS): a private hosts file for this process only, nothing global is changed.
With ``upstream`` set it hands every request to that proxy instead, as a branch-office tinyproxy in front of a
corporate proxy does.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import procs
from .hosts import LAB_HOSTS, find_nss_wrapper, private_hosts_env
from .ports import LOOPBACK, free_port
from .tools import find_tool, is_root


@dataclass(frozen=True)
class TinyproxyConfig:
    """filter: host regexes (tinyproxy's Filter file, extended regexes, case-insensitive); filter_default_deny True
    makes it an allow-list (only matching hosts pass), False a deny-list. connect_ports: tinyproxy's ConnectPort
    lines (empty: every port). basic_auth: user -> password (BasicAuth). hosts: name -> address (default: LAB_HOSTS
    -> 127.0.0.1). upstream: "127.0.0.1:3128" for ``Upstream http`` (tinyproxy then resolves nothing itself).
    """

    filter: Sequence[str] = ()
    filter_default_deny: bool = False
    connect_ports: Sequence[int] = ()
    basic_auth: Mapping[str, str] = field(default_factory=dict)
    hosts: Mapping[str, str] | None = None
    upstream: str | None = None


class Tinyproxy(procs.LabDaemon):
    """`tinyproxy -d -c CONF` in a fresh work dir; `url`, `url_with(user, password)`, `log_path`."""

    what = "tinyproxy"
    workdir_prefix = "aadc-tinyproxy-"
    diagnostic_files = ("tinyproxy.out", "tinyproxy.log", "tinyproxy.conf")

    def __init__(self, config: TinyproxyConfig | None = None, *, ready_timeout: float = 15.0) -> None:
        super().__init__(ready_timeout=ready_timeout)
        self.config = config or TinyproxyConfig()
        self._binary = find_tool("tinyproxy")
        find_nss_wrapper()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@{LOOPBACK}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "tinyproxy.log"

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []

    def wait_for_log(self, text: str, *, count: int = 1, timeout: float = 10.0) -> None:
        """Until `text` appears `count` times in the log (tinyproxy writes outcome lines a moment after answering)."""
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.log_lines()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not {count}x in {self.log_path} within {timeout}s:\n"
                                     + "\n".join(self.log_lines()[-20:]))
            time.sleep(0.05)

    def render_config(self) -> str:
        cfg = self.config
        w = self.workdir
        lines = [f"Port {self.port}", f"Listen {LOOPBACK}", "Timeout 30", f'LogFile "{self.log_path}"',
                 "LogLevel Info", f'PidFile "{w}/tinyproxy.pid"', "MaxClients 64", "DisableViaHeader No"]
        if is_root():
            lines += ["User nobody", "Group nogroup"]
        if cfg.filter:
            lines += [f'Filter "{w}/filter"', "FilterURLs Off", "FilterType ere", "FilterCaseSensitive Off",
                      f"FilterDefaultDeny {'Yes' if cfg.filter_default_deny else 'No'}"]
        lines += [f"ConnectPort {port}" for port in cfg.connect_ports]
        lines += [f"BasicAuth {user} {password}" for user, password in cfg.basic_auth.items()]
        if cfg.upstream:
            lines.append(f"Upstream http {cfg.upstream}")
        return "\n".join(lines) + "\n"

    def start(self) -> Tinyproxy:
        self._new_workdir()
        self.port = free_port()
        hosts = self.config.hosts if self.config.hosts is not None else {h: LOOPBACK for h in LAB_HOSTS}
        (self.workdir / "hosts").write_text("".join(f"{addr} {name}\n" for name, addr in hosts.items()))
        (self.workdir / "filter").write_text("".join(f"{pattern}\n" for pattern in self.config.filter))
        (self.workdir / "tinyproxy.conf").write_text(self.render_config())
        if is_root():  # tinyproxy drops to nobody:nogroup and then writes its log and pid file here
            for path in (self.workdir, *self.workdir.iterdir()):
                shutil.chown(path, "nobody", "nogroup")
        self._run([self._binary, "-d", "-c", str(self.workdir / "tinyproxy.conf")], "tinyproxy.out",
                  env=private_hosts_env(self.workdir / "hosts"))
        return self

    def _ready(self) -> bool:
        text = "\n".join(self.log_lines())
        return re.search(r"listening on|Accepting connections|Starting main loop", text, re.I) is not None
