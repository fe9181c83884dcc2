"""Active Directory knowledge (data/ad_findings.toml): finding texts of `ad`, bit names, bind data codes."""

from __future__ import annotations

from functools import cache
from typing import Any

from aadc_doctor.knowledge import read_toml
from aadc_doctor.knowledge.findings import FindingTemplate, load_finding_templates

_FILE = "ad_findings.toml"


def _data() -> dict[str, Any]:
    return read_toml(_FILE)


@cache
def templates(section: str) -> dict[str, FindingTemplate]:
    """The strict finding templates of one command: "dcs", "logon" or "sso"."""
    return load_finding_templates(_FILE, section, lenient=False)


def _flags(section: str) -> tuple[tuple[int, str], ...]:
    return tuple(sorted((int(bit, 16), name) for bit, name in _data()[section].items()))


@cache
def uac_flags() -> tuple[tuple[int, str], ...]:
    return _flags("uac_flags")


@cache
def enctype_flags() -> tuple[tuple[int, str], ...]:
    return _flags("enctype_flags")


@cache
def ticket_enctypes() -> dict[int, str]:
    return {int(k, 16): v for k, v in _data()["ticket_enctypes"].items()}


@cache
def bind_data_codes() -> dict[str, int]:
    """AcceptSecurityContext `data` code (lower-case hex) -> Win32 code the agent's trace logs."""
    return {k.lower(): int(v) for k, v in _data()["bind_data"].items()}


def flag_names(value: int, table: tuple[tuple[int, str], ...]) -> list[str]:
    """Names of the bits set in value; unknown bits as hex."""
    names = [name for bit, name in table if value & bit]
    rest = value & ~sum(bit for bit, _ in table)
    if rest:
        names.append(hex(rest))
    return names


@cache
def port_purposes() -> dict[int, str]:
    return {int(k): v for k, v in _data()["text"]["port_purpose"].items()}


@cache
def sso_account() -> dict[str, Any]:
    return dict(_data()["sso_account"])
