"""`collect`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass

from aadc_doctor.results.base import JsonObject


@dataclass(frozen=True)
class CollectResults:
    zip: str
    files: int
    bytes: int
    redaction_map: str | None
    messages: tuple[str, ...]
    manifest: JsonObject  # manifest.json (DESIGN.md "collect manifest") without "files"
