"""A real Squid forward proxy on 127.0.0.1 with three ports: open, Basic auth, NTLM auth.

One instance advertises only Basic on its `basic` port and only NTLM on its `ntlm` port (Squid 5 `auth_schemes`
with `myportname` ACLs). Names resolve through a hosts file mapping the lab host names to 127.0.0.1, or through
a DNS server (dnsmasq on port 53 of a spare loopback address: Squid cannot query another port).
Recipe and measured behaviour: docs/notes/test-infra.md section 1.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import quote

from . import procs
from .hosts import DEFAULT_ALLOWED_DOMAINS, LAB_HOSTS
from .ports import LOOPBACK, free_port
from .tools import find_squid_helper, find_tool, is_root

PortName = Literal["open", "basic", "ntlm"]

DEFAULT_BASIC_USERS: Mapping[str, str] = {"alice": "s3cret"}


def _default_hosts() -> dict[str, str]:
    return {name: LOOPBACK for name in LAB_HOSTS}


@dataclass(frozen=True)
class SquidConfig:
    """What a test can vary. The defaults give the session-wide proxy.

    allowed_domains: squid `dstdomain` allow-list (".example.com" = the domain and its subdomains);
        None = no allow-list (every host allowed). Hosts outside it get 403 to CONNECT.
    denied_domains: explicitly denied even if allowed (checked first).
    ssl_ports / safe_ports: port numbers or ranges ("1024-65535"). The defaults admit the high ports the
        test origins listen on; CONNECT to a port outside ssl_ports gets 403.
    basic_users: user -> password written to the htpasswd file behind the Basic port.
    auth_before_acl: False (default, like most corporate proxies' rule order here): a host outside the allow-list
        gets 403 on every port, with or without credentials. True: the auth ports answer 407 before any 403.
    hosts: name -> address for squid's hosts_file. None = every lab host -> 127.0.0.1, unless dns_nameserver
        is set, in which case no hosts file is used.
    dns_nameserver: IPv4 address of a DNS server on port 53 (e.g. Dnsmasq(port=53) on a spare 127.x.y.z).
    dns_timeout: seconds squid waits per DNS query. In hosts-file mode nothing answers on 127.0.0.1:53, so a name
        outside the hosts file gets 500 only after ~3x this (6 s measured with 2). For a fast "proxy cannot resolve"
        answer use dns_nameserver with dnsmasq (NXDOMAIN gives an instant 500), e.g. the squid_dns fixture.
    extra_logs: more access logs beside access.log: name -> a built-in squid log format ("common", "combined",
        "referrer", "useragent") or a `logformat` spec such as "%ts.%03tu %>a %Ss/%03>Hs %rm %ru"; read them
        at squid.extra_log(name).
    extra_directives: raw squid.conf lines appended before the http_access rules (so an `http_access` line here is
        evaluated first). "{workdir}" is replaced by the instance's work dir.
    visible_hostname: the name squid gives itself in Via, X-Cache and its error pages.
    open_port_options: options appended to the "open" http_port line, e.g. "ssl-bump tls-cert={workdir}/ca.pem ...".
    files: name -> bytes written into the work dir before start (CA certificates and keys for ssl_bump).
    ssl_db: initialise {workdir}/ssl_db with security_file_certgen (needed by ssl_bump's certificate generator).
    """

    allowed_domains: Sequence[str] | None = DEFAULT_ALLOWED_DOMAINS
    denied_domains: Sequence[str] = ()
    ssl_ports: Sequence[str] = ("443", "1024-65535")
    safe_ports: Sequence[str] = ("80", "443", "1024-65535")
    basic_users: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_BASIC_USERS))
    basic_realm: str = "TestProxy"
    auth_before_acl: bool = False
    hosts: Mapping[str, str] | None = None
    dns_nameserver: str | None = None
    dns_timeout: int = 2
    extra_logs: Mapping[str, str] = field(default_factory=dict)
    extra_directives: Sequence[str] = ()
    visible_hostname: str = "aadc-lab-proxy"
    open_port_options: str = ""
    files: Mapping[str, bytes] = field(default_factory=dict)
    ssl_db: bool = False


BUILTIN_LOG_FORMATS = frozenset({"squid", "common", "combined", "referrer", "useragent"})


class SquidProxy:
    """A running squid (`squid -N`) in a fresh work dir under the system temp dir.

    ``with SquidProxy(SquidConfig(allowed_domains=["login.microsoftonline.com"])) as squid:``
    ``    requests.get(url, proxies={"https": squid.url("open")}, verify=ca_file)``

    Attributes: ports (dict "open"/"basic"/"ntlm" -> int), open_port, basic_port, ntlm_port, workdir,
    access_log (squid native format), cache_log, conf_path, config.
    """

    def __init__(self, config: SquidConfig | None = None, *, parent_dir: Path | None = None,
                 ready_timeout: float = 20.0) -> None:
        self.config = config or SquidConfig()
        self._binary = find_tool("squid")
        self._htpasswd = find_tool("htpasswd")
        self._basic_helper = find_squid_helper("basic_ncsa_auth")
        self._ntlm_helper = find_squid_helper("ntlm_fake_auth")
        self._parent_dir = parent_dir
        self._ready_timeout = ready_timeout
        self.workdir = Path()
        self.ports: dict[PortName, int] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0

    # -- addresses -------------------------------------------------------------------------------------------
    @property
    def open_port(self) -> int:
        return self.ports["open"]

    @property
    def basic_port(self) -> int:
        return self.ports["basic"]

    @property
    def ntlm_port(self) -> int:
        return self.ports["ntlm"]

    def url(self, port: PortName = "open", user: str | None = None, password: str | None = None) -> str:
        """Proxy URL for requests/curl, e.g. url("basic", "alice", "s3cret") -> http://alice:s3cret@127.0.0.1:P."""
        cred = ""
        if user is not None:
            cred = quote(user, safe="")
            if password is not None:
                cred += ":" + quote(password, safe="")
            cred += "@"
        return f"http://{cred}{LOOPBACK}:{self.ports[port]}"

    @property
    def access_log(self) -> Path:
        return self.workdir / "access.log"

    def extra_log(self, name: str) -> Path:
        """Path of an access log declared in SquidConfig.extra_logs."""
        if name not in self.config.extra_logs:
            raise KeyError(f"no extra log {name!r}; declared: {sorted(self.config.extra_logs)}")
        return self.workdir / f"{name}.log"

    @property
    def cache_log(self) -> Path:
        return self.workdir / "cache.log"

    @property
    def conf_path(self) -> Path:
        return self.workdir / "squid.conf"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("squid is not running")
        return self._proc.pid

    # -- access.log helpers ----------------------------------------------------------------------------------
    def log_offset(self, log: str | None = None) -> int:
        """Current size of access.log (or of extra log `log`): pass it as `since` to see only later lines."""
        path = self._log_path(log)
        return path.stat().st_size if path.exists() else 0

    def access_log_lines(self, since: int = 0, log: str | None = None) -> list[str]:
        """Lines of access.log (or of extra log `log`) after byte offset `since`."""
        path = self._log_path(log)
        if not path.exists():
            return []
        with path.open("rb") as fh:
            fh.seek(since)
            return fh.read().decode("utf-8", "replace").splitlines()

    def wait_for_log(self, pattern: str, *, since: int = 0, timeout: float = 10.0, log: str | None = None) -> str:
        """First line of access.log (or of extra log `log`) after offset `since` matching regex `pattern`.

        Squid writes a CONNECT line only when the tunnel closes, so close the client connection first.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.access_log_lines(since, log):
                if regex.search(line):
                    return line
            if time.monotonic() > deadline:
                lines = "\n".join(self.access_log_lines(since, log)[-20:])
                raise AssertionError(f"no line of {self._log_path(log).name} matches {pattern!r} within {timeout}s;"
                                     f" last lines:\n{lines}")
            time.sleep(0.05)

    def _log_path(self, log: str | None) -> Path:
        return self.access_log if log is None else self.extra_log(log)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def _hosts(self) -> Mapping[str, str]:
        cfg = self.config
        if cfg.hosts is not None:
            return cfg.hosts
        return {} if cfg.dns_nameserver else _default_hosts()

    def _write_files(self) -> None:
        """hosts, htpasswd and squid.conf for the current config, owned by squid's run-time user."""
        (self.workdir / "hosts").write_text("".join(f"{addr} {name}\n" for name, addr in self._hosts().items()))
        htpasswd = self.workdir / "htpasswd"
        htpasswd.write_text("")
        for user, password in self.config.basic_users.items():
            subprocess.run([self._htpasswd, "-b", str(htpasswd), user, password], check=True, capture_output=True)
        for name, data in self.config.files.items():
            (self.workdir / name).write_bytes(data)
        if self.config.ssl_db and not (self.workdir / "ssl_db").exists():
            certgen = find_squid_helper("security_file_certgen")
            subprocess.run([certgen, "-c", "-s", str(self.workdir / "ssl_db"), "-M", "4MB"], check=True,
                           capture_output=True)
        self.conf_path.write_text(self.render_config())
        if is_root():
            procs.chown_tree(self.workdir, "proxy")

    def _expand(self, text: str) -> str:
        return text.replace("{workdir}", str(self.workdir))

    def render_config(self) -> str:
        cfg = self.config
        w = self.workdir
        hosts = self._hosts()
        lines = [
            f"http_port {LOOPBACK}:{self.ports['open']} name=open {self._expand(cfg.open_port_options)}".rstrip(),
            f"http_port {LOOPBACK}:{self.ports['basic']} name=basic",
            f"http_port {LOOPBACK}:{self.ports['ntlm']} name=ntlm",
            f"visible_hostname {cfg.visible_hostname}",
            f"pid_filename {w}/squid.pid",
            f"cache_log {w}/cache.log",
            f"access_log stdio:{w}/access.log squid",
        ]
        for name, spec in cfg.extra_logs.items():
            if not name.isidentifier():
                raise ValueError(f"extra log name {name!r} must be a plain identifier")
            if spec in BUILTIN_LOG_FORMATS:
                lines.append(f"access_log stdio:{w}/{name}.log {spec}")
            else:
                lines += [f"logformat {name} {spec}", f"access_log stdio:{w}/{name}.log {name}"]
        lines += [
            "logfile_rotate 0",
            "cache deny all",
            "cache_mem 8 MB",
            f"coredump_dir {w}",
            "netdb_filename none",
            "pinger_enable off",
            f"hosts_file {w}/hosts" if hosts else "hosts_file none",
            f"dns_nameservers {cfg.dns_nameserver or LOOPBACK}",
            f"dns_timeout {cfg.dns_timeout} seconds",
            "shutdown_lifetime 0 seconds",
        ]
        lines += [
            f"auth_param basic program {self._basic_helper} {w}/htpasswd",
            "auth_param basic children 2 startup=1",
            f"auth_param basic realm {cfg.basic_realm}",
            f"auth_param ntlm program {self._ntlm_helper}",
            "auth_param ntlm children 2 startup=1",
            "auth_param ntlm keep_alive on",
            "acl p_open myportname open",
            "acl p_basic myportname basic",
            "acl p_ntlm myportname ntlm",
            "auth_schemes basic p_basic",
            "auth_schemes ntlm p_ntlm",
            f"acl SSL_ports port {' '.join(cfg.ssl_ports)}",
            f"acl Safe_ports port {' '.join(cfg.safe_ports)}",
            "acl CONNECT method CONNECT",
            "acl authed proxy_auth REQUIRED",
        ]
        if cfg.allowed_domains is not None:
            if not cfg.allowed_domains:
                raise ValueError("allowed_domains is empty: use None for 'allow every host'")
            lines.append(f"acl allowed_hosts dstdomain {' '.join(cfg.allowed_domains)}")
        if cfg.denied_domains:
            lines.append(f"acl denied_hosts dstdomain {' '.join(cfg.denied_domains)}")
        lines += [self._expand(line) for line in cfg.extra_directives]
        lines += ["http_access deny !Safe_ports", "http_access deny CONNECT !SSL_ports"]
        if cfg.auth_before_acl:
            lines += ["http_access deny p_basic !authed", "http_access deny p_ntlm !authed"]
        if cfg.denied_domains:
            lines.append("http_access deny denied_hosts")
        if cfg.allowed_domains is not None:
            lines.append("http_access deny !allowed_hosts")
        lines += [
            "http_access allow p_open",
            "http_access allow p_basic authed",
            "http_access allow p_ntlm authed",
            "http_access deny all",
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> SquidProxy:
        self.workdir = procs.fresh_workdir("aadc-squid-", self._parent_dir)
        self.ports = {"open": free_port(), "basic": free_port(), "ntlm": free_port()}
        while len(set(self.ports.values())) < 3:
            self.ports = {"open": free_port(), "basic": free_port(), "ntlm": free_port()}
        self._write_files()
        parsed = subprocess.run([self._binary, "-k", "parse", "-f", str(self.conf_path)], capture_output=True)
        if parsed.returncode != 0:
            raise RuntimeError(f"squid rejected {self.conf_path}:\n{parsed.stdout.decode()}{parsed.stderr.decode()}")
        # As root, squid is started as `proxy` directly (it would drop to it anyway): see procs.launch.
        self._proc = procs.launch([self._binary, "-N", "-f", str(self.conf_path)], self.workdir / "squid.out",
                                  run_as="proxy" if is_root() else None)
        try:
            self.startup_seconds = procs.wait_until(self._listening, timeout=self._ready_timeout, proc=self._proc,
                                                    what="squid", diagnostics=self._diagnostics)
        except BaseException:
            procs.terminate(self._proc)
            raise
        return self

    def _listening(self) -> bool:
        try:
            log = self.cache_log.read_text(errors="replace")
        except FileNotFoundError:
            return False
        return all(f"local={LOOPBACK}:{port} " in log for port in self.ports.values()) and (
            "Accepting HTTP Socket connections" in log)

    def _diagnostics(self) -> str:
        parts = []
        for name in ("squid.out", "cache.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(f"--- {path} ---\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def reconfigure(self, config: SquidConfig, timeout: float = 10.0) -> None:
        """Apply a new config to the running squid (`squid -k reconfigure`), keeping ports and logs.

        Waits until squid has re-opened its listening ports under the new config.
        """
        before = self.cache_log.read_text(errors="replace").count("Accepting HTTP Socket connections")
        self.config = config
        self._write_files()
        subprocess.run([self._binary, "-k", "reconfigure", "-f", str(self.conf_path)], check=True,
                       capture_output=True)

        def reopened() -> bool:
            count = self.cache_log.read_text(errors="replace").count("Accepting HTTP Socket connections")
            return count >= before + len(self.ports)

        procs.wait_until(reopened, timeout=timeout, proc=self._proc, what="squid reconfigure",
                         diagnostics=self._diagnostics)

    def stop(self, *, wait: bool = True) -> None:
        """SIGTERM squid. wait=False returns at once (ports are already closed) and reaps in the background."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        if wait:
            procs.terminate(proc)
            procs.remove_workdir(self.workdir)
        else:
            procs.terminate_in_background(proc, self.workdir)

    def __enter__(self) -> SquidProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
