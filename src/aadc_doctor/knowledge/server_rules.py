"""Version deadlines, TLS rules and product names for the rules read from a server's own files (data in
``data/server_rules.toml``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from aadc_doctor.knowledge import read_toml

Version = tuple[int, ...]


def parse_version(text: str) -> Version | None:
    """``2.4.129.0`` → (2, 4, 129, 0); None when it is not dotted numbers."""
    parts = text.strip().split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


@dataclass(frozen=True)
class Deadline:
    id: str
    min_version: Version
    min_version_text: str
    date: date
    needs_app_auth: bool
    title_before: str
    title_after: str
    detail: str
    remedy: str
    references: tuple[str, ...]


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    any: tuple[str, ...]
    none: tuple[str, ...]
    profiles: tuple[str, ...]

    def matches(self, display_name: str) -> bool:
        low = display_name.lower()
        return any(a.lower() in low for a in self.any) and not any(n.lower() in low for n in self.none)


@dataclass(frozen=True)
class TlsRules:
    mandatory_from: Version
    explicit_from: Version
    explicit_through: Version
    dotnet_keys: tuple[str, ...]
    dotnet_values: dict[str, int]
    schannel_base: str
    findings: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class ServerRules:
    deadlines: tuple[Deadline, ...]
    products: tuple[Product, ...]
    tls: TlsRules
    references: dict[str, str]

    def product_for(self, display_name: str) -> Product | None:
        return next((p for p in self.products if p.matches(display_name)), None)

    def urls(self, keys: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.references[k] for k in keys)


def _version(text: str) -> Version:
    parsed = parse_version(text)
    if parsed is None:
        raise ValueError(f"server_rules.toml: bad version {text!r}")
    return parsed


@cache
def load_server_rules() -> ServerRules:
    data = read_toml("server_rules.toml")
    refs: dict[str, str] = data["references"]
    deadlines = tuple(
        Deadline(id=d["id"], min_version=_version(d["min_version"]), min_version_text=d["min_version"],
                 date=date.fromisoformat(d["date"]), needs_app_auth=bool(d["needs_app_auth"]),
                 title_before=d["title_before"], title_after=d["title_after"], detail=d["detail"],
                 remedy=d["remedy"], references=tuple(d["references"]))
        for d in data["deadline"])
    products = tuple(Product(p["id"], p["name"], tuple(p["any"]), tuple(p["none"]), tuple(p["profiles"]))
                     for p in data["product"])
    t = data["tls"]
    tls = TlsRules(mandatory_from=_version(t["mandatory_from"]), explicit_from=_version(t["explicit_from"]),
                   explicit_through=_version(t["explicit_through"]), dotnet_keys=tuple(t["dotnet_keys"]),
                   dotnet_values=dict(t["dotnet_values"]), schannel_base=t["schannel_base"],
                   findings=dict(t["findings"]))
    for key, spec in tls.findings.items():
        unknown = [r for r in spec.get("references", []) if r not in refs]
        if unknown:
            raise ValueError(f"server_rules.toml [tls.findings.{key}]: unknown references {unknown}")
    return ServerRules(deadlines, products, tls, refs)
