"""A real mitmproxy (mitmdump) on 127.0.0.1: a TLS-inspecting proxy with its own CA, some hosts passed through.

mitmproxy pins its own dependencies, so it lives in its own venv (`.venv-tools`, made by scripts/_venv.sh) and runs
as a subprocess. It resolves names with the C library: nss_wrapper points the lab names at 127.0.0.1 for this
process only. It trusts the lab CA towards the origins (ssl_verify_upstream_trusted_ca).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from . import procs
from .hosts import LAB_HOSTS
from .ports import LOOPBACK, free_port
from .tinyproxy import private_hosts_env
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
    (TLS not intercepted); hosts: name -> address for name resolution (default LAB_HOSTS -> 127.0.0.1)."""

    upstream_ca: Path
    ignore_hosts: Sequence[str] = ()
    hosts: Mapping[str, str] | None = None


class Mitmproxy:
    """`mitmdump` in a fresh work dir (its confdir: the CA it generates is `ca_cert`)."""

    def __init__(self, config: MitmConfig, *, ready_timeout: float = 30.0) -> None:
        self.config = config
        self._binary = find_mitmdump()
        self._ready_timeout = ready_timeout
        self.workdir = Path()
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

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
        self.workdir = procs.fresh_workdir("aadc-mitmproxy-")
        self.port = free_port()
        hosts = self.config.hosts if self.config.hosts is not None else {h: LOOPBACK for h in LAB_HOSTS}
        (self.workdir / "hosts").write_text("".join(f"{addr} {name}\n" for name, addr in hosts.items()))
        argv = [self._binary, "--listen-host", LOOPBACK, "--listen-port", str(self.port),
                "--set", f"confdir={self.workdir}",
                "--set", f"ssl_verify_upstream_trusted_ca={self.config.upstream_ca}", "--set", "flow_detail=1"]
        for pattern in self.config.ignore_hosts:
            argv += ["--ignore-hosts", pattern]
        self._proc = procs.launch(argv, self.output, env=private_hosts_env(self.workdir / "hosts"))
        try:
            procs.wait_until(self._listening, timeout=self._ready_timeout, proc=self._proc, what="mitmdump",
                             diagnostics=lambda: self.output.read_text(errors="replace")[-3000:])
        except BaseException:
            procs.terminate(self._proc)
            raise
        return self

    def _listening(self) -> bool:
        try:
            text = self.output.read_text(errors="replace")
        except FileNotFoundError:
            return False
        return "proxy listening" in text and self.ca_cert.exists()

    def stop(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        procs.terminate(proc)

    def __enter__(self) -> Mitmproxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
