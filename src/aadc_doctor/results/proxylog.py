"""`proxylog`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aadc_doctor.json_data import json_meta

if TYPE_CHECKING:
    from aadc_doctor.analysis.proxylog_summary import ProxyLogSummary
    from aadc_doctor.logs.proxylog_reader import BadLineSample, ProxyLogFile


@dataclass(frozen=True)
class ProxylogResults:
    format: str
    files: tuple[ProxyLogFile, ...]
    # ProxyLogAnalysis.results(): endpoints, phases, clients... (its keys sit beside format and files in the JSON)
    analysis: ProxyLogSummary = field(metadata=json_meta(flatten=True))
    bad_line_samples: tuple[BadLineSample, ...] = ()
