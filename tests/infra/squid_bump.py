"""Squid set up as corporate networks chain and inspect: ssl_bump (TLS inspection) and a parent proxy.

``BumpingSquid``: squid-openssl whose open port bumps (decrypts) every CONNECT except the hosts named in
``splice``, minting certificates from an inspecting CA with ``security_file_certgen``; it trusts ``origin_ca`` for
its own outgoing TLS. Its access.log holds, per bumped tunnel, the CONNECT line and one ``GET https://...`` line
per request decrypted inside it: what `proxylog` must report as decrypted Microsoft traffic.

A parent chain needs no subclass: ``parent_directives(parent)`` gives the ``cache_peer`` lines that send every
request of a child SquidProxy through a parent SquidProxy (whose own http_access may deny).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import trustme

from .squid import SquidConfig, SquidProxy
from .tools import ComponentMissing, find_squid_helper


def parent_directives(parent: SquidProxy, port: int | None = None) -> list[str]:
    """squid.conf lines making a child forward everything (CONNECT included) to `parent`'s open port."""
    return [f"cache_peer 127.0.0.1 parent {port or parent.open_port} 0 no-query no-digest default name=corpparent",
            "never_direct allow all"]


class BumpingSquid(SquidProxy):
    """A SquidProxy whose open port is an ssl-bump port (the basic and ntlm ports stay plain)."""

    def __init__(self, config: SquidConfig, inspecting_ca: trustme.CA, origin_ca: trustme.CA, *,
                 splice: Sequence[str] = ()) -> None:
        super().__init__(config)
        self._inspecting_ca = inspecting_ca
        self._origin_ca = origin_ca
        self.splice = tuple(splice)
        try:
            self._certgen = find_squid_helper("security_file_certgen")
        except ComponentMissing as exc:
            raise ComponentMissing(f"{exc} (squid-openssl provides security_file_certgen)") from None

    def _write_files(self) -> None:
        w = self.workdir
        self._inspecting_ca.cert_pem.write_to_path(str(w / "inspect-ca.pem"))
        self._inspecting_ca.private_key_pem.write_to_path(str(w / "inspect-ca.key"))
        self._origin_ca.cert_pem.write_to_path(str(w / "origin-ca.pem"))  # in the work dir: squid's user reads it
        ssl_db = w / "ssl_db"
        if not ssl_db.exists():
            subprocess.run([self._certgen, "-c", "-s", str(ssl_db), "-M", "4MB"], check=True, capture_output=True)
        super()._write_files()  # chowns the whole work dir to squid's user when running as root

    def render_config(self) -> str:
        w = self.workdir
        open_line = f"http_port 127.0.0.1:{self.ports['open']} name=open"
        bump = (f"{open_line} ssl-bump tls-cert={w}/inspect-ca.pem tls-key={w}/inspect-ca.key "
                "generate-host-certificates=on dynamic_cert_mem_cache_size=4MB")
        base = super().render_config()
        if open_line + "\n" not in base:
            raise RuntimeError("the open port line of SquidProxy.render_config changed; update BumpingSquid")
        extra = [
            f"sslcrtd_program {self._certgen} -s {w}/ssl_db -M 4MB",
            "sslcrtd_children 2 startup=1 idle=1",
            f"tls_outgoing_options cafile={w}/origin-ca.pem",
            "acl step1 at_step SslBump1",
            "ssl_bump peek step1",
        ]
        if self.splice:
            extra += [f"acl spliced ssl::server_name {' '.join(self.splice)}", "ssl_bump splice spliced"]
        extra.append("ssl_bump bump all")
        rendered = base.replace(open_line + "\n", bump + "\n", 1)
        return rendered + "\n".join(extra) + "\n"


__all__ = ["BumpingSquid", "parent_directives"]
