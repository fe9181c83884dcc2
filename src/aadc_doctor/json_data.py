"""One generic dataclass-to-JSON function: the results of every command become JSON through it, so a result's
shape is declared once (its dataclass) and a renamed field is a mypy error, not a silently missing key.

Field metadata (``field(metadata=json_meta(...))``) covers what the contract needs besides the field name:
another key, a rounded float, a capped list, a key left out when None, null for an empty text, a field kept out of
the JSON. A dataclass may add
computed keys with a ``json_extra()`` method, placed after its fields, or ``json_leading()``, placed before them.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

JSON_KEY = "aadc_json"


@dataclasses.dataclass(frozen=True)
class JsonField:
    key: str | None = None  # the JSON key when it is not the field name
    round: int | None = None  # digits a float is rounded to
    limit: int | None = None  # at most this many items of a sequence
    omit_none: bool = False  # leave the key out when the value is None
    omit_empty: bool = False  # leave the key out when the value is empty or false ("", (), 0, False, None)
    null_empty: bool = False  # write null for an empty text ("" means "none" in the dataclass, null in the JSON)
    skip: bool = False  # never in the JSON (evidence kept for renderers, or a computed key replaces it)
    flatten: bool = False  # a nested dataclass whose keys go into this object instead of under the field's name


def json_meta(**options: Any) -> dict[str, JsonField]:
    """Field metadata with JSON options: ``field(default=None, metadata=json_meta(omit_none=True))``."""
    return {JSON_KEY: JsonField(**options)}


_PLAIN = frozenset({str, int, float, bool, type(None)})


def to_json_data(value: Any) -> Any:
    """Plain JSON data (dict, list, str, int, float, bool, None) for a result and everything it holds."""
    if type(value) in _PLAIN:  # most values of a report: returned before any isinstance test
        return value
    if value is None or (isinstance(value, bool | int | float) and not isinstance(value, enum.Enum)):
        return value
    if isinstance(value, enum.Enum):
        return to_json_data(value.value)
    if isinstance(value, str):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_data(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple: options from its json_options()
        options = getattr(value, "json_options", None)
        meta: Mapping[str, JsonField] = options() if options is not None else {}
        return _fields_data(value, [(name, getattr(value, name), meta.get(name)) for name in value._fields])
    if isinstance(value, Mapping):
        return {str(to_json_data(k)): to_json_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_data(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


_DECLARED: dict[type, tuple[tuple[str, JsonField | None], ...]] = {}


def _declared(cls: type) -> tuple[tuple[str, JsonField | None], ...]:
    """A dataclass's fields and their JSON options, read once per class (a report holds thousands of rows)."""
    found = _DECLARED.get(cls)
    if found is None:
        found = _DECLARED[cls] = tuple((f.name, f.metadata.get(JSON_KEY)) for f in dataclasses.fields(cls))
    return found


def _dataclass_data(value: Any) -> dict[str, Any]:
    return _fields_data(value, [(name, getattr(value, name), options) for name, options in _declared(type(value))])


def _fields_data(value: Any, fields: list[tuple[str, Any, JsonField | None]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    leading = getattr(value, "json_leading", None)  # computed keys that read best before the fields
    if leading is not None:
        out.update({k: to_json_data(v) for k, v in leading().items()})
    for name, item, options in fields:
        if options is not None:
            if options.skip or (options.omit_none and item is None) or (options.omit_empty and not item):
                continue
            if options.null_empty and item == "":
                item = None
            if options.round is not None and isinstance(item, float):
                item = round(item, options.round)
            if options.limit is not None and isinstance(item, list | tuple):
                item = item[: options.limit]
            data = to_json_data(item)
            if options.flatten and isinstance(data, dict):
                out.update(data)
            else:
                out[options.key or name] = data
        else:
            out[name] = to_json_data(item)
    extra = getattr(value, "json_extra", None)
    if extra is not None:
        out.update({k: to_json_data(v) for k, v in extra().items()})
    return out
