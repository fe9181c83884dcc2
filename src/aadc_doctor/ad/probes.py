"""Single probes of one DC, each with its own hard timeout and never raising: TCP ports, Kerberos over UDP,
the rootDSE, whether a simple bind needs TLS, and the LDAPS certificate."""

from __future__ import annotations

import secrets
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aadc_doctor.ad import ber
from aadc_doctor.ad.directory import TlsOptions, classify, close, first_text, open_and_bind
from aadc_doctor.ad.tls_certificate import CertificateInfo, describe_certificate, fetch_certificate, verify_handshake
from aadc_doctor.json_data import json_meta

TCP_PORTS = (53, 88, 135, 389, 445, 636, 3268, 3269)
ROOT_DSE_ATTRIBUTES = [
    "defaultNamingContext", "rootDomainNamingContext", "configurationNamingContext", "schemaNamingContext",
    "namingContexts", "domainFunctionality", "forestFunctionality", "domainControllerFunctionality", "currentTime",
    "dnsHostName", "serverName", "isGlobalCatalogReady", "isSynchronized", "ldapServiceName",
    "supportedSASLMechanisms",
]
FUNCTIONAL_LEVELS = {0: "2000", 1: "2003 interim", 2: "2003", 3: "2008", 4: "2008 R2", 5: "2012", 6: "2012 R2",
                     7: "2016", 10: "2025"}


@dataclass(frozen=True)
class PortState:
    state: str  # "open" | "refused" | "timeout" | "answered" | "no_answer" | "error"
    ms: float | None = None
    error: str = field(default="", metadata=json_meta(omit_empty=True))


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)


def tcp_port(address: str, port: int, timeout: float) -> PortState:
    start = time.monotonic()
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return PortState("open", _ms(start))
    except TimeoutError:
        return PortState("timeout", error=f"no answer within {timeout:g} s")
    except ConnectionRefusedError:
        return PortState("refused", _ms(start), "connection refused")
    except OSError as exc:
        return PortState("error", error=exc.strerror or str(exc))


def kerberos_as_req(realm: str) -> bytes:
    """An AS-REQ for krbtgt/REALM without pre-authentication: any KDC answers it, with a KRB-ERROR at least."""
    def ctx(n: int, content: bytes) -> bytes:
        return ber.tlv(0xA0 + n, content)

    def principal(kind: int, *names: str) -> bytes:
        return ber.tlv(0x30, ctx(0, ber.integer(kind))
                       + ctx(1, ber.tlv(0x30, b"".join(ber.octets(n, 0x1B) for n in names))))

    body = ber.tlv(0x30, ctx(0, ber.tlv(0x03, b"\x00\x40\x81\x00\x10")) + ctx(1, principal(1, "aadc-doctor-probe"))
                   + ctx(2, ber.octets(realm, 0x1B)) + ctx(3, principal(2, "krbtgt", realm))
                   + ctx(5, ber.octets("20370913024805Z", 0x18)) + ctx(7, ber.integer(secrets.randbelow(2**31)))
                   + ctx(8, ber.tlv(0x30, ber.integer(18) + ber.integer(17) + ber.integer(23))))
    return ber.tlv(0x6A, ber.tlv(0x30, ctx(1, ber.integer(5)) + ctx(2, ber.integer(10)) + ctx(4, body)))


def udp_kerberos(address: str, realm: str, timeout: float, port: int = 88) -> PortState:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    start = time.monotonic()
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.connect((address, port))
            sock.send(kerberos_as_req(realm or "WORKGROUP"))
            answer = sock.recv(65535)
    except TimeoutError:
        return PortState("no_answer", error=f"no answer within {timeout:g} s")
    except ConnectionRefusedError:
        return PortState("refused", _ms(start), "port unreachable (ICMP)")
    except OSError as exc:
        return PortState("error", error=exc.strerror or str(exc))
    if answer[:1] in (b"\x7e", b"\x6b"):  # KRB-ERROR or AS-REP
        return PortState("answered", _ms(start))
    return PortState("error", _ms(start), "the answer is not Kerberos")


@dataclass(frozen=True)
class RootDse:
    """The DC's rootDSE; as JSON its attributes as read, with the functional levels spelt out."""

    outcome: str  # "ok" | "not_ad" | the LinkFailure kinds
    attributes: dict[str, Any] = field(metadata=json_meta(skip=True))  # json_extra writes them after the error
    error: str = field(default="", metadata=json_meta(skip=True))
    # this machine's clock when the answer arrived (mid-point)
    local_time: datetime | None = field(default=None, metadata=json_meta(skip=True))

    def json_extra(self) -> dict[str, Any]:
        attrs = self.attributes
        return {"error": self.error or None, **attrs,
                "domain_functional_level": functional_level(attrs.get("domainFunctionality")),
                "forest_functional_level": functional_level(attrs.get("forestFunctionality")),
                "dc_functional_level": functional_level(attrs.get("domainControllerFunctionality"))}

    def current_time(self) -> datetime | None:
        text = self.attributes.get("currentTime")
        if not isinstance(text, str):
            return None
        try:
            return datetime.strptime(text.split(".")[0].rstrip("Z"), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        except ValueError:
            return None

    def clock_offset_s(self) -> float | None:
        """DC clock minus this machine's clock, seconds (the DC reports whole seconds)."""
        dc_time = self.current_time()
        if dc_time is None or self.local_time is None:
            return None
        return round((dc_time - self.local_time).total_seconds(), 1)


def read_root_dse(address: str, timeout: float, port: int = 389) -> RootDse:
    from aadc_doctor.ad.directory import search_one

    outcome = open_and_bind(address, "ldap", timeout, TlsOptions(), port=port)
    if outcome.failure is not None or outcome.connection is None:
        failure = outcome.failure
        return RootDse(failure.kind if failure else "error", {}, failure.message if failure else "")
    before = datetime.now(UTC)
    entry = search_one(outcome.connection, "", "(objectClass=*)", ROOT_DSE_ATTRIBUTES, scope="BASE")
    after = datetime.now(UTC)
    answered = bool(outcome.connection.result) and outcome.connection.result.get("type") == "searchResDone"
    close(outcome.connection)
    if entry is None and not answered:
        return RootDse("not_ldap", {}, "the server accepted the connection but did not answer in LDAP")
    if entry is None:
        return RootDse("not_ad", {}, "the server answered on LDAP but returned no rootDSE")
    attrs: dict[str, Any] = {}
    for name in ROOT_DSE_ATTRIBUTES:
        values = entry.get(name)
        if not values:
            continue
        texts = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]
        attrs[name] = texts if name in ("namingContexts", "supportedSASLMechanisms") else texts[0]
    outcome_kind = "ok" if "defaultNamingContext" in attrs and "domainFunctionality" in attrs else "not_ad"
    return RootDse(outcome_kind, attrs, "" if outcome_kind == "ok" else
                   "its rootDSE has no defaultNamingContext/domainFunctionality (an LDAP server, not AD)",
                   before + (after - before) / 2)


@dataclass(frozen=True)
class StrongAuth:
    state: str  # "required" | "not_required" | "unknown"
    message: str = field(default="", metadata=json_meta(null_empty=True))


def simple_bind_policy(address: str, timeout: float, port: int = 389) -> StrongAuth:
    """A simple bind over plain LDAP as a name that cannot exist: strongerAuthRequired (8) means the DC demands
    signing or TLS; invalidCredentials (49) means it would have checked a password sent in clear text."""
    probe_password = secrets.token_urlsafe(18)
    outcome = open_and_bind(address, "ldap", timeout, TlsOptions(),
                            user="CN=aadc-doctor-probe-no-such-account", password=probe_password, port=port)
    close(outcome.connection)
    if outcome.failure is not None:
        return StrongAuth("unknown", outcome.failure.message)
    if outcome.result == 8:
        return StrongAuth("required", outcome.message or outcome.description)
    if outcome.result in (49, 34, 0):  # invalid credentials / invalid DN syntax / (anonymous allowed)
        return StrongAuth("not_required", outcome.description)
    return StrongAuth("unknown", f"{outcome.description}: {outcome.message}")


@dataclass(frozen=True)
class LdapsCheck:
    outcome: str  # "trusted" | "untrusted" | "reset" | "failed" | "timeout" | "refused"
    error: str = field(default="", metadata=json_meta(null_empty=True))
    certificate: CertificateInfo | None = None


def ldaps_check(address: str, timeout: float, server_name: str | None, ca_file: str | None,
                port: int = 636) -> LdapsCheck:
    try:
        der = fetch_certificate(address, port, timeout, server_name)
    except (OSError, ssl.SSLError) as exc:
        failure = classify(exc)
        kind = {"tls_reset": "reset", "timeout": "timeout", "refused": "refused"}.get(failure.kind, "failed")
        return LdapsCheck(kind, failure.message)
    info = describe_certificate(der)
    try:
        problem = verify_handshake(address, port, timeout, server_name, ca_file)
    except (OSError, ssl.SSLError) as exc:
        return LdapsCheck("failed", classify(exc).message, info)
    return LdapsCheck("trusted" if problem is None else "untrusted", problem or "", info)


def functional_level(value: Any) -> str | None:
    text = first_text(value) if isinstance(value, list) else value
    try:
        number = int(text) if text is not None else None
    except (TypeError, ValueError):
        return None
    return None if number is None else f"{number} (Windows Server {FUNCTIONAL_LEVELS.get(number, '?')})"
