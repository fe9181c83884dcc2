"""Issue 17, item 6: `explain`'s work grows linearly with the paste, whatever its shape (no wall-clock bound).

Thirty times the paste must cost about thirty times the CPU, not nine hundred: each shape is explained at 10 KB and
at 300 KB and the ratio of the CPU times (best of several runs, so a busy machine does not decide) must stay under
60 (a scan of the line so far per number, in C, gave 110). The shapes are those that were slow: numbers one a line
and all on one line (a megabyte took 2.6 s), the 91-character event row, numbers each after a word that may say they
are codes. Relevance ranking is checked by what it touches: a query of words no entry has scores no entry.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aadc_doctor.explain import matcher
from aadc_doctor.explain.lookup import explain_all

EVENT_ROW = "4625  " + "0  " * 28 + "x"
LINEAR_LIMIT = 60  # 30x the input: linear work is ~30x the time, quadratic ~900x


def _numbers(separator: str) -> Callable[[int], str]:
    def make(size: int) -> str:
        rng = random.Random(7)
        return separator.join(str(rng.randint(0, 99999)) for _ in range(size // 5))[:size]
    return make


def _event_rows(size: int) -> str:
    return (EVENT_ROW * (size // len(EVENT_ROW) + 1))[:size]


def _worded(size: int) -> str:
    rng = random.Random(9)
    words = ("error", "(", "Reason:", "status", "helpmsg", "x")
    return " ".join(f"{rng.choice(words)} {rng.randint(0, 99999)}" for _ in range(size // 10))[:size]


def _cpu_seconds(text: str, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        explain_all([text])
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("make", [_numbers("\n"), _numbers(" "), _numbers(", "), _event_rows, _worded],
                         ids=["numbers-one-a-line", "numbers-one-line", "numbers-comma-list", "event-rows", "worded"])
def test_thirty_times_the_paste_costs_about_thirty_times(make: Callable[[int], str]) -> None:
    explain_all(["warm-up 1328 error 403"])  # the tables are loaded once per process
    small, large = make(10_000), make(300_000)
    ratio = _cpu_seconds(large, runs=2) / max(_cpu_seconds(small), 1e-3)
    assert ratio < LINEAR_LIMIT, f"{ratio:.1f}x the CPU for 30x the paste"


class _CountingDocs(tuple[Any, ...]):
    touched = 0

    def __iter__(self) -> Iterator[Any]:
        for doc in super().__iter__():
            _CountingDocs.touched += 1
            yield doc

    def __getitem__(self, index: Any) -> Any:
        _CountingDocs.touched += 1
        return super().__getitem__(index)


def test_relevance_visits_only_the_entries_that_share_a_word(monkeypatch: pytest.MonkeyPatch) -> None:
    """A paste of 20,000 distinct unknown words once scored each word against every one of ~5,000 entries."""
    index = matcher._index()
    counted = matcher._Index(_CountingDocs(index.docs), index.idf, index.postings)
    monkeypatch.setattr(matcher, "_index", lambda: counted)
    _CountingDocs.touched = 0
    assert matcher.rank(" ".join(f"QzqUnknown{n} zqx{n}q" for n in range(20_000))) == []
    assert _CountingDocs.touched == 0
    ranked = matcher.rank("proxy authentication required")
    assert ranked
    assert 0 < _CountingDocs.touched < len(index.docs) / 2
