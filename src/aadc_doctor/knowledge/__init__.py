"""Knowledge is data: versioned files in ``knowledge/data`` (sources in ``SOURCES.md``), read lazily.

Nothing here is loaded at import time: each table is read on first use and cached, so
``aadc-doctor helpmsg 1328`` stays fast.
"""

from __future__ import annotations

import csv
import io
import tomllib
from functools import cache
from importlib import resources
from typing import Any


def data_text(name: str) -> str:
    """The text of one data file shipped inside the package."""
    return resources.files("aadc_doctor.knowledge").joinpath("data", name).read_text(encoding="utf-8")


@cache
def read_tsv(name: str) -> tuple[dict[str, str], ...]:
    """Rows of a tab-separated table with one header row (no quoting, as in shared/corpus)."""
    reader = csv.DictReader(io.StringIO(data_text(name)), delimiter="\t", quoting=csv.QUOTE_NONE)
    return tuple(dict(row) for row in reader)


@cache
def read_toml(name: str) -> dict[str, Any]:
    """A hand-curated knowledge file (TOML keeps long texts readable and diffable)."""
    return tomllib.loads(data_text(name))
