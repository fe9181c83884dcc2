"""Tables for the HTML report: the building blocks every section uses, and the generic renderer.

The generic renderer draws any Results from its JSON data (``json_data.to_json_data``): scalars in a key/value
table, a list of objects as a table, nested values nested, every list cut to MAX_ROWS rows with the count of the
rest, so a command without a dedicated renderer is never missing from the report and never makes it unbounded.
`explain`, `helpmsg`, `proxy`, `account`, `ad`, `collect` and `demo` use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aadc_doctor.render.html_doc import Element, h

if TYPE_CHECKING:
    from aadc_doctor.model import Finding

MAX_ROWS = 100  # rows of one table: the rest is counted, not listed
MAX_COLUMNS = 14
MAX_DEPTH = 4  # nesting shown as tables; deeper data is shown as JSON text
MAX_INLINE = 40  # items of a list of scalars shown in one cell
WIDE_COLUMNS = 8  # a list of objects with more keys than this, or with long texts, is shown one object at a time
LONG_TEXT = 80
MAX_RECORDS = 50


@dataclass(frozen=True)
class FindingIndex:
    """Where the findings are on the page, for a section that links to them (the check matrix, analyze)."""

    by_finding: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (id, subject) -> element id
    by_subject: Mapping[str, str] = field(default_factory=dict)  # subject -> element id of the worst finding

    @classmethod
    def of(cls, findings: Sequence[Finding], anchors: Sequence[str | None]) -> FindingIndex:
        """``findings`` in page order (worst first) with their element ids."""
        by_finding: dict[tuple[str, str], str] = {}
        by_subject: dict[str, str] = {}
        for finding, anchor in zip(findings, anchors, strict=True):
            if anchor is None:
                continue
            by_finding.setdefault((finding.id, finding.subject), anchor)
            for subject in {finding.subject, *finding.subject.split(", ")} - {""}:
                by_subject.setdefault(subject, anchor)
        return cls(by_finding, by_subject)


def title_of(key: str) -> str:
    """``first_seen`` -> ``First seen``."""
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def scalar(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    text = str(value)
    if _ISO_TIME.match(text):  # 2026-12-05 08:00:00Z: a table may break it at the space, not mid-number
        return text[:10] + " " + text[11:]
    return text


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def kv_table(rows: Iterable[tuple[str, Any]], *, class_: str = "kv") -> Element:
    """A two-column table: label, value (a value may be an element)."""
    return h("table", h("tbody", (
        h("tr", h("th", label, scope="row"), h("td", value if isinstance(value, Element) else scalar(value)))
        for label, value in rows)), class_=class_)


def more_note(shown: int, total: int, what: str = "rows") -> Element | None:
    if total <= shown:
        return None
    return h("p", f"{total - shown:,} more {what} not shown (the first {shown:,} of {total:,}); the JSON report "
                  "(--output FILE.json) has the full data.", class_="more")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, total: int | None = None, limit: int = MAX_ROWS,
          numeric: Iterable[int] = (), row_class: Sequence[str | None] | None = None,
          caption: str | None = None) -> Element:
    """A data table; ``rows`` is read up to ``limit`` (the rest counted: ``total`` when known, else counted)."""
    right = set(numeric)
    body: list[Element] = []
    count = 0
    for index, row in enumerate(rows):
        if index >= limit:
            if total is not None:
                break  # the caller knows the count: the rest need not even be built
            count += 1
            continue
        count += 1
        cls = row_class[index] if row_class is not None and index < len(row_class) else None
        body.append(h("tr", (h("td", cell if isinstance(cell, Element) else scalar(cell),
                                class_="num" if i in right else None) for i, cell in enumerate(row)), class_=cls))
    seen = total if total is not None else count
    return h("div", h("table", h("caption", caption) if caption else None,
                      h("thead", h("tr", (h("th", head, scope="col", class_="num" if i in right else None)
                                          for i, head in enumerate(headers)))),
                      h("tbody", body), class_="data"),
             more_note(min(limit, count), seen), class_="scroll")


def badge(text: str, kind: str) -> Element:
    return h("span", text, class_=f"badge {kind}")


# -- the generic renderer ------------------------------------------------------------------------------------


def value_view(value: Any, depth: int = 0) -> Element | str:
    """Any JSON value as table cells and tables."""
    if is_scalar(value):
        text = scalar(value)
        return h("pre", text) if "\n" in text else text
    if not value:
        return "–"
    if depth >= MAX_DEPTH:
        text = json.dumps(value, ensure_ascii=False, default=str)
        return h("code", text)
    if isinstance(value, Mapping):
        if not value:
            return "–"
        items = list(value.items())
        return h("div", kv_table((title_of(str(k)), value_view(v, depth + 1)) for k, v in items[:MAX_ROWS]),
                 more_note(min(len(items), MAX_ROWS), len(items), "entries"))
    if isinstance(value, list | tuple):
        return _list_view(list(value), depth)
    return scalar(str(value))


def _list_view(items: list[Any], depth: int) -> Element | str:
    if not items:
        return "–"
    if all(is_scalar(v) for v in items):
        shown = ", ".join(scalar(v) for v in items[:MAX_INLINE])
        return shown + (f" … ({len(items) - MAX_INLINE:,} more)" if len(items) > MAX_INLINE else "")
    if all(isinstance(v, Mapping) for v in items):
        columns: list[str] = []
        for item in items[:MAX_ROWS]:
            for key in item:
                if key not in columns:
                    columns.append(key)
        if len(columns) > WIDE_COLUMNS or any(isinstance(v, str) and len(v) > LONG_TEXT
                                              for item in items[:MAX_ROWS] for v in item.values()):
            # long texts in many columns read badly side by side: one key/value table per item
            records = items[:MAX_RECORDS]
            return h("div", (h("div", value_view(item, depth + 1), class_="record") for item in records),
                     more_note(len(records), len(items), "items"))
        columns = columns[:MAX_COLUMNS]
        return table([title_of(c) for c in columns],
                     ([value_view(item.get(c), depth + 1) for c in columns] for item in items), total=len(items))
    return h("ol", (h("li", value_view(v, depth + 1)) for v in items[:MAX_ROWS]),
             h("li", f"… {len(items) - MAX_ROWS:,} more") if len(items) > MAX_ROWS else None)


def generic_sections(results: Any, _links: FindingIndex | None = None) -> list[Element]:
    """Any Results: its scalar fields in one table, then a titled block for each structured field."""
    from aadc_doctor.json_data import to_json_data

    data = to_json_data(results)
    if not isinstance(data, Mapping):
        return [h("div", value_view(data))]
    return data_sections(data)


def data_sections(data: Mapping[str, Any], *, skip: Iterable[str] = ()) -> list[Element]:
    left_out = set(skip)
    plain = [(title_of(k), v) for k, v in data.items() if is_scalar(v) and k not in left_out]
    out: list[Element] = [kv_table(plain)] if plain else []
    for key, value in data.items():
        if is_scalar(value) or key in left_out or not value:
            continue
        out.append(h("h3", title_of(key)))
        view = value_view(value, 1)
        out.append(view if isinstance(view, Element) else h("p", view))
    return out
