"""A real dnsmasq answering for the lab: A records, the articles' CNAME chains into nsatc.net, NXDOMAIN.

Two ways to use it: on 127.0.0.1:<free port> for clients that take a resolver address and port (dnspython, the
product's resolver), or on port 53 of a spare loopback address (127.x.y.z, needs root) for Squid, which cannot
query another port. Recipe and measured behaviour: docs/notes/test-infra.md section 2.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import procs
from .hosts import LAB_HOSTS
from .ports import LOOPBACK, free_udp_port, spare_loopback_address
from .tools import ComponentMissing, find_tool, is_root

# The article's "dns resolution will list the actual hosts to be in the DNS name space nsatc.net":
# each chain ends in an A record 127.0.0.1 on the last name.
DEFAULT_CNAMES: Mapping[str, str] = {
    "login.microsoftonline.com": "ak.privatelink.msidentity.com",
    "ak.privatelink.msidentity.com": "login.microsoftonline.com.nsatc.net",
    "adminwebservice.microsoftonline.com": "bba800-anchor.microsoftonline.com",
    "bba800-anchor.microsoftonline.com": "bba800-anchor.microsoftonline.com.nsatc.net",
}

# Names that answer NXDOMAIN (anything unknown under the local domains below does too).
NXDOMAIN_HOST = "nxdomain.microsoftonline.com"

# Unknown names under these domains get NXDOMAIN; names outside every local domain get REFUSED (no upstream).
DEFAULT_LOCAL_DOMAINS: tuple[str, ...] = (
    "microsoftonline.com", "microsoftonline-p.com", "windows.net", "msappproxy.net", "msauth.net", "msftauth.net",
    "microsoft.com", "msocsp.com", "digicert.com", "windowsupdate.com", "azure.com", "msft.net",
    "microsoftazuread-sso.com", "visualstudio.com", "msidentity.com", "nsatc.net", "example.com", "invalid",
)


def _default_a_records() -> dict[str, str]:
    records = {name: LOOPBACK for name in LAB_HOSTS if name not in DEFAULT_CNAMES}
    records["login.microsoftonline.com.nsatc.net"] = LOOPBACK
    records["bba800-anchor.microsoftonline.com.nsatc.net"] = LOOPBACK
    return records


@dataclass(frozen=True)
class DnsConfig:
    """Records dnsmasq serves. a_records: exact name -> IPv4. cnames: alias -> target (chains allowed).
    nxdomain: names answered NXDOMAIN. local_domains: domains answered only locally (unknown -> NXDOMAIN).
    srv_records: (name, target, port) SRV answers.
    extra: further dnsmasq.conf lines, written after the records.
    """

    a_records: Mapping[str, str] = field(default_factory=_default_a_records)
    cnames: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CNAMES))
    nxdomain: Sequence[str] = (NXDOMAIN_HOST,)
    local_domains: Sequence[str] = DEFAULT_LOCAL_DOMAINS
    srv_records: Sequence[tuple[str, str, int]] = ()  # (name, target, port), e.g. the AD DC locator records
    extra: Sequence[str] = ()  # raw dnsmasq.conf lines (server=/domain/ADDR#PORT, address=/name/#, dnssec, ...)


class Dnsmasq(procs.LabDaemon):
    """A running `dnsmasq -k` on `address`:`port` (UDP and TCP).

    ``with Dnsmasq() as dns:`` -> dns.address == "127.0.0.1", dns.port == <free port>
    ``with Dnsmasq(port=53) as dns:`` (root) -> dns.address is a random free 127.x.y.z, port 53: usable as
    squid's dns_nameservers, and no clash with another test run on the same machine.
    `log_path` holds dnsmasq's query log (log-queries).
    """

    what = "dnsmasq"
    workdir_prefix = "aadc-dnsmasq-"
    diagnostic_files = ("dnsmasq.out", "dnsmasq.log")

    def __init__(self, config: DnsConfig | None = None, *, address: str | None = None, port: int | None = None,
                 parent_dir: Path | None = None, ready_timeout: float = 10.0) -> None:
        super().__init__(ready_timeout=ready_timeout, parent_dir=parent_dir)
        self.config = config or DnsConfig()
        self._binary = find_tool("dnsmasq")
        if port is not None and port < 1024 and not is_root():
            raise ComponentMissing(f"dnsmasq on port {port} needs root (privileged port); run the tests as root")
        if address is None:
            address = LOOPBACK if port is None else spare_loopback_address(tcp_ports=(port,), udp_ports=(port,))
        self.address = address
        self.port = port if port is not None else free_udp_port(address)

    @property
    def log_path(self) -> Path:
        return self.workdir / "dnsmasq.log"

    @property
    def conf_path(self) -> Path:
        return self.workdir / "dnsmasq.conf"

    @property
    def nameserver(self) -> str:
        """"address:port" for display and for tools that take one string."""
        return f"{self.address}:{self.port}"

    def render_config(self) -> str:
        cfg = self.config
        lines = [
            f"port={self.port}",
            f"listen-address={self.address}",
            "bind-interfaces",
            "no-resolv",
            "no-hosts",
            "no-poll",
            "no-negcache",
            "log-queries",
            f"log-facility={self.log_path}",
            f"pid-file={self.workdir}/dnsmasq.pid",
        ]
        if is_root():
            # Stay root instead of dropping to nobody/dip: a user or group switch would clear the die-with-parent
            # setting (procs.launch), and port 53 needs root to bind anyway. It only ever listens on loopback.
            lines += ["user=root", "group=root"]
        lines += [f"host-record={name},{addr}" for name, addr in cfg.a_records.items()]
        lines += [f"cname={alias},{target}" for alias, target in cfg.cnames.items()]
        lines += [f"srv-host={name},{target},{port}" for name, target, port in cfg.srv_records]
        lines += [f"local=/{name}/" for name in (*cfg.nxdomain, *cfg.local_domains)]
        lines += list(cfg.extra)
        return "\n".join(lines) + "\n"

    def start(self) -> Dnsmasq:
        self._new_workdir()
        self.conf_path.write_text(self.render_config())
        checked = subprocess.run([self._binary, "--test", "-C", str(self.conf_path)], capture_output=True)
        if checked.returncode != 0:
            raise RuntimeError(f"dnsmasq rejected {self.conf_path}:\n{checked.stderr.decode()}")
        self._run([self._binary, "-k", "-C", str(self.conf_path)], "dnsmasq.out")
        return self

    def _ready(self) -> bool:
        import dns.exception
        import dns.message
        import dns.query

        with contextlib.suppress(dns.exception.DNSException, OSError):
            dns.query.udp(dns.message.make_query("ready.invalid", "A"), self.address, port=self.port, timeout=0.2)
            return True
        return False

    def query_log(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
