"""The running lab: PKI, origin, DNS server and any number of proxies, on one background event loop.

``with Lab() as lab:`` starts everything on 127.0.0.1 with free ports and stops every server and the loop
thread on the way out, also when the block ends with an exception or Ctrl-C.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType

from aadc_doctor.lab.ca import LabFiles, LabPki, catalog_hosts, impersonated
from aadc_doctor.lab.dns import LabDns
from aadc_doctor.lab.loop import BackgroundLoop
from aadc_doctor.lab.origin import LOOPBACK, LabOrigin
from aadc_doctor.lab.proxy import AccessLog, LabProxy, ProxyPolicy


class Lab:
    """Local stand-ins for the Microsoft endpoints, the corporate proxy and the internal DNS."""

    def __init__(self, workdir: Path | None = None) -> None:
        self._own_tmp: tempfile.TemporaryDirectory[str] | None = None
        self._workdir = workdir
        self._loop = BackgroundLoop()
        self.pki = LabPki()
        self.origin = LabOrigin(self.pki)
        self.dns = LabDns()
        # a DNS filter's sinkhole: every Microsoft name the catalog probes answers 127.0.0.1 (no lab option
        # declares that answer expected, so `check` must call it DNS filtering and never connect to it)
        self.filtering_dns = LabDns({host: LOOPBACK for host in catalog_hosts()})
        self.proxies: list[LabProxy] = []
        self._files: LabFiles | None = None
        self._access_log: AccessLog | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> Lab:
        if self._workdir is None:
            self._own_tmp = tempfile.TemporaryDirectory(prefix="aadc-doctor-lab-")
            self._workdir = Path(self._own_tmp.name)
        self._files = self.pki.write(self._workdir)
        self._access_log = AccessLog(self._workdir / "access.log")
        self._loop.start()
        try:
            self._loop.run(self.origin.start())
            self._loop.run(self.dns.start())
            self._loop.run(self.filtering_dns.start())
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop every proxy, the origin, the DNS server and the loop thread; remove the lab's temp dir."""
        if self._loop.running:
            for proxy in self.proxies:
                self._loop.run(proxy.close(), timeout=10.0)
            self._loop.run(self.origin.close(), timeout=10.0)
            self._loop.run(self.dns.close(), timeout=10.0)
            self._loop.run(self.filtering_dns.close(), timeout=10.0)
        self._loop.stop()
        self.proxies = []
        if self._own_tmp is not None:
            self._own_tmp.cleanup()
            self._own_tmp = None

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- what clients of the lab need ---------------------------------------------------------------------------

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("the lab is not started")
        return self._workdir

    @property
    def files(self) -> LabFiles:
        if self._files is None:
            raise RuntimeError("the lab is not started")
        return self._files

    @property
    def access_log(self) -> AccessLog:
        if self._access_log is None:
            raise RuntimeError("the lab is not started")
        return self._access_log

    def add_proxy(self, policy: ProxyPolicy) -> LabProxy:
        """Start one more proxy with its own policy (all proxies write the lab's one access.log)."""
        proxy = LabProxy(policy, self.route, self.access_log, inspection_certs=self.pki.inspection_certs,
                         origin_trust=self.pki.client_context())
        self._loop.run(proxy.start())
        self.proxies.append(proxy)
        return proxy

    def route(self, host: str, port: int) -> tuple[str, int] | None:
        """Where the proxy sends host:port: the origin's HTTPS or HTTP port for a name the lab impersonates."""
        if not impersonated(host):
            return None
        if port == 443:
            return LOOPBACK, self.origin.https_port
        if port == 80:
            return LOOPBACK, self.origin.http_port
        return None
