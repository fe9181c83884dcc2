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


def _cpu_seconds(text: str, runs: int = 5, repeat: int = 1) -> float:
    """Best of ``runs`` of ``repeat`` explanations of the text (CPU seconds). Repeating the small text keeps every
    measurement well above the clock's step (process_time moves in 15.6 ms steps on Windows)."""
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        for _ in range(repeat):
            explain_all([text])
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("make", [_numbers("\n"), _numbers(" "), _numbers(", "), _event_rows, _worded],
                         ids=["numbers-one-a-line", "numbers-one-line", "numbers-comma-list", "event-rows", "worded"])
def test_thirty_times_the_paste_costs_about_thirty_times(make: Callable[[int], str]) -> None:
    explain_all(["warm-up 1328 error 403"])  # the tables are loaded once per process
    small, large = make(10_000), make(300_000)
    # the large paste against the small one explained 30 times: the same bytes, so ~1x when linear, ~30x if not
    ratio = 30 * _cpu_seconds(large, runs=2) / max(_cpu_seconds(small, runs=3, repeat=30), 1e-3)
    assert ratio < LINEAR_LIMIT, f"{ratio:.1f}x the CPU for 30x the paste"


QUADRUPLE_LIMIT = 10  # 4x the input: linear work is ~4x the time, quadratic ~16x


def _mixed_log(size: int) -> str:
    lines = ["2024-05-01 10:11:12Z Error: 12 : Reason: '1328' Trace ID: 0a1b2c3d-0000-1111-2222-333344445555",
             "Invoke-WebRequest : The remote server returned an error: (407) Proxy Authentication Required.",
             "Sub Status: 0xC000006A Logon Type: 3 Caller Process ID: 0x1f4 helpmsg 1330 ERROR_LOGON_FAILURE",
             "AADSTS50126 InvalidGrant 1326, 1327; 0x530 wİnhttp: 12029 AADſTS: 80001 -1073741715 C000006D"]
    return ("\n".join(lines * (size // 300 + 1)))[:size]


def _unicode_numbers(size: int) -> str:
    """Non-ASCII text: the pre-filters that skip patterns by a needed word are off, every pattern runs."""
    rng = random.Random(11)
    return "\n".join(f"{rng.randint(0, 99999)} ſtatus: {rng.randint(0, 9999)} é" for _ in range(size // 20))[:size]


@pytest.mark.parametrize("make", [_numbers("\n"), _mixed_log, _unicode_numbers, lambda n: "AADSTS50126 " * (n // 12),
                                  lambda n: " ".join(f"0x{i:08X}" for i in range(n // 11))],
                         ids=["numbers-one-a-line", "mixed-log", "unicode", "aadsts-repeated", "hex-codes"])
def test_four_times_the_paste_costs_about_four_times(make: Callable[[int], str]) -> None:
    """Input n and 4n (CPU time, best of three): a quadratic step anywhere shows as ~16x."""
    explain_all(["warm-up 1328 error 403"])
    small, large = make(50_000), make(200_000)
    ratio = 4 * _cpu_seconds(large, runs=3) / max(_cpu_seconds(small, runs=3, repeat=4), 1e-3)
    assert ratio < QUADRUPLE_LIMIT, f"{ratio:.1f}x the CPU for 4x the paste"


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
