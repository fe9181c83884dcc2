"""Output to a console or pipe in a legacy Windows code page (cp437, cp850, cp1252) without crashing.

Windows CPython writes to a real console in UTF-16, but to a pipe or a redirected file in the ANSI code page
(or PYTHONIOENCODING's). The tool's own texts hold a few typographic characters (’ “ ” — … →) those code pages
may lack; instead of a UnicodeEncodeError (an exit 4 for a mere character), each is written as its ASCII
look-alike, and any other character the code page lacks as '?'.
"""

from __future__ import annotations

import codecs
from typing import TextIO

ERROR_HANDLER = "aadc-doctor-ascii-fallback"
ASCII_LOOKALIKES = {
    "\u2018": "'", "\u2019": "'", "\u201a": ",", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u2192": "->", "\u2190": "<-",
    "\u00a0": " ", "\u2022": "*", "\u00d7": "x", "\u2264": "<=", "\u2265": ">=", "\u2713": "ok",
}
_UNICODE_CODECS = ("utf-8", "utf-16", "utf-32", "utf-8-sig", "utf-16-le", "utf-16-be")


def _ascii_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    unencodable = error.object[error.start:error.end]
    return "".join(ASCII_LOOKALIKES.get(char, "?") for char in unencodable), error.end


codecs.register_error(ERROR_HANDLER, _ascii_fallback)


def tolerate_legacy_code_page(*streams: TextIO | None) -> None:
    """Make each stream that encodes to a legacy code page write look-alikes instead of failing."""
    for stream in streams:
        encoding = getattr(stream, "encoding", None)
        reconfigure = getattr(stream, "reconfigure", None)
        if not encoding or reconfigure is None:
            continue
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            continue
        if name not in _UNICODE_CODECS:
            reconfigure(errors=ERROR_HANDLER)
