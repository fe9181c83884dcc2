"""From pasted text to ranked explanations: every code in it, each with its likeliest reading first.

A number can mean several things: 403 is an HTTP status and a Win32 error, 80001 an AADSTS code.
The context found by ``code_finder`` decides the order (``Reason: '1328'`` is a Win32 code from the
PTA agent, ``(407) Proxy Authentication Required`` is HTTP); without context the table the number
most plausibly belongs to comes first and the other readings follow.
"""

from __future__ import annotations

import http
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from aadc_doctor.explain.code_finder import FoundCode, Hint, find_codes
from aadc_doctor.explain.matcher import find_named, rank, suggest
from aadc_doctor.json_data import JsonField
from aadc_doctor.knowledge import codes
from aadc_doctor.knowledge.codes import CodeEntry

HTTP_SOURCE = "HTTP status codes (RFC 9110), as named by Python's http.HTTPStatus"
MAX_SUGGESTED_QUERIES = 10  # "did you mean" for the first unknown codes only: each asks difflib over every table
FIRST_AADSTS = 16000  # the lowest code of the AADSTS reference; smaller numbers are read as Win32 first


class Reading(NamedTuple):
    """One explanation of something found in the text; ``rank`` 1 is the likeliest reading of it.

    A named tuple: a paste of a megabyte of numbers has tens of thousands (a frozen dataclass is slower to build).
    """

    entry: CodeEntry
    found: str
    rank: int
    why: str
    score: float | None = None

    def json_options(self) -> dict[str, JsonField]:
        """Its JSON (json_data.to_json_data): the entry's keys, then found, reading, why and a score if ranked."""
        return _READING_JSON


_READING_JSON = {"entry": JsonField(flatten=True), "rank": JsonField(key="reading"), "score": JsonField(omit_none=True)}


@dataclass(frozen=True)
class Explanation:
    """All readings for the input, the codes no table knows, and suggestions when nothing matched."""

    readings: tuple[Reading, ...]
    unknown: tuple[str, ...] = ()
    by_relevance: bool = False
    suggestions: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return bool(self.readings)


_HTTP_STATUSES = {int(s): s for s in http.HTTPStatus}  # HTTPStatus(n) raising ValueError costs microseconds


def http_status_entry(status: int) -> CodeEntry | None:
    """403 and 407 as the connectivity article explains them; other statuses by their standard meaning."""
    curated = codes.http_entry(status)
    if curated is not None:
        return curated
    known = _HTTP_STATUSES.get(status)
    if known is None:
        return None
    return CodeEntry(kind="http", code=str(status), name=known.phrase, message=known.description or known.phrase,
                     source=HTTP_SOURCE, checked_by="aadc-doctor check")


def _aadsts_typo(value: int) -> CodeEntry | None:
    code = codes.aadsts_aliases().get(f"aadsts{value}")
    return codes.aadsts_entry(code) if code is not None else None


def _status_readings(value: int) -> list[tuple[CodeEntry, str]]:
    status = codes.normalise_status(value)
    out: list[tuple[CodeEntry, str]] = []
    entry = codes.ntstatus_entry(status)
    if entry is not None:
        out.append((entry, "NTSTATUS (the Status/SubStatus of logon events)"))
    if status & 0xFFFF0000 == 0x80070000:
        low = status & 0xFFFF
        win = codes.win32_entry(low)
        if win is not None:
            out.append((win, f"HRESULT 0x{status:08X} wraps Win32 error {low}"))
        # WinHTTP/WinINet errors are Win32-style codes too: 0x80072EE2 is the wizard's and PowerShell's time-out
        out += [(e, f"HRESULT 0x{status:08X} wraps {why} {low}") for e, why in _winhttp_readings(low)]
    if status <= 0xFFFF:
        win = codes.win32_entry(status)
        if win is not None:
            out.append((win, "Win32 system error"))
    return out


def _winhttp_readings(value: int) -> list[tuple[CodeEntry, str]]:
    return [(e, f"{'WinHTTP' if e.kind == 'winhttp' else 'WinINet'} error") for e in codes.winhttp_entries(value)]


class _Reader:
    """Each table's reading of one number, looked up only when the order of readings asks for it.

    A paste of a megabyte of numbers holds up to 100,000 distinct values; reading every table for each (and
    building entries no ordering used) was most of the time of `explain` on it.
    """

    def __init__(self, value: int) -> None:
        self.value = value

    def win32(self) -> list[tuple[CodeEntry, str]]:
        return _one(codes.win32_entry(self.value), "Win32 system error") if self.value <= 0xFFFF else []

    def aadsts(self) -> list[tuple[CodeEntry, str]]:
        return _one(codes.aadsts_entry(self.value), "AADSTS code (Entra ID sign-in error)")

    def http(self) -> list[tuple[CodeEntry, str]]:
        return _one(http_status_entry(self.value), "HTTP status")

    def kerberos(self) -> list[tuple[CodeEntry, str]]:
        return _one(codes.kerberos_entry(self.value), "Kerberos failure code (events 4768/4771)")

    def typo(self) -> list[tuple[CodeEntry, str]]:
        return _one(_aadsts_typo(self.value), f"AADSTS{self.value} is the PTA article's typo for this code")


def readings_for(found: FoundCode) -> list[tuple[CodeEntry, str]]:
    """The possible readings of one found code, likeliest first (empty when no table knows it)."""
    value, hint = found.value, found.hint
    if hint is Hint.PTA_REASON:
        return _one(codes.win32_entry(value), "PTA trace Reason: the Win32 error LogonUser returned on the agent")
    if hint is Hint.WINHTTP:
        return _winhttp_readings(value)
    if hint is Hint.NTSTATUS or value < 0 or value > 0xFFFF:
        return _status_readings(value) or (_Reader(value).aadsts() if value > 0 else [])
    r = _Reader(value)
    if hint is Hint.AADSTS:
        return r.aadsts() or r.typo()
    if hint is Hint.WIN32:
        return r.win32()
    if hint is Hint.KERBEROS:
        return r.kerberos() + r.win32()
    if hint is Hint.HTTP:
        return r.http() + r.win32()
    if hint is Hint.HEX:
        winhttp = _winhttp_readings(value) if 12000 <= value < 12200 else []  # 0x2EE7 is 12007
        return winhttp + r.win32() + (r.kerberos() if value <= 0x44 else [])
    # a bare decimal: the table it most plausibly belongs to first, then every other reading
    if 12000 <= value < 12200:
        ordered = _winhttp_readings(value) + r.win32()
    elif codes.http_entry(value) is not None:
        ordered = r.http() + r.win32()
    elif value >= FIRST_AADSTS:
        ordered = r.aadsts() + r.win32()
    else:
        ordered = r.win32() + (r.http() if 100 <= value <= 599 else []) + r.aadsts()
    return ordered + r.typo()


MANY_CODES = 256  # a paste with more found codes than this loads the tables whole to pass over unknown numbers
_TYPO_PREFIX = "aadsts"


@cache
def _numbers_known() -> frozenset[int]:
    """A superset of the numbers some table reads as a bare decimal: Win32, HTTP, AADSTS and the article's AADSTS
    typos, NTSTATUS. A number outside it has no reading; reading each table for it was a third of the time of a
    pasted megabyte of numbers (most are no code at all)."""
    typos = {int(key[len(_TYPO_PREFIX):]) for key in codes.aadsts_aliases()
             if key.startswith(_TYPO_PREFIX) and key[len(_TYPO_PREFIX):].isdigit()}
    return (frozenset(codes.win32_codes()) | _HTTP_STATUSES.keys() | codes.aadsts_known_codes() | typos
            | codes.ntstatus_codes())


def _surely_unknown(found: FoundCode, known: frozenset[int]) -> bool:
    """Whether no table reads this bare decimal: it is not in ``known``, nor a curated HTTP status, a WinHTTP code
    or an HRESULT that wraps a Win32 code."""
    value = found.value
    return (found.hint is Hint.NONE and value >= 0 and value not in known and not 12000 <= value < 12200
            and value & 0xFFFF0000 != 0x80070000 and codes.http_entry(value) is None)


def _one(entry: CodeEntry | None, why: str) -> list[tuple[CodeEntry, str]]:
    return [(entry, why)] if entry is not None else []


def explain_text(text: str) -> Explanation:
    """Explain one pasted text: every code in it, then named errors, else the most relevant entries."""
    readings: list[Reading] = []
    unknown: list[str] = []
    seen: set[tuple[str, str]] = set()

    def add(entry: CodeEntry, found: str, rank_: int, why: str, score: float | None = None) -> bool:
        if entry.key in seen:
            return False
        seen.add(entry.key)
        readings.append(Reading(entry, found, rank_, why, score))
        return True

    # A paste repeats its codes many times: a code read before adds no reading (each of its entries is in `seen`
    # since its first time), only its text to the unknown ones when no table knows it.
    known: dict[tuple[int, Hint], bool] = {}  # (value, hint) -> whether some table knows it
    found_codes = find_codes(text)
    small_known = _numbers_known() if len(found_codes) > MANY_CODES else None
    for found in found_codes:
        value_hint = (found.value, found.hint)
        some = known.get(value_hint)
        if some is None:
            options = [] if small_known is not None and _surely_unknown(found, small_known) else readings_for(found)
            some = known[value_hint] = bool(options)
            rank_ = 1
            for entry, why in options:
                if add(entry, found.text, rank_, why):
                    rank_ += 1
        if not some:
            unknown.append(found.text)
    for hit in find_named(text):
        add(hit.entry, hit.label, 1, f"named error ({hit.entry.kind})")
    if readings:
        return Explanation(tuple(readings), tuple(unknown))
    if not unknown:
        ranked = rank(text)
        for position, (entry, score) in enumerate(ranked, start=1):
            add(entry, text.strip(), position, "matched by relevance", score)
        if readings:
            return Explanation(tuple(readings), by_relevance=True)
    queries = list(dict.fromkeys(unknown))[:MAX_SUGGESTED_QUERIES] or [text]
    hints = [s for query in queries for s in suggest(query)]
    return Explanation((), tuple(unknown), suggestions=tuple(dict.fromkeys(hints)))


def explain_all(texts: Iterable[str]) -> Explanation:
    """Explain several arguments (each its own text) as one answer: each entry once, at its best rank."""
    parts = [explain_text(t) for t in texts if t.strip()]
    best: dict[tuple[str, str], Reading] = {}
    for part in parts:
        for reading in part.readings:
            kept = best.get(reading.entry.key)
            if kept is None or reading.rank < kept.rank:
                best[reading.entry.key] = reading  # dict order stays that of first appearance
    readings = tuple(best.values())
    unknown = tuple(dict.fromkeys(u for p in parts for u in p.unknown))
    suggestions = tuple(dict.fromkeys(s for p in parts for s in p.suggestions)) if not readings else ()
    return Explanation(readings, unknown, all(p.by_relevance for p in parts) and bool(parts), suggestions)
