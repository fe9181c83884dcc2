"""`explain`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aadc_doctor.results.base import JsonObject

if TYPE_CHECKING:
    from aadc_doctor.explain.lookup import Reading


@dataclass(frozen=True)
class ExplainResults:
    entries: tuple[Reading, ...]
    matched_by: str  # "code", "relevance" or "none"
    unknown: tuple[str, ...]
    suggestions: tuple[str, ...]
    request_ids: tuple[JsonObject, ...]
