"""A real Samba AD domain controller on a dedicated loopback address, with users in every logon state.

Recipe and pitfalls: docs/notes/test-infra.md section 3. What this module adds to that recipe:
- the DC listens on its own loopback address (a random free 127.x.y.z unless given, added to `lo` as a /32 and
  removed again at stop), so the fixed LDAP ports 389/636/3268/3269 never clash with anything else, not even
  another test run on the same machine;
- users are written with one `ldbadd` (unicodePwd) instead of one `samba-tool` per user (0.7 s instead of ~4 s);
- `faketime` backdates the keys of `expired` and of the AZUREADSSOACC computer account;
- `clone(address, strong_auth=True)` starts a second DC process from a copy of the same database with
  `ldap server require strong auth = yes` (simple binds on 389 get strongerAuthRequired), no second provision.

Needs root (ports below 1024, `ip addr add`) and the Debian packages samba, samba-dsdb-modules,
samba-ad-provision, ldb-tools, faketime. Anything missing raises ComponentMissing, which fails the test.

Used by tests/integration/test_ad_*.py through the `samba_dc` / `samba_dc_strong` fixtures and by bench/ad.py.
The Windows lane can reuse a running DC: `SambaDC.start()` then point `aadc-doctor ad logon USER --dc ADDRESS`
at `dc.address` (LDAPS on 636 needs `--insecure-tls` or `--ca-file dc.ca_file`).
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from . import procs
from .ports import spare_loopback_address
from .tools import ComponentMissing, find_tool, is_root

REALM = "CONTOSO.TEST"
DOMAIN = "contoso.test"
NETBIOS = "CONTOSO"
BASE_DN = "DC=contoso,DC=test"
ADMIN_PASSWORD = "Adm1n!Passw0rd"
USER_PASSWORD = "Us3r!Passw0rd"
LOCKOUT_THRESHOLD = 3
DC_TCP_PORTS = (88, 389, 464, 636, 3268, 3269)
DC_UDP_PORTS = (88, 389, 464)
SSO_KEY_DATE = "2026-01-01 00:00:00"  # AZUREADSSOACC's key is set on this day (faketime): months old
EXPIRED_PASSWORD_DATE = "2020-01-01 00:00:00"  # older than the default maximum password age (42 days)
WORKSTATION = "NOTTHISPC"  # the only computer `wks` may log on to

# user -> the AcceptSecurityContext `data` code a simple bind with USER_PASSWORD returns
USERS: dict[str, str | None] = {
    "alice": None,
    "wrongpw": "52e",  # bound with a wrong password by the tests
    "disabled": "533",
    "mustchange": "773",
    "expired": "532",
    "acctexp": "701",
    "hours": "530",
    "wks": "531",
    "lockme": "775",  # after LOCKOUT_THRESHOLD wrong passwords
    "planted": "52e",  # bound with PLANTED_PASSWORD by the secrecy test
}
PLANTED_PASSWORD = "Pl4nted-S3cret-7q"  # searched for in every output of the secrecy tests


def _unicode_pwd(password: str) -> str:
    return base64.b64encode(f'"{password}"'.encode("utf-16-le")).decode()


def _filetime(moment: datetime) -> int:
    return int((moment - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10_000_000)


@dataclass
class SambaDC:
    """A running `samba -i -M single` DC. ``with SambaDC() as dc:`` -> dc.address, dc.upn("alice")."""

    address: str = ""  # empty: a random free 127.x.y.z, so parallel test runs never clash
    strong_auth: bool = False
    parent_dir: Path | None = None
    ready_timeout: float = 90.0
    workdir: Path = field(default_factory=Path)
    timings: dict[str, float] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = None
    _added_address: bool = False

    realm = REALM
    domain = DOMAIN
    base_dn = BASE_DN
    admin_password = ADMIN_PASSWORD
    user_password = USER_PASSWORD

    @property
    def admin_upn(self) -> str:
        return f"Administrator@{DOMAIN}"

    def upn(self, user: str) -> str:
        return f"{user}@{DOMAIN}"

    @property
    def dc_dir(self) -> Path:
        return self.workdir / "dc"

    @property
    def conf_path(self) -> Path:
        return self.dc_dir / "etc" / "smb.conf"

    @property
    def sam(self) -> Path:
        return self.dc_dir / "private" / "sam.ldb"

    @property
    def ca_file(self) -> Path:
        """The self-signed CA Samba generated for LDAPS (exists once the DC has started)."""
        return self.dc_dir / "private" / "tls" / "ca.pem"

    # ---- lifecycle -----------------------------------------------------------------------------

    def prepare(self) -> SambaDC:
        """Provision the domain and add the objects (the slow part), without starting the server."""
        self._check_prerequisites()
        if not self.address:
            self.address = spare_loopback_address(tcp_ports=DC_TCP_PORTS, udp_ports=DC_UDP_PORTS)
        if not self.workdir.parts:
            self.workdir = procs.fresh_workdir("aadc-samba-", self.parent_dir)
            t0 = time.monotonic()
            self._provision()
            self.timings["provision_s"] = time.monotonic() - t0
            t0 = time.monotonic()
            self._add_objects()
            self.timings["objects_s"] = time.monotonic() - t0
        return self

    def start(self) -> SambaDC:
        self.prepare()
        self._write_conf()
        self._ensure_address()
        t0 = time.monotonic()
        self._proc = procs.launch(["samba", "-i", "-M", "single", "-s", str(self.conf_path)],
                                  self.workdir / "samba.out")
        try:
            procs.wait_until(self._listening, timeout=self.ready_timeout, proc=self._proc,
                             what="samba", diagnostics=self._diagnostics)
        except BaseException:
            self.stop()
            raise
        self.timings["start_s"] = time.monotonic() - t0
        return self

    def clone(self, address: str = "", *, strong_auth: bool = True) -> SambaDC:
        """A second DC process over a copy of this database (same users, same domain), not yet started.

        Call it after `prepare()` and before `start()`: the files are copied while no server writes them.
        """
        other = SambaDC(address=address or spare_loopback_address(tcp_ports=DC_TCP_PORTS, udp_ports=DC_UDP_PORTS),
                        strong_auth=strong_auth, parent_dir=self.parent_dir, ready_timeout=self.ready_timeout)
        other.workdir = procs.fresh_workdir("aadc-samba-", self.parent_dir)
        shutil.copytree(self.dc_dir, other.dc_dir, symlinks=True,
                        ignore=shutil.ignore_patterns("*.pid", "log.*", "cache", "sockets", "msg.lock"))
        (other.dc_dir / "cache").mkdir(exist_ok=True)
        return other

    def share_tls_from(self, other: SambaDC) -> None:
        """Use the LDAPS key and CA `other` generated at its first start, so one CA file trusts both DCs."""
        shutil.copytree(other.dc_dir / "private" / "tls", self.dc_dir / "private" / "tls", dirs_exist_ok=True)

    def stop(self) -> None:
        if self._proc is not None:
            proc, self._proc = self._proc, None
            procs.terminate(proc)
        if self._added_address:
            subprocess.run(["ip", "addr", "del", f"{self.address}/32", "dev", "lo"], capture_output=True)
            self._added_address = False
        if self.workdir.parts:
            procs.remove_workdir(self.workdir)

    def __enter__(self) -> SambaDC:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- state changes tests need ----------------------------------------------------------------

    def unlock(self, user: str) -> None:
        self._tool("user", "unlock", user)

    def ldbmodify(self, ldif: str) -> None:
        argv = [find_tool("ldbmodify"), "-H", str(self.sam)]
        done = subprocess.run(argv, input=ldif.encode(), capture_output=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"ldbmodify failed: {done.stderr.decode(errors='replace')}")

    # ---- internals -------------------------------------------------------------------------------

    def _check_prerequisites(self) -> None:
        if not is_root():
            raise ComponentMissing("the Samba AD DC needs root (LDAP ports 389/636 and a loopback address)")
        for tool in ("samba", "samba-tool", "ldbadd", "ldbmodify", "faketime", "ip"):
            find_tool(tool)

    def _provision(self) -> None:
        done = subprocess.run(
            [find_tool("samba-tool"), "domain", "provision", f"--targetdir={self.dc_dir}", f"--realm={REALM}",
             f"--domain={NETBIOS}", "--server-role=dc", "--dns-backend=NONE", f"--adminpass={ADMIN_PASSWORD}",
             "--host-name=dc1", f"--host-ip={self.address}"],
            capture_output=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"samba-tool domain provision failed:\n{done.stdout.decode()[-3000:]}"
                               f"{done.stderr.decode()[-3000:]}")
        (self.dc_dir / "cache").mkdir(exist_ok=True)

    def _write_conf(self) -> None:
        d = self.dc_dir
        self.conf_path.write_text(f"""[global]
\tnetbios name = DC1
\trealm = {REALM}
\tworkgroup = {NETBIOS}
\tserver role = active directory domain controller
\tserver services = ldap cldap kdc
\tinterfaces = {self.address}
\tbind interfaces only = yes
\tldap server require strong auth = {"yes" if self.strong_auth else "no"}
\tprivate dir = {d}/private
\tlock directory = {d}
\tpid directory = {d}
\tstate directory = {d}/state
\tcache directory = {d}/cache
\tbinddns dir = {d}/bind-dns
\tlog file = {d}/log.%m
\tlog level = 1
""")

    def _add_objects(self) -> None:
        """Every user, the lockout policy and AZUREADSSOACC, in three ldb calls."""
        pwd = _unicode_pwd(USER_PASSWORD)
        users = [
            f"dn: CN={u},CN=Users,{BASE_DN}\nobjectClass: user\nsAMAccountName: {u}\n"
            f"userPrincipalName: {u}@{DOMAIN}\nunicodePwd:: {pwd}\nuserAccountControl: 512\n"
            for u in USERS
        ]
        sso = (f"dn: CN=AZUREADSSOACC,CN=Computers,{BASE_DN}\nobjectClass: computer\n"
               "sAMAccountName: AZUREADSSOACC$\nuserAccountControl: 4096\n"
               "description: Microsoft Entra ID Seamless SSO (test double)\n"
               "servicePrincipalName: HTTP/autologon.microsoftazuread-sso.com\n"
               "servicePrincipalName: HTTP/aadg.windows.net.nsatc.net\n"
               "msDS-SupportedEncryptionTypes: 4\n")
        done = subprocess.run([find_tool("ldbadd"), "-H", str(self.sam)], input="\n".join([*users, sso]).encode(),
                              capture_output=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"ldbadd failed: {done.stderr.decode(errors='replace')}")
        # pwdLastSet follows the clock of whoever sets the password; ldbmodify ignores faketime, samba-tool does not
        self._tool("user", "setpassword", "expired", f"--newpassword={USER_PASSWORD}", fake_time=EXPIRED_PASSWORD_DATE)
        self._tool("user", "setpassword", "AZUREADSSOACC$", "--newpassword=Sso!Key-0ld", fake_time=SSO_KEY_DATE)
        zero21 = base64.b64encode(bytes(21)).decode()
        expiry = _filetime(datetime.now(UTC) - timedelta(days=1))
        self.ldbmodify("\n".join([
            f"dn: {BASE_DN}\nchangetype: modify\nreplace: lockoutThreshold\nlockoutThreshold: {LOCKOUT_THRESHOLD}\n",
            f"dn: CN=disabled,CN=Users,{BASE_DN}\nchangetype: modify\nreplace: userAccountControl\n"
            "userAccountControl: 514\n",
            f"dn: CN=mustchange,CN=Users,{BASE_DN}\nchangetype: modify\nreplace: pwdLastSet\npwdLastSet: 0\n",
            f"dn: CN=acctexp,CN=Users,{BASE_DN}\nchangetype: modify\nreplace: accountExpires\n"
            f"accountExpires: {expiry}\n",
            f"dn: CN=hours,CN=Users,{BASE_DN}\nchangetype: modify\nreplace: logonHours\nlogonHours:: {zero21}\n",
            f"dn: CN=wks,CN=Users,{BASE_DN}\nchangetype: modify\nreplace: userWorkstations\n"
            f"userWorkstations: {WORKSTATION}\n",
        ]))

    def _tool(self, *args: str, fake_time: str | None = None) -> None:
        argv = [find_tool("samba-tool"), *args, "-s", str(self.conf_path), "-H", str(self.sam)]
        if fake_time:
            argv = [find_tool("faketime"), fake_time, *argv]
        done = subprocess.run(argv, capture_output=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"samba-tool {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")

    def _ensure_address(self) -> None:
        shown = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True)
        if f" {self.address}/" in shown.stdout:
            return
        done = subprocess.run(["ip", "addr", "add", f"{self.address}/32", "dev", "lo"], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise ComponentMissing(f"cannot add {self.address} to lo: {done.stderr.strip()}")
        self._added_address = True

    def _listening(self) -> bool:
        try:
            with socket.create_connection((self.address, 636), timeout=0.2):
                pass
            with socket.create_connection((self.address, 389), timeout=0.2):
                return True
        except OSError:
            return False

    def _diagnostics(self) -> str:
        out = self.workdir / "samba.out"
        return out.read_text(errors="replace")[-4000:] if out.exists() else "(no samba output)"


def serve(argv: list[str] | None = None) -> int:
    """`python -m tests.infra.samba [--seconds N] [--env-file FILE]`: start the DC for another process (the Windows
    lane, a manual check), write where it is as KEY=VALUE lines, keep it up until SIGTERM/SIGINT or N seconds."""
    import argparse
    import signal
    import threading

    parser = argparse.ArgumentParser(prog="python -m tests.infra.samba", description=serve.__doc__)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--env-file", type=Path)
    parser.add_argument("--address", default="", help="loopback address to listen on (default: a free 127.x.y.z)")
    args = parser.parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    start = time.monotonic()
    with SambaDC(address=args.address) as dc:
        lines = [f"AD_DC_ADDRESS={dc.address}", f"AD_DC_NAME=dc1.{DOMAIN}", f"AD_DOMAIN={DOMAIN}",
                 f"AD_CA_FILE={dc.ca_file}", f"AD_USER_PASSWORD={USER_PASSWORD}", f"AD_ADMIN_UPN={dc.admin_upn}",
                 f"AD_ADMIN_PASSWORD={ADMIN_PASSWORD}", f"AD_STARTUP_SECONDS={time.monotonic() - start:.1f}"]
        if args.env_file:
            args.env_file.write_text("\n".join(lines) + "\n")
        print("\n".join(lines), flush=True)
        done.wait(args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(serve())
