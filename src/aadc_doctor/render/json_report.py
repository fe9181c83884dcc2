"""The machine-readable report (schema_version 1), scrubbed of secrets."""

from __future__ import annotations

import json

from aadc_doctor import __version__
from aadc_doctor.model import Report
from aadc_doctor.secrets import scrub


def report_to_json(report: Report) -> str:
    return scrub(json.dumps(report.to_dict(__version__), indent=2, ensure_ascii=False, default=str))
