"""`proxylog`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aadc_doctor.json_data import json_meta
from aadc_doctor.results.base import JsonObject

if TYPE_CHECKING:
    from aadc_doctor.logs.proxylog_reader import BadLineSample, ProxyLogFile


@dataclass(frozen=True)
class ProxylogResults:
    format: str
    files: tuple[ProxyLogFile, ...]
    # ProxyLogAnalysis.results(): endpoints, phases, clients...
    analysis: JsonObject = field(metadata=json_meta(flatten=True))
    bad_line_samples: tuple[BadLineSample, ...] = ()
