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

from . import procs
from .ports import LOOPBACK, free_udp_port
from .tools import find_tool


class Nsd(procs.LabDaemon):
    """`nsd -d` on 127.0.0.1:<free port>, authoritative for `zones` (zone name -> zone file text)."""

    what = "nsd"
    workdir_prefix = "aadc-nsd-"
    diagnostic_files = ("nsd.out", "nsd.log")

    def __init__(self, zones: Mapping[str, str], *, ready_timeout: float = 10.0) -> None:
        super().__init__(ready_timeout=ready_timeout)
        self.zones = dict(zones)
        self._binary = find_tool("nsd")
        self._checkconf = find_tool("nsd-checkconf")
        self.address = LOOPBACK
        self.port = free_udp_port(LOOPBACK)

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
        self._new_workdir()
        for index, text in enumerate(self.zones.values()):
            (self.workdir / f"zone{index}.zone").write_text(text)
        self.conf_path.write_text(self.render_config())
        checked = subprocess.run([self._checkconf, str(self.conf_path)], capture_output=True, timeout=30)
        if checked.returncode != 0:
            raise RuntimeError(f"nsd-checkconf rejected {self.conf_path}:\n{checked.stderr.decode()}")
        self._run([self._binary, "-d", "-c", str(self.conf_path)], "nsd.out")
        return self

    def _ready(self) -> bool:
        import dns.exception
        import dns.message
        import dns.query

        zone = next(iter(self.zones))
        with contextlib.suppress(dns.exception.DNSException, OSError):
            dns.query.udp(dns.message.make_query(zone, "SOA"), self.address, port=self.port, timeout=0.2)
            return True
        return False
