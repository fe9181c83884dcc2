"""Free-text matching: named errors inside pasted text, relevance ranking, and "did you mean" suggestions.

Relevance is a small weighted IDF score: a query word found in an entry's name, code, aliases or
headings counts three times as much as one found in its message, the score is scaled by the
square of the share of the query's words the entry contains, and the curated entries (the errors
the seed articles name) are preferred over the bulk tables. No dependency, fast enough for
the ~5,000 entries (the index is built once per process, only when free text needs it).
"""

from __future__ import annotations

import bisect
import difflib
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from aadc_doctor.knowledge import codes
from aadc_doctor.knowledge.codes import CodeEntry

_WORD = re.compile(r"[a-z0-9]+")
_NOT_WORD_OR_SPACE = re.compile(r"[^a-z0-9 ]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SYMBOL = re.compile(r"\b(?:ERROR|STATUS|NERR|KDC_ERR|KRB_AP_ERR|KRB_ERR|SEC_E|WSA)[A-Z0-9_]*\b")
_CAMEL_TOKEN = re.compile(r"\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*){2,}\b")
_STOPWORD_TEXT = (
    "a an and are as at be been but by can could did do does for from has have how i in is it its my no not of on "
    "or our so that the their then there this to was we were what when where which who why will with you your "
    "error errors failed failure"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
CURATED_WEIGHT = 1.25
TITLE_WEIGHT = 3.0
MESSAGE_WEIGHT = 1.0
CAUSE_WEIGHT = 0.5
MAX_SPELLING_QUERY = 200
MAX_SUGGESTION_WORDS = 50


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """Lower-case word stems; CamelCase and SNAKE_CASE names are split into their words."""
    spaced = _CAMEL.sub(" ", text).replace("_", " ")
    return [_stem(w) for w in _WORD.findall(spaced.lower()) if w not in STOPWORDS]


def word_set(text: str) -> set[str]:
    """The distinct stems of ``words(text)``: each distinct word is stemmed once (a long paste repeats its words)."""
    spaced = _CAMEL.sub(" ", text).replace("_", " ")
    return {_stem(w) for w in set(_WORD.findall(spaced.lower())) if w not in STOPWORDS}


def _first_words(text: str, limit: int) -> list[str]:
    """The first ``limit`` distinct stems longer than 3 letters, reading no further than needed."""
    found: dict[str, None] = {}
    seen: set[str] = set(STOPWORDS)
    for word in _WORD.findall(_CAMEL.sub(" ", text).replace("_", " ").lower()):
        if word in seen:
            continue
        seen.add(word)
        stem = _stem(word)
        if len(stem) > 3:
            found[stem] = None
            if len(found) >= limit:
                break
    return list(found)


def phrase_key(text: str) -> str:
    """Words joined by single spaces, for phrase containment tests."""
    return " ".join(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class _Doc:
    entry: CodeEntry
    title: frozenset[str]
    message: frozenset[str]
    cause: frozenset[str]


@dataclass(frozen=True)
class _Index:
    docs: tuple[_Doc, ...]
    idf: dict[str, float]
    postings: dict[str, tuple[tuple[int, float], ...]]  # word -> (doc position, field weight) of every doc with it


def _title_text(entry: CodeEntry) -> str:
    return " ".join((entry.code, entry.name, *entry.aliases, *entry.headings))


@cache
def _index() -> _Index:
    docs = tuple(
        _Doc(entry, frozenset(words(_title_text(entry))), frozenset(words(" ".join((entry.message, *entry.notes)))),
             frozenset(words(" ".join((entry.cause, entry.remedy, entry.current, entry.seed)))))
        for entry in codes.all_entries()
    )
    df: Counter[str] = Counter()
    postings: dict[str, list[tuple[int, float]]] = {}
    for position, doc in enumerate(docs):
        for word in doc.title | doc.message | doc.cause:
            df[word] += 1
            weight = TITLE_WEIGHT * (word in doc.title) + MESSAGE_WEIGHT * (word in doc.message)
            postings.setdefault(word, []).append((position, weight + CAUSE_WEIGHT * (word in doc.cause)))
    total = len(docs)
    return _Index(docs, {w: math.log(1 + total / n) for w, n in df.items()},
                  {w: tuple(p) for w, p in postings.items()})


def rank(query: str, limit: int = 5) -> list[tuple[CodeEntry, float]]:
    """The entries most relevant to free text, best first; empty when nothing shares a meaningful word.

    Each query word visits only the entries that have it (an inverted index): a paste of 100,000 distinct words
    once scored every word against every one of the ~5,000 entries.
    """
    # a lone small number ("-1", "2") that no table read as a code would only match names like ERROR_WAIT_1
    terms = {t for t in word_set(query) if not (t.isdigit() and len(t) <= 2)}
    if not terms:
        return []
    index = _index()
    wanted = sum(index.idf.get(t, 0.0) for t in terms)
    if wanted == 0:
        return []
    scores: dict[int, float] = {}
    covers: dict[int, float] = {}
    for term in terms:
        idf = index.idf.get(term, 0.0)
        for position, weight in index.postings.get(term, ()):
            scores[position] = scores.get(position, 0.0) + weight * idf
            covers[position] = covers.get(position, 0.0) + idf
    query_phrase = phrase_key(query)
    scored: list[tuple[float, int, CodeEntry]] = []
    for position in sorted(scores):
        doc = index.docs[position]
        score = scores[position]
        if score == 0:
            continue
        score *= (covers[position] / wanted) ** 2  # an entry that has all the query's words beats one with a single one
        if len(query_phrase) > 3 and any(query_phrase in phrase_key(label)
                                         for label in (doc.entry.name, *doc.entry.aliases, *doc.entry.headings)):
            score *= 2
        if doc.entry.kind in {"wizard", "adal", "http", "powershell", "pta", "reference"}:
            score *= CURATED_WEIGHT
        scored.append((score / wanted, position, doc.entry))
    if not scored:
        return []
    scored.sort(key=lambda item: (-item[0], item[1]))
    best = scored[0][0]
    if best < 0.5:  # too few of the query's words anywhere in any entry
        return []
    return [(entry, round(score, 2)) for score, _pos, entry in scored[:limit] if score >= 0.5 * best]


@dataclass(frozen=True)
class NamedHit:
    """A named error (wizard/ADAL/PTA name, heading, alias or symbolic name) found in the text."""

    entry: CodeEntry
    label: str
    start: int


@cache
def _curated_labels() -> tuple[tuple[str, str, CodeEntry], ...]:
    """(phrase key, label as written, entry) for every curated name, code, alias and heading; longest first."""
    labels: list[tuple[str, str, CodeEntry]] = []
    for entry in codes.curated_entries():
        for label in (entry.name, entry.code, *entry.aliases, *entry.headings):
            key = phrase_key(_CAMEL.sub(" ", label)) if _CAMEL_TOKEN.fullmatch(label) else phrase_key(label)
            if key and not key.isdigit():
                labels.append((key, label, entry))
                if " " in key:
                    labels.append((key.replace(" ", ""), label, entry))
    labels.sort(key=lambda item: -len(item[0]))  # the longest label wins over labels inside it
    return tuple(labels)


@cache
def _curated_label_words() -> tuple[tuple[str, ...], ...]:
    """The words of each of ``_curated_labels``' keys, in the same order."""
    return tuple(tuple(key.split(" ")) for key, _label, _entry in _curated_labels())


def _phrase_variants(text: str) -> tuple[str, str]:
    """The text as spaced words, and with each CamelCase or snake_case token squashed to one word."""
    spaced = " " + phrase_key(text) + " "
    squashed = " " + _NOT_WORD_OR_SPACE.sub("", " ".join(text.lower().split())) + " "  # one pass, not one per word
    return spaced, squashed


def find_named(text: str) -> list[NamedHit]:
    """Named errors inside the text: curated names and aliases, then symbolic names such as ERROR_LOGON_FAILURE."""
    hits: list[NamedHit] = []
    seen: set[tuple[str, str]] = set()
    variants = _phrase_variants(text)
    # the words of each variant: a label with a word the text lacks is not searched for (352 labels, each searched
    # in both variants of a pasted megabyte, were half the time of find_named)
    vocabularies = [frozenset(haystack.split()) for haystack in variants]
    taken: list[list[tuple[int, int]]] = [[], []]
    for (key, label, entry), key_words in zip(_curated_labels(), _curated_label_words(), strict=True):
        for which, haystack in enumerate(variants):
            if not vocabularies[which].issuperset(key_words):
                continue
            pos = haystack.find(" " + key + " ")
            span = (pos, pos + len(key) + 2)
            if pos < 0 or any(span[0] < e and s < span[1] for s, e in taken[which]):
                continue
            taken[which].append(span)
            if entry.key not in seen:
                seen.add(entry.key)
                hits.append(NamedHit(entry, label, pos))
            break
    for match, entry in _cloudsync_hits(text):
        if entry.key not in seen:
            seen.add(entry.key)
            hits.append(NamedHit(entry, match.group(0), match.start()))
    for match in [*_SYMBOL.finditer(text), *_CAMEL_TOKEN.finditer(text)]:
        for entry in codes.entries_by_symbol(match.group(0)):
            if entry.key not in seen:
                seen.add(entry.key)
                hits.append(NamedHit(entry, match.group(0), match.start()))
    hits.sort(key=lambda h: h.start)
    return hits


@cache
def _cloudsync_names() -> tuple[re.Pattern[str], dict[str, CodeEntry], dict[str, CodeEntry]]:
    """One pattern for every Cloud Sync error name (whole words; exact-case names kept to their spelling), and
    the entries by name as written and by lower-cased name."""
    exact: dict[str, CodeEntry] = {}
    folded: dict[str, CodeEntry] = {}
    alternatives: list[str] = []
    for entry, names, exact_case in codes.cloudsync_entries():
        for name in names:
            if exact_case:
                exact.setdefault(name, entry)
                alternatives.append(f"(?-i:{re.escape(name)})")
            else:
                folded.setdefault(name.lower(), entry)
                alternatives.append(re.escape(name))
    alternatives.sort(key=len, reverse=True)  # the longest name first: HybridIdentityServiceAgentSignalingError
    pattern = re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(alternatives) + r")(?![A-Za-z0-9_])", re.IGNORECASE)
    return pattern, exact, folded


def _cloudsync_hits(text: str) -> list[tuple[re.Match[str], CodeEntry]]:
    """The Cloud Sync provisioning agent's error codes in the text (the knowledge `analyze` reads traces with)."""
    pattern, exact, folded = _cloudsync_names()
    hits: list[tuple[re.Match[str], CodeEntry]] = []
    for match in pattern.finditer(text):
        entry = exact.get(match.group(0)) or folded.get(match.group(0).lower())
        if entry is not None:
            hits.append((match, entry))
    return hits


@cache
def _suggestion_labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for entry in codes.curated_entries():
        for label in (entry.name, entry.code, *entry.aliases):
            labels.setdefault(label.lower(), label)
    for symbol in codes.symbol_names():
        labels.setdefault(symbol.lower(), symbol)
    for _entry, names, _exact in codes.cloudsync_entries():
        for name in names:
            labels.setdefault(name.lower(), name)
    return labels


@dataclass(frozen=True)
class _Candidates:
    """Candidates for difflib by length, and every character any of them has."""

    by_length: dict[int, tuple[str, ...]]
    alphabet: frozenset[str]

    @classmethod
    def of(cls, words: Iterable[str]) -> _Candidates:
        grouped: dict[int, list[str]] = {}
        for word in words:
            grouped.setdefault(len(word), []).append(word)
        alphabet = frozenset("".join(word for group in grouped.values() for word in group))
        return cls({length: tuple(group) for length, group in grouped.items()}, alphabet)


@cache
def _suggestion_candidates() -> _Candidates:
    return _Candidates.of(_suggestion_labels())


@cache
def _known_codes() -> dict[str, str]:
    return {**{str(c): f"{c} (Win32)" for c in codes.win32_codes()},
            **{str(c): f"AADSTS{c}" for c in codes.aadsts_codes()}}


@cache
def _known_code_candidates() -> _Candidates:
    return _Candidates.of(_known_codes())


def _close_matches(word: str, candidates: _Candidates, limit: int, cutoff: float) -> list[str]:
    """``difflib.get_close_matches`` over the candidates, asking only those of a length that can reach the cutoff.

    difflib tests a candidate of length b against the word of length a first by 2*min(a, b)/(a + b), then by
    2*m/(a + b), m the characters the two share; m is at most the word's characters that some candidate has at
    all. Both bounds depend on b alone, so whole lengths are passed over at once (the answer is the same: difflib's
    best ``limit`` do not depend on the order of the candidates). Asking each of ~20,000 labels made a "did you
    mean" for a hostile paste 60 ms.
    """
    size = len(word)
    shared = sum(1 for char in word if char in candidates.alphabet)
    kept = [label for length, labels in candidates.by_length.items()
            if size + length and 2.0 * min(size, length, shared) / (size + length) >= cutoff for label in labels]
    return difflib.get_close_matches(word, kept, n=limit, cutoff=cutoff)


def suggest(query: str, limit: int = 5) -> list[str]:
    """Close spellings of known names and codes, for the "no match" answer."""
    text = query.strip()
    if not text:
        return []
    numeric = re.fullmatch(r"(?:aadsts)?\s*(\d+)", text, re.IGNORECASE)
    if numeric:
        return _suggest_codes(numeric.group(1), limit)
    labels = _suggestion_labels()
    close = []
    if len(text) <= MAX_SPELLING_QUERY:  # a long paste is not a misspelt name
        close = _close_matches(text.lower(), _suggestion_candidates(), limit, 0.6)
    if not close:
        # the query's words once (not once per label: that made a pasted megabyte take minutes), capped
        by_word = _labels_holding(_first_words(text, MAX_SUGGESTION_WORDS))
        close = sorted(by_word, key=len)[:limit]
    return [labels[key] for key in close]


@cache
def _joined_suggestion_labels() -> tuple[str, list[int], list[str]]:
    """Every suggestion label (lower case) in one newline-separated string, where each starts, and the labels."""
    keys = list(_suggestion_labels())
    starts: list[int] = []
    position = 0
    for key in keys:
        starts.append(position)
        position += len(key) + 1
    return "\n".join(keys), starts, keys


def _labels_holding(words: list[str]) -> list[str]:
    """The suggestion labels that contain one of the words (no newline in a word), in the labels' order: each word
    searched for once in all the labels joined, not in each of ~20,000 labels."""
    joined, starts, keys = _joined_suggestion_labels()
    holding: set[int] = set()
    for word in words:
        position = joined.find(word)
        while position >= 0:
            index = bisect.bisect_right(starts, position) - 1
            holding.add(index)
            position = joined.find(word, starts[index] + len(keys[index]) + 1)  # the next label on
    return [keys[index] for index in sorted(holding)]


def _suggest_codes(digits: str, limit: int) -> list[str]:
    known = _known_codes()
    return [known[c] for c in _close_matches(digits, _known_code_candidates(), limit, 0.75)]
