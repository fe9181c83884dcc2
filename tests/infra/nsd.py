"""A real NSD (NLnet Labs' authoritative DNS server) serving zone files the test writes, on 127.0.0.1.

dnsmasq cannot serve a CNAME loop (it rejects one in its configuration), but an authoritative zone can hold
one, as a mistyped internal override of a Microsoft name does. Put dnsmasq in front (`server=/zone/ADDR#PORT`)
to get the corporate shape: a resolver forwarding one domain to an internal authoritative server.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from . import procs
from .ports import LOOPBACK, free_udp_port
from .tools import find_tool


class Nsd:
    """`nsd -d` on 127.0.0.1:<free port>, authoritative for `zones` (zone name -> zone file text)."""

    def __init__(self, zones: Mapping[str, str], *, ready_timeout: float = 10.0) -> None:
        self.zones = dict(zones)
        self._binary = find_tool("nsd")
        self._checkconf = find_tool("nsd-checkconf")
        self.address = LOOPBACK
        self.port = free_udp_port(LOOPBACK)
        self._ready_timeout = ready_timeout
        self.workdir = Path()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def conf_path(self) -> Path:
        return self.workdir / "nsd.conf"

    def render_config(self) -> str:
        w = self.workdir
        lines = [
            "server:",
            f"    ip-address: {self.address}@{self.port}",
            f"    port: {self.port}",
            "    do-ip6: no",
            '    username: ""',  # no user switch: it would clear the die-with-parent setting (procs.launch)
            '    chroot: ""',
            f'    zonesdir: "{w}"',
            f'    pidfile: "{w}/nsd.pid"',
            f'    xfrdfile: "{w}/xfrd.state"',
            f'    zonelistfile: "{w}/zone.list"',
            '    database: ""',
            f'    logfile: "{w}/nsd.log"',
            "    server-count: 1",
            "    verbosity: 1",
            "remote-control:",
            "    control-enable: no",
        ]
        for index, zone in enumerate(self.zones):
            lines += ["zone:", f'    name: "{zone}"', f'    zonefile: "zone{index}.zone"']
        return "\n".join(lines) + "\n"

    def start(self) -> Nsd:
        self.workdir = procs.fresh_workdir("aadc-nsd-")
        for index, text in enumerate(self.zones.values()):
            (self.workdir / f"zone{index}.zone").write_text(text)
        self.conf_path.write_text(self.render_config())
        checked = subprocess.run([self._checkconf, str(self.conf_path)], capture_output=True, timeout=30)
        if checked.returncode != 0:
            raise RuntimeError(f"nsd-checkconf rejected {self.conf_path}:\n{checked.stderr.decode()}")
        self._proc = procs.launch([self._binary, "-d", "-c", str(self.conf_path)], self.workdir / "nsd.out")
        try:
            procs.wait_until(self._answers, timeout=self._ready_timeout, proc=self._proc, what="nsd",
                             diagnostics=self._diagnostics)
        except BaseException:
            procs.terminate(self._proc)
            raise
        return self

    def _answers(self) -> bool:
        import dns.exception
        import dns.message
        import dns.query

        zone = next(iter(self.zones))
        with contextlib.suppress(dns.exception.DNSException, OSError):
            dns.query.udp(dns.message.make_query(zone, "SOA"), self.address, port=self.port, timeout=0.2)
            return True
        return False

    def _diagnostics(self) -> str:
        parts = []
        for path in (self.workdir / "nsd.out", self.workdir / "nsd.log"):
            if path.exists():
                parts.append(f"--- {path} ---\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        procs.terminate(proc)
        procs.remove_workdir(self.workdir)

    def __enter__(self) -> Nsd:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
