"""`helpmsg`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aadc_doctor.json_data import json_meta


@dataclass(frozen=True)
class HelpmsgResults:
    input: str
    code: int
    hex: str
    found: bool
    name: str | None
    message: str | None
    text: str
    note: str | None = field(default=None, metadata=json_meta(omit_none=True))
