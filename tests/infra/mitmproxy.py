"""A real mitmproxy (mitmdump) on 127.0.0.1: a TLS-inspecting proxy with its own CA, some hosts passed through.

mitmproxy pins its own dependencies, so it lives in its own venv (`.venv-tools`, made by scripts/_venv.sh) and runs
as a subprocess. It resolves names with the C library: nss_wrapper points the lab names at 127.0.0.1 for this
process only. It trusts the lab CA towards the origins (ssl_verify_upstream_trusted_ca).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import procs
from .hosts import LAB_HOSTS, private_hosts_env
from .ports import LOOPBACK, free_port
from .tools import INSTALL_HINT, ComponentMissing

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_VENV = REPO_ROOT / ".venv-tools"


def find_mitmdump() -> str:
    for candidate in (TOOLS_VENV / "bin" / "mitmdump", shutil.which("mitmdump")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise ComponentMissing(f"mitmdump is not installed (expected in {TOOLS_VENV}, made by scripts/_venv.sh: "
                           f"python3 -m venv .venv-tools && .venv-tools/bin/pip install mitmproxy); {INSTALL_HINT}")


@dataclass(frozen=True)
class MitmConfig:
    """upstream_ca: PEM mitmproxy trusts towards the origins; ignore_hosts: regexes passed through untouched
    (TLS not intercepted); hosts: name -> address for name resolution (default LAB_HOSTS -> 127.0.0.1);
    addons: mitmproxy addon scripts (`-s`), e.g. tests/infra/mitm_addons/ (a secure web gateway's policy),
    configured by addon_env."""

    upstream_ca: Path
    ignore_hosts: Sequence[str] = ()
    hosts: Mapping[str, str] | None = None
    addons: Sequence[Path] = ()
    addon_env: Mapping[str, str] = field(default_factory=dict)  # settings the addons read


class Mitmproxy(procs.LabDaemon):
    """`mitmdump` in a fresh work dir (its confdir: the CA it generates is `ca_cert`)."""

    what = "mitmdump"
    workdir_prefix = "aadc-mitmproxy-"
    diagnostic_files = ("mitmdump.out",)

    def __init__(self, config: MitmConfig, *, ready_timeout: float = 30.0) -> None:
        super().__init__(ready_timeout=ready_timeout)
        self.config = config
        self._binary = find_mitmdump()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def ca_cert(self) -> Path:
        """mitmproxy's own CA certificate (what an admin would deploy to make the inspection trusted)."""
        return self.workdir / "mitmproxy-ca-cert.pem"

    @property
    def output(self) -> Path:
        return self.workdir / "mitmdump.out"

    def start(self) -> Mitmproxy:
        self._new_workdir()
        self.port = free_port()
        hosts = self.config.hosts if self.config.hosts is not None else {h: LOOPBACK for h in LAB_HOSTS}
        (self.workdir / "hosts").write_text("".join(f"{addr} {name}\n" for name, addr in hosts.items()))
        argv = [self._binary, "--listen-host", LOOPBACK, "--listen-port", str(self.port),
                "--set", f"confdir={self.workdir}",
                "--set", f"ssl_verify_upstream_trusted_ca={self.config.upstream_ca}", "--set", "flow_detail=1"]
        for pattern in self.config.ignore_hosts:
            argv += ["--ignore-hosts", pattern]
        for script in self.config.addons:
            argv += ["-s", str(script)]
        env = {**private_hosts_env(self.workdir / "hosts"), **self.config.addon_env}
        self._run(argv, self.output.name, env=env)
        return self

    def _ready(self) -> bool:
        try:
            text = self.output.read_text(errors="replace")
        except FileNotFoundError:
            return False
        return "proxy listening" in text and self.ca_cert.exists()
