"""Knowledge is data: versioned files in ``knowledge/data`` (sources in ``SOURCES.md``), read lazily.

Nothing here is loaded at import time: each table is read on first use and cached, so
``aadc-doctor helpmsg 1328`` stays fast.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"


def data_text(name: str) -> str:
    """The text of one data file shipped inside the package (installed unpacked, as wheels are)."""
    return (DATA_DIR / name).read_text(encoding="utf-8")


@cache
def read_tsv(name: str) -> tuple[dict[str, str], ...]:
    """Rows of a tab-separated table with one header row (no quoting, as in corpus).

    Our tables have no quoting and no tab or newline inside a field, so a plain split reads them
    exactly as csv would, several times faster (this is on the start-up path of ``helpmsg``).
    Rows whose field count differs from the header fall back to the csv module's rules.
    """
    lines = [line.removesuffix("\r") for line in data_text(name).split("\n")]
    if not lines or not lines[0]:
        return ()
    header = lines[0].split("\t")
    rows: list[dict[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            import csv
            import io

            reader = csv.DictReader(io.StringIO(lines[0] + "\n" + line), delimiter="\t", quoting=csv.QUOTE_NONE)
            rows.extend(dict(row) for row in reader)
            continue
        rows.append(dict(zip(header, fields, strict=True)))
    return tuple(rows)


SCANS_BEFORE_INDEX = 16  # after this many look-ups in one table, index its first fields once (explain of a paste)
_scans: dict[str, int] = {}


def row_starting_with(name: str, key: str) -> dict[str, str] | None:
    """The first row of a table whose first field is ``key``, found by scanning its text for that line.

    A command that needs a few rows of a table of thousands (helpmsg, the pta report) pays a string
    search instead of parsing every row; one that asks for many (explain of a pasted log with thousands of
    numbers) gets an index of the first fields after ``SCANS_BEFORE_INDEX`` look-ups, so a miss stops costing
    a scan of the whole table.
    """
    text = _table_text(name)
    if not key:
        return None
    _scans[name] = _scans.get(name, 0) + 1
    if _scans[name] > SCANS_BEFORE_INDEX:
        found = _line_starts(name).get(key)
        start = -1 if found is None else found - 1
    else:
        start = text.find(f"\n{key}\t")
    if start < 0:
        return None
    header = text[: text.index("\n")].removesuffix("\r").split("\t")
    end = text.find("\n", start + 1)
    fields = text[start + 1: end if end >= 0 else len(text)].removesuffix("\r").split("\t")
    return dict(zip(header, fields, strict=True)) if len(fields) == len(header) else None


@cache
def _line_starts(name: str) -> dict[str, int]:
    """Where the line of each first field starts (its first occurrence), for ``row_starting_with``."""
    text = _table_text(name)
    starts: dict[str, int] = {}
    position = text.find("\n") + 1
    while 0 < position < len(text):
        tab = text.find("\t", position)
        newline = text.find("\n", position)
        if tab >= 0 and (newline < 0 or tab < newline):
            starts.setdefault(text[position:tab], position)
        if newline < 0:
            break
        position = newline + 1
    return starts


@cache
def _table_text(name: str) -> str:
    return data_text(name)


@cache
def read_toml(name: str) -> dict[str, Any]:
    """A hand-curated knowledge file (TOML keeps long texts readable and diffable)."""
    import tomllib

    return tomllib.loads(data_text(name))
