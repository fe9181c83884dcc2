"""Every probe of every DC at once, under one deadline: the survey behind `ad dcs`."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from aadc_doctor.ad.cldap import CldapAnswer, cldap_ping
from aadc_doctor.ad.probes import (
    TCP_PORTS,
    LdapsCheck,
    PortState,
    RootDse,
    StrongAuth,
    ldaps_check,
    read_root_dse,
    simple_bind_policy,
    tcp_port,
    udp_kerberos,
)
from aadc_doctor.json_data import json_meta

_IN_ORDER = json_meta(skip=True)


@dataclass
class DcSurvey:
    """What one DC answered. `address` is None when its name did not resolve."""

    name: str
    address: str | None
    resolve_error: str = field(default="", metadata=json_meta(null_empty=True))
    # the probes, filled as they finish; json_extra writes them in the report's order (ports by number, the clock)
    ports: dict[str, PortState] = field(default_factory=dict, metadata=_IN_ORDER)
    cldap: CldapAnswer | None = field(default=None, metadata=_IN_ORDER)
    root_dse: RootDse | None = field(default=None, metadata=_IN_ORDER)
    strong_auth: StrongAuth | None = field(default=None, metadata=_IN_ORDER)
    ldaps: LdapsCheck | None = field(default=None, metadata=_IN_ORDER)
    probe_ms: float = field(default=0.0, metadata=_IN_ORDER)

    def json_extra(self) -> dict[str, Any]:
        root = self.root_dse
        return {"probe_ms": self.probe_ms, "ports": dict(ordered_ports(self.ports)), "cldap": self.cldap,
                "root_dse": root, "clock_offset_s": root.clock_offset_s() if root else None,
                "strong_auth": self.strong_auth, "ldaps": self.ldaps}


def ordered_ports(ports: dict[str, PortState]) -> list[tuple[str, PortState]]:
    """"tcp/53", "udp/88"... in port order, as the report lists them."""
    return sorted(ports.items(), key=lambda kv: _port_key(kv[0]))


def _port_key(key: str) -> tuple[int, str]:
    proto, _, port = key.partition("/")
    return int(port), proto


def _resolve(name: str, known: dict[str, list[str]]) -> tuple[str | None, str]:
    try:
        ipaddress.ip_address(name)
        return name, ""
    except ValueError:
        pass
    if known.get(name):
        return known[name][0], ""
    try:
        infos = socket.getaddrinfo(name, 389, type=socket.SOCK_STREAM)
    except OSError as exc:
        return None, exc.strerror or str(exc)
    return str(infos[0][4][0]), ""


def survey(names: list[str], *, domain: str, timeout: float, ca_file: str | None,
           known_addresses: dict[str, list[str]] | None = None) -> list[DcSurvey]:
    """Probe every DC concurrently; each probe has `timeout`, the whole survey a hard deadline of 2×timeout+2 s."""
    known = known_addresses or {}
    realm = domain.upper()
    surveys = [DcSurvey(name, None) for name in names]
    started: dict[int, float] = {}
    pending: dict[Future[Any], tuple[int, str]] = {}
    deadline = time.monotonic() + 2 * timeout + 2
    pool = ThreadPoolExecutor(max_workers=min(64, 16 * max(1, len(names))), thread_name_prefix="ad-probe")

    def submit(index: int, key: str, func: Callable[[], Any]) -> None:
        pending[pool.submit(func)] = (index, key)

    def resolved(index: int) -> None:
        dc = surveys[index]
        address, error = _resolve(dc.name, known)
        dc.address, dc.resolve_error = address, error
        return None

    for index in range(len(surveys)):
        started[index] = time.monotonic()
        submit(index, "resolve", lambda i=index: resolved(i))  # type: ignore[misc]
    finished_at: dict[int, float] = {}
    outstanding: dict[int, int] = {i: 1 for i in range(len(surveys))}
    try:
        while pending:
            done, _ = wait(list(pending), timeout=max(0.0, deadline - time.monotonic()), return_when=FIRST_COMPLETED)
            if not done:
                break
            for future in done:
                index, key = pending.pop(future)
                dc = surveys[index]
                outstanding[index] -= 1
                value = future.result()
                if key == "resolve":
                    if dc.address is not None:
                        for probe_key, func in _probes(dc.address, realm, domain, timeout, ca_file, dc.name):
                            submit(index, probe_key, func)
                            outstanding[index] += 1
                else:
                    _store(dc, key, value)
                if outstanding[index] == 0:
                    finished_at[index] = time.monotonic()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    for index, dc in enumerate(surveys):
        end = finished_at.get(index, time.monotonic())
        dc.probe_ms = round((end - started[index]) * 1000, 1)
    for index, key in pending.values():  # past the deadline: say so rather than wait
        _store(surveys[index], key, None)
    return surveys


def _probes(address: str, realm: str, domain: str, timeout: float, ca_file: str | None,
            name: str) -> list[tuple[str, Callable[[], Any]]]:
    server_name = None if _is_ip(name) else name
    probes: list[tuple[str, Callable[[], Any]]] = [
        (f"tcp/{port}", lambda p=port: tcp_port(address, p, timeout)) for port in TCP_PORTS  # type: ignore[misc]
    ]
    probes += [
        ("udp/88", lambda: udp_kerberos(address, realm, timeout)),
        ("udp/389", lambda: cldap_ping(address, domain, timeout)),
        ("root_dse", lambda: read_root_dse(address, timeout)),
        ("strong_auth", lambda: simple_bind_policy(address, timeout)),
        ("ldaps", lambda: ldaps_check(address, timeout, server_name, ca_file)),
    ]
    return probes


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _store(dc: DcSurvey, key: str, value: Any) -> None:
    late = "no answer before the survey's deadline"
    if key.startswith("tcp/"):
        dc.ports[key] = value if value is not None else PortState("timeout", error=late)
    elif key == "udp/88":
        dc.ports[key] = value if value is not None else PortState("no_answer", error=late)
    elif key == "udp/389":
        dc.cldap = value if value is not None else CldapAnswer("no_answer", error=late)
        dc.ports[key] = PortState("answered" if dc.cldap.outcome in ("ok", "bad_answer") else dc.cldap.outcome,
                                  dc.cldap.ms, dc.cldap.error)
    elif key == "root_dse":
        dc.root_dse = value if value is not None else RootDse("timeout", {}, late)
    elif key == "strong_auth":
        dc.strong_auth = value if value is not None else StrongAuth("unknown", late)
    elif key == "ldaps":
        dc.ldaps = value if value is not None else LdapsCheck("timeout", late)
