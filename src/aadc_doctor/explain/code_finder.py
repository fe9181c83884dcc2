"""Find every error code in pasted text, with the context that says how to read it.

Admins paste whole lines: a PTA trace line (``Reason: '1328'``), an Invoke-WebRequest error
(``(407) Proxy Authentication Required``), an AADSTS message with trace and correlation ids, a 4625
event with ``Sub Status: 0xC000006A``. GUIDs, timestamps, IP addresses and the .NET TraceListener
prefix are blanked first so their digits are never taken for codes; a bare decimal in longer text
counts only next to a word such as "error", "code", "status" or "reason".
"""

from __future__ import annotations

import bisect
import operator
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import NamedTuple


class Hint(StrEnum):
    """How the surrounding text says a number should be read."""

    NONE = "none"
    AADSTS = "aadsts"
    WIN32 = "win32"
    PTA_REASON = "pta_reason"
    HTTP = "http"
    NTSTATUS = "ntstatus"
    KERBEROS = "kerberos"
    HEX = "hex"
    WINHTTP = "winhttp"


class FoundCode(NamedTuple):
    """One code in the text: its value, the text it came from, and how the context says to read it.

    A named tuple, not a frozen dataclass: a megabyte of numbers makes 170,000 of them, and a frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` per field) was a tenth of the time.
    """

    value: int
    text: str
    start: int
    hint: Hint
    standalone: bool = False


_START = operator.attrgetter("start")

_BLANKS = [
    re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),  # GUIDs
    re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"),
    re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"),  # dates as in the proxy logs (1/11/2016)
    re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\b"),  # times
    re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"),  # IPv4 addresses (and ports)
    re.compile(r"\b(?:Error|Warning|Information|Verbose|Critical): \d+ :"),  # .NET TraceListener event id
    re.compile(r"(?<=HTTP)/\d(?:\.\d)?\b", re.IGNORECASE),  # protocol versions (the word HTTP stays as context)
    re.compile(r"\b(?:ThreadId|ProcessId|Thread|PID|TID|line|char|Keywords|Level|Task|Opcode)\s*[=:]\s*\d+",
               re.IGNORECASE),
    # event fields that carry ids, not codes: "Caller Process ID: 0x1f4", "Logon ID: 0x3E7" (4624/4625/4776)
    re.compile(r"\b(?:Process|Thread|Logon|Session|Linked Logon|Record|Activity)\s?ID:?\s*[=:]?\s*(?:0x[0-9a-f]+|\d+)",
               re.IGNORECASE),
    # event fields that carry types, options and ports (4768/4771/4625): "Ticket Encryption Type: 0x12" is AES256,
    # not KDC_ERR_CLIENT_REVOKED; "Pre-Authentication Type: 2" is an encrypted timestamp, not an error
    re.compile(r"\b(?:Ticket Encryption|Pre-?Authentication|Logon) Type\s*[=:]?\s*(?:0x[0-9a-f]+|-?\d+)\b"
               r"|\b(?:Ticket Options|Client Port|Source Port|Key Length)\s*[=:]?\s*(?:0x[0-9a-f]+|\d+)\b",
               re.IGNORECASE),
]

# "aadsts: 50126": the prefix says which table. Each prefix is its own named group, so the hint comes from the group
# that matched, never from the matched text: case-insensitive matching takes "AADſTS" (long s) and "wİnhttp" (dotted
# capital I), whose lower-case forms are no key of any table (a KeyError, exit 4, once).
_PREFIX_HINTS = {
    "aadsts": Hint.AADSTS, "win32": Hint.WIN32, "http": Hint.HTTP, "ntstatus": Hint.NTSTATUS,
    "kerberos": Hint.KERBEROS, "winhttp": Hint.WINHTTP, "wininet": Hint.WINHTTP,
}
_EXPLICIT = re.compile(r"\b(?:" + "|".join(f"(?P<{prefix}>{prefix})" for prefix in _PREFIX_HINTS)
                       + r"):\s*(?P<value>-?(?:0x)?[0-9a-fA-F]+)\b", re.IGNORECASE)
_AADSTS = re.compile(r"\bAADSTS\s?(\d{1,10})\b", re.IGNORECASE)
_REASON = re.compile(r"\bReason\s*[:=]\s*['\"]?(\d{1,5})['\"]?", re.IGNORECASE)
_HEX = re.compile(r"(?<![\w.])(?:0x|&H)([0-9a-fA-F]{1,8})\b", re.IGNORECASE)
_BARE_STATUS = re.compile(r"(?<![\w.\-])([CcDd8][0-9a-fA-F]{7})(?![\w\-])")
_NEGATIVE = re.compile(r"(?<![\w.\-])(-\d{6,10})(?![\w.\-])")
_DECIMAL = re.compile(r"(?<![\w./:\\\-])(\d{1,10})(?![\w/:\\\-]|\.\d)")

# a line of nothing but codes ("1330 1331", "1326, 1327; 0x530"): each is meant as a code. Possessive quantifiers
# only: the nested `\s*[,;]?\s+` this replaced split each run of blanks every possible way (a 91-character
# event row took 20 s); here every character is read a bounded number of times.
_CODE_TOKEN = r"[-+]?(?:0x)?[0-9a-f]++"
_CODE_LIST = re.compile(rf"\s*+{_CODE_TOKEN}(?:(?:\s*+[,;]\s*+|\s++){_CODE_TOKEN})++\s*+[,;.]?\s*+", re.IGNORECASE)
_WINDOW = 30  # how far before a bare decimal its context is looked for
# The words a context pattern below needs (a superset of theirs, each without its \b): a decimal with none of them
# starting in its window has no context. Found with str.find in ASCII text, else by the lookahead (overlapping
# words are all found either way).
_CONTEXT_WORDS = ("err", "code", "status", "reason", "result", "failure", "helpmsg", "http", "win32", "returned",
                  "exit", "hresult", "ntstatus", "kerberos", "winhttp", "kdc", "4768", "4769", "4771", "preauth",
                  "pre-auth", "(")
_CONTEXT_WORD = re.compile("(?=" + "|".join(map(re.escape, _CONTEXT_WORDS)) + ")", re.IGNORECASE)


def context_starts(text: str) -> list[int]:
    """Every position where one of ``_CONTEXT_WORDS`` begins (any case), in order."""
    if not text.isascii():
        return [m.start() for m in _CONTEXT_WORD.finditer(text)]
    lower = text.lower()
    starts: list[int] = []
    for word in _CONTEXT_WORDS:
        position = lower.find(word)
        while position >= 0:
            starts.append(position)
            position = lower.find(word, position + 1)
    starts.sort()
    return starts
_KEYWORD_BEFORE = re.compile(
    r"(?:\b(?:error|err|code|status|sub\s?status|reason|result|failure|helpmsg|http|win32|returned|"
    r"exit|hresult|ntstatus|kerberos|winhttp)\b[\s:=#'\"(]*|\()$",
    re.IGNORECASE,
)
_HTTP_BEFORE = re.compile(r"(?:\bhttp\b|\bstatus code\b|returned an error)[\s:=#'\"(]*$|\($", re.IGNORECASE)
_HELPMSG_BEFORE = re.compile(r"helpmsg\s*$", re.IGNORECASE)
_LONGEST_KEYWORD = 20  # "returned an error" (17 characters) is the longest keyword the anchored patterns end with
_HTTP_AFTER = re.compile(r"^\)?\s*(?:[A-Z][a-z]+(?: [A-Z][a-z]+)*)\b")
_KERBEROS_CONTEXT = re.compile(r"kerberos|\bkdc\b|failure code|result code|\b47(?:68|69|71)\b|pre-?auth",
                               re.IGNORECASE)
_KERBEROS_WORDS = ("kerb", "kdc", "code", "47", "auth")  # one of these is in every match of _KERBEROS_CONTEXT
_NTSTATUS_CONTEXT = re.compile(r"sub\s?status|status\s*:|\b46(?:24|25)\b|\b4776\b|ntstatus", re.IGNORECASE)


# what each of _BLANKS needs somewhere in the (lower-cased) text: a pattern is skipped when none is there, so a
# megabyte without dashes, colons or dots is not read eleven times
_BLANK_NEEDS = (("-",), ("-",), ("/",), (":",), (".",), (":",), ("http",), ("=", ":"), ("id",),
                ("type", "options", "port", "length"))


def blank_noise(text: str) -> str:
    """Replace GUIDs, timestamps, addresses and log prefixes by spaces (offsets stay the same)."""
    lower = text.lower()
    for pattern, needs in zip(_BLANKS, _BLANK_NEEDS, strict=True):
        if any(need in lower for need in needs):
            text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


def _explicit_hint(match: re.Match[str]) -> Hint:
    """The hint of the prefix group of ``_EXPLICIT`` that matched."""
    return next(hint for prefix, hint in _PREFIX_HINTS.items() if match.start(prefix) >= 0)


def _parse_int(token: str) -> int | None:
    token = token.strip()
    try:
        if token.lower().startswith(("0x", "-0x")):
            return int(token, 16)
        if token.lower().startswith("&h"):
            return int(token[2:], 16)
        if re.fullmatch(r"-?\d+", token):
            return int(token)
        if re.fullmatch(r"[0-9a-fA-F]+", token):
            return int(token, 16)
    except ValueError:
        return None
    return None


class _Lines:
    """Where each line of the text starts and ends, and whether it is a bare code list: computed once per line.

    Every found number asks for its line; scanning back for the line start (or re-checking the line) per number
    made a paste of 8,000 numbers on one line quadratic.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._line_ends: list[int] | None = None  # found on first need: only a hex code asks for its line
        self._is_code_list: dict[int, bool] = {}
        self._short: dict[int, str] = {}

    def bounds(self, position: int) -> tuple[int, int]:
        """(start, end) of the line that holds position; end excludes the newline."""
        ends = self._line_ends
        if ends is None:
            ends = self._line_ends = [m.start() for m in re.finditer("\n", self.text)]
        index = bisect.bisect_left(ends, position)
        start = ends[index - 1] + 1 if index > 0 else 0
        end = ends[index] if index < len(ends) else len(self.text)
        return start, end

    def short_content(self, start: int, end: int) -> str:
        """The line ``text[start:end]`` without surrounding blanks when that is a short word or number, else ""."""
        known = self._short.get(start)
        if known is None:
            stripped = self.text[start:end].strip() if end - start <= 4096 else ""
            known = self._short[start] = stripped if len(stripped) <= 64 else ""
        return known

    def is_code_list(self, start: int, end: int) -> bool:
        """Whether the line ``text[start:end]`` is nothing but codes."""
        known = self._is_code_list.get(start)
        if known is None:
            known = self._is_code_list[start] = _CODE_LIST.fullmatch(self.text, start, end) is not None
        return known


def find_codes(text: str) -> list[FoundCode]:
    """Every code in ``text``, in order of appearance, each once (linear in the length of the text)."""
    clean = blank_noise(text)
    whole = clean.strip()
    lines = _Lines(clean)
    taken = bytearray(len(clean) + 1)  # 1 where an earlier, more specific match already took the character
    found: list[FoundCode] = []
    ones = b"\x01" * 64
    whole_length = len(whole)

    def add(value: int, match: re.Match[str], hint: Hint, group: int | str = 1) -> None:
        start, end = match.span(0)
        if taken.find(1, start, end) >= 0:
            return
        length = end - start
        taken[start:end] = ones[:length] if length <= 64 else b"\x01" * length
        text = match.group(0).strip()
        found.append(FoundCode(value, text, match.start(group), hint, len(text) == whole_length and text == whole))

    # Each pattern below is run only when what it needs is in the text (a megabyte of numbers was read six times
    # for none of them). A case-insensitive pattern matches non-ASCII spellings ("reaſon"), so in other than ASCII
    # text only the literal needs (":", "-") are trusted.
    lower = clean.lower() if clean.isascii() else None

    def may_hold(*needs: str) -> bool:
        return lower is None or any(need in lower for need in needs)

    if ":" in clean:
        for m in _EXPLICIT.finditer(clean):
            value = _parse_int(m.group("value"))
            if value is not None:
                add(value, m, _explicit_hint(m), "value")
    if may_hold("aadsts"):
        for m in _AADSTS.finditer(clean):
            add(int(m.group(1)), m, Hint.AADSTS)
    if may_hold("reason"):
        for m in _REASON.finditer(clean):
            add(int(m.group(1)), m, Hint.PTA_REASON)
    if may_hold("0x", "&h"):
        for m in _HEX.finditer(clean):
            add(int(m.group(1), 16), m, _hex_hint(lines, m.start()))
    for m in _BARE_STATUS.finditer(clean):
        if re.search(r"[a-fA-F]", m.group(1)) or m.group(0).strip() == whole:
            add(int(m.group(1), 16), m, Hint.NTSTATUS)
    if "-" in clean:
        for m in _NEGATIVE.finditer(clean):
            add(int(m.group(1)), m, Hint.NTSTATUS)
    # The hot loop of a pasted log, a constant amount of work per number: one line's facts are worked out once,
    # and the starts of the words a context needs are found in one pass beside it, so a number with none of them
    # in its window is passed over without a regular expression.
    starts: Iterator[int] | None = None  # found on first need: a paste of code lists never needs them
    next_context = last_context = -1
    line_start, line_end, code_list, line_text = 0, -1, False, ""
    size = len(clean)
    # Decimals never overlap each other: when the patterns above found nothing, no character is taken yet and the
    # decimals need not look (a megabyte of numbers one a line was a third slower for it).
    check_taken = bool(found)
    none = Hint.NONE
    for m in _DECIMAL.finditer(clean):
        start, end = m.span()
        digits = m.group()
        if start > line_end:  # the first number of a line: what the line is
            if (start == 0 or clean[start - 1] == "\n") and (end == size or clean[end] == "\n"):
                line_start, line_end, code_list, line_text = start, end, False, digits  # a number alone on it
            else:
                line_end = clean.find("\n", end)
                line_end = size if line_end < 0 else line_end
                line_start = clean.rfind("\n", 0, start) + 1
                line_text = clean[line_start:line_end].strip() if line_end - line_start <= 64 else ""
                code_list = line_text != digits and lines.is_code_list(line_start, line_end)
        if not code_list and digits != line_text:  # not in a list of codes, not alone on its line
            if starts is None:
                starts = iter([*context_starts(clean), len(clean) + 1])
                next_context = next(starts)
            while next_context < start:
                last_context, next_context = next_context, next(starts)
            if last_context < start - _WINDOW or last_context < line_start:
                continue  # no word in the window before it that could say it is a code
            hint = _decimal_hint(lines, whole, m, line_start, line_end)
            if hint is not None:
                add(int(digits), m, hint)
            continue
        if check_taken:  # `add`, inlined: a megabyte of numbers may all be codes
            if taken.find(1, start, end) >= 0:
                continue
            taken[start:end] = ones[:end - start]
        found.append(FoundCode(int(digits), digits, start, none, digits == whole))
    found.sort(key=_START)
    return found


def _hex_hint(lines: _Lines, start: int) -> Hint:
    line_start, _ = lines.bounds(start)
    before = lines.text[max(line_start, start - 40):start]
    if _KERBEROS_CONTEXT.search(before):
        return Hint.KERBEROS
    if _NTSTATUS_CONTEXT.search(before):
        return Hint.NTSTATUS
    return Hint.HEX


def _decimal_hint(lines: _Lines, whole: str, match: re.Match[str], line_start: int, line_end: int) -> Hint | None:
    """How to read a bare decimal (not in a code list), or None when nothing around it says it is a code."""
    text = lines.text
    start, end = match.span(1)
    digits = match.group(1)
    if whole == digits or lines.short_content(line_start, line_end) == digits:
        return Hint.NONE
    before = text[max(line_start, start - _WINDOW):start]  # find_codes saw a context word start in it
    after = text[end:end + 40]
    parenthesised = before.rstrip().endswith("(")
    # The end-anchored patterns need a keyword that ends where the trailing separators begin, or a "(" last: they
    # are searched from just before that keyword, not tried at each of the window's 30 positions; a "(" last
    # matches both their `\($` at once. Each pattern is searched only when a word it needs is there.
    paren_last = before.endswith("(")
    tail = before
    while (shorter := tail.rstrip().rstrip(":=#'\"(")) != tail:
        tail = shorter
    keyword_last = tail[-1:].isalnum()
    from_ = max(0, len(tail) - _LONGEST_KEYWORD)
    if (paren_last or (keyword_last and _HTTP_BEFORE.search(before, from_))) and (
            not parenthesised or _HTTP_AFTER.match(after)):
        return Hint.HTTP
    if keyword_last and tail[-7:].lower() == "helpmsg" and _HELPMSG_BEFORE.search(before, from_):
        return Hint.WIN32
    lower = before.lower()
    if any(word in lower for word in _KERBEROS_WORDS) and _KERBEROS_CONTEXT.search(before):
        return Hint.KERBEROS
    if paren_last or (keyword_last and _KEYWORD_BEFORE.search(before, from_)):
        return Hint.NONE
    return None
