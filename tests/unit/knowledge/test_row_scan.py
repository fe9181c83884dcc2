"""Rows found by scanning a table's text agree with the parsed table, row for row."""

from __future__ import annotations

import pytest

from aadc_doctor.knowledge import read_tsv, row_starting_with


@pytest.mark.parametrize(("table", "key"), [("ntstatus.tsv", "code_hex"), ("win32.tsv", "code")])
def test_every_row_found_by_scanning_equals_the_parsed_row(table, key):
    first: dict[str, dict[str, str]] = {}
    for row in read_tsv(table):
        first.setdefault(row[key], row)  # a key that appears twice: the first row counts, as in the lookups
    assert len(first) > 1000
    for value, row in first.items():
        assert row_starting_with(table, value) == row, value


@pytest.mark.parametrize("key", ["", "0xFFFFFFFF", "code_hex", "0x0000000"])
def test_a_key_that_is_no_row_finds_nothing(key):
    assert row_starting_with("ntstatus.tsv", key) is None
