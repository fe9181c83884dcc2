"""The machine-readable report (schema_version 1), scrubbed of secrets and safe to print on a terminal."""

from __future__ import annotations

import json
import re
from typing import Any

from aadc_doctor import __version__
from aadc_doctor.json_data import to_json_data
from aadc_doctor.model import SCHEMA_VERSION, Report, sorted_findings, utc_now
from aadc_doctor.secrets import scrub, secret_spans

# json.dumps(ensure_ascii=False) escapes C0 controls only: DEL, C1 controls (0x9B is a CSI to some terminals),
# bidirectional overrides and lone surrogates (which no UTF-8 writer accepts) are escaped here. They can only
# stand inside JSON strings, where \\uXXXX means the same character: the report's data is unchanged.
_NOT_RAW = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match[0]):04x}"


def report_data(report: Report) -> dict[str, Any]:
    """The envelope of DESIGN.md ("JSON report") as plain data, findings sorted by severity."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "aadc-doctor",
        "tool_version": __version__,
        "command": report.command,
        "started_at": report.started_at,
        "finished_at": report.finished_at or utc_now(),
        "findings": to_json_data(sorted_findings(report.findings)),
        "results": to_json_data(report.results) if report.results is not None else {},
    }


def report_to_json(report: Report) -> str:
    """The report as JSON text; secrets are removed from the values, so the text stays valid JSON."""
    text = json.dumps(report_data(report), indent=2, ensure_ascii=False, default=str)
    if secret_spans(text):  # rare: scrub each string, not the text (a redaction must not cut an escape in two)
        text = json.dumps(_scrubbed(json.loads(text)), indent=2, ensure_ascii=False)
    return _NOT_RAW.sub(_escaped, text)


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    if isinstance(value, dict):
        return {scrub(key): _scrubbed(item) for key, item in value.items()}
    return value
