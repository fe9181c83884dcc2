"""The ids of a pasted Entra ID error (Trace ID, Correlation ID, Timestamp): what support and the sign-in log need.

An AADSTS message ends with ``Trace ID: <guid> Correlation ID: <guid> Timestamp: <time>``; an OAuth JSON
answer carries the same as ``"trace_id"``, ``"correlation_id"`` and ``"timestamp"``. The code finder masks
them (they are not error codes); this keeps them so the answer can say where to look them up.
"""

from __future__ import annotations

import re

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_TIME = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
_PATTERNS = {
    "correlation_id": re.compile(rf"""(?:Correlation\s*ID|["']?correlation_id["']?)\s*[:=]\s*["']?({_GUID})""",
                                 re.IGNORECASE),
    "trace_id": re.compile(rf"""(?:Trace\s*ID|["']?trace_id["']?)\s*[:=]\s*["']?({_GUID})""", re.IGNORECASE),
    "timestamp": re.compile(rf"""(?:\bTimestamp|["']timestamp["'])\s*[:=]\s*["']?({_TIME})""", re.IGNORECASE),
}
# the word every match of each pattern holds: in ASCII text without it, the pattern is not run over a megabyte
# (in other text a case-insensitive match may spell it with a long s or a Kelvin sign, so it always runs)
_NEEDS = {"correlation_id": "correlation", "trace_id": "trace", "timestamp": "timestamp"}


def find_request_ids(text: str) -> dict[str, str]:
    """The first Correlation ID, Trace ID and Timestamp in the text (only those present)."""
    found: dict[str, str] = {}
    lower = text.lower() if text.isascii() else None
    for key, pattern in _PATTERNS.items():
        if lower is not None and _NEEDS[key] not in lower:
            continue
        match = pattern.search(text)
        if match:
            found[key] = match.group(1)
    return found
