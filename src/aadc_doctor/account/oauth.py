"""The error answer of the Microsoft identity platform, parsed once for realm, tenant and sign-in.

Shape (reference-error-codes, "Handling error codes in your application"):
``{"error": "invalid_grant", "error_description": "AADSTS50126: ... Trace ID: ... Correlation ID:
... Timestamp: ...", "error_codes": [50126], "timestamp": ..., "trace_id": ..., "correlation_id": ...}``
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TAIL = re.compile(r"\s*(Trace ID:|Correlation ID:|Timestamp:).*$", re.DOTALL)
_CODE = re.compile(r"AADSTS([0-9]{1,10})")


@dataclass(frozen=True)
class OAuthError:
    error: str
    codes: tuple[int, ...]
    description: str  # the human part, without the trace tail
    trace_id: str = ""
    correlation_id: str = ""
    timestamp: str = ""

    @property
    def code(self) -> int | None:
        return self.codes[0] if self.codes else None


_PREFIX = re.compile(r"^AADSTS\d+:\s*")


def _clean_description(text: str) -> str:
    """The human sentence: no "AADSTSnnnnn:" prefix (the code is kept apart), no trace tail."""
    return _PREFIX.sub("", _TAIL.sub("", text.replace("\r\n", " ").replace("\n", " ")).strip())


def _code(value: Any) -> int | None:
    """One entry of error_codes as a number: a 32-bit int, or ASCII digits (not "²", not 5,000 digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 2**32 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        return int(value)
    return None


def parse_oauth_error(body: dict[str, Any]) -> OAuthError:
    """Codes from error_codes, else from the AADSTS prefix of the description."""
    description = str(body.get("error_description") or "")
    raw_codes = body.get("error_codes")
    codes: tuple[int, ...] = ()
    if isinstance(raw_codes, list):
        codes = tuple(code for code in map(_code, raw_codes) if code is not None)
    if not codes:
        codes = tuple(int(m) for m in _CODE.findall(description)[:1])
    return OAuthError(
        error=str(body.get("error") or ""),
        codes=codes,
        description=_clean_description(description),
        trace_id=str(body.get("trace_id") or ""),
        correlation_id=str(body.get("correlation_id") or ""),
        timestamp=str(body.get("timestamp") or ""),
    )
