"""The Win32 message table, readable one row at a time.

`aadc-doctor helpmsg N` needs one line of a 3,000-row table; scanning for it costs a fraction of
parsing the whole table, and this module defines no classes, so the start-up path stays short.
``knowledge.codes`` builds its typed entries on top of these rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from aadc_doctor.knowledge import read_tsv, row_starting_with

TABLE = "win32.tsv"


@cache
def win32_rows() -> dict[int, Mapping[str, str]]:
    """Every row, by code."""
    return {int(row["code"]): row for row in read_tsv(TABLE)}


@cache
def win32_row_scan(code: int) -> Mapping[str, str] | None:
    """One row, found by scanning the file for the line that starts with the code."""
    return row_starting_with(TABLE, str(code)) if code >= 0 else None


LAST_CODE = 15999  # Win32 system errors are 0-15999 (NERR_ codes included); a larger number is never one


def win32_row(code: int) -> Mapping[str, str] | None:
    """One row: from the parsed table when it is loaded already, else by scanning."""
    if not 0 <= code <= LAST_CODE:
        return None
    if win32_rows.cache_info().currsize:
        return win32_rows().get(code)
    return win32_row_scan(code)
