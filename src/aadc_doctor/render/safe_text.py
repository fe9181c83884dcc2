"""What a string from outside may look like on a terminal: no secret, no control character.

Strings from files, the network and the command line reach the terminal. A control character there is a
command to the terminal (ESC starts colours, cursor moves, a new window title, a hyperlink; CR overwrites the
line), a bidirectional override reorders what the user reads, and a lone surrogate (a file name that is not
UTF-8) makes the encoder fail. Each becomes a visible stand-in of one character, so a text keeps its length
(rich's style spans stay where they were) and the reader still sees that something was there: C0 controls
their Control Pictures (ESC shows as ␛), DEL ␡, everything else U+FFFD. Tab and newline stay.

Kept free of rich: the CLI's error boundary uses it for its one-line messages.
"""

from __future__ import annotations

import re

from aadc_doctor.secrets import scrub

# C0 but tab and newline, DEL, C1, the bidirectional controls, line/paragraph separators, surrogates
UNSAFE_CHARACTERS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
)
_UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")
_STAND_INS: dict[int, str] = {c: chr(0x2400 + c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20))}
_STAND_INS[0x7F] = "\u2421"


def _stand_in(match: re.Match[str]) -> str:
    return _STAND_INS.get(ord(match[0]), "\ufffd")


def neutralize_controls(text: str) -> str:
    """``text`` with every character a terminal would obey replaced by a visible one (same length)."""
    return _UNSAFE.sub(_stand_in, text) if _UNSAFE.search(text) else text


def has_controls(text: str) -> bool:
    return _UNSAFE.search(text) is not None


def for_terminal(text: str, *, one_line: bool = False) -> str:
    """An external string ready for a terminal: secrets removed first, then controls neutralised.

    ``one_line``: a newline inside (a file name may hold one) shows as ␊, so an error stays one line.
    """
    safe = neutralize_controls(scrub(text))
    return safe.replace("\n", "\u240a") if one_line else safe
