"""json_data.to_json_data: the one dataclass-to-JSON function and each of its field options."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from aadc_doctor.json_data import JsonField, json_meta, to_json_data


class Colour(StrEnum):
    RED = "red"


@dataclass(frozen=True)
class Inner:
    a: int
    b: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outer:
    colour: Colour
    inner: Inner = field(metadata=json_meta(flatten=True))
    renamed: int = field(default=1, metadata=json_meta(key="other_name"))
    ms: float = field(default=1.26, metadata=json_meta(round=1))
    names: tuple[str, ...] = field(default=("a", "b", "c"), metadata=json_meta(limit=2))
    maybe: str | None = field(default=None, metadata=json_meta(omit_none=True))
    empty: tuple[int, ...] = field(default=(), metadata=json_meta(omit_empty=True))
    secret: str = field(default="x", metadata=json_meta(skip=True))
    nested: Inner | None = None

    def json_leading(self) -> dict[str, Any]:
        return {"first": True}

    def json_extra(self) -> dict[str, Any]:
        return {"names_total": len(self.names)}


class Pair(NamedTuple):
    inner: Inner
    rank: int

    def json_options(self) -> dict[str, JsonField]:
        return {"rank": JsonField(key="reading"), "inner": JsonField(flatten=True)}


def test_every_field_option() -> None:
    data = to_json_data(Outer(Colour.RED, Inner(1, ("x",)), nested=Inner(2)))
    assert data == {"first": True, "colour": "red", "a": 1, "b": ["x"], "other_name": 1, "ms": 1.3,
                    "names": ["a", "b"], "nested": {"a": 2, "b": []}, "names_total": 3}
    keys = list(data)
    assert (keys[0], keys[-1]) == ("first", "names_total")


def test_a_named_tuple_takes_its_options_from_json_options() -> None:
    assert to_json_data(Pair(Inner(5), 1)) == {"a": 5, "b": [], "reading": 1}


def test_containers_and_plain_values() -> None:
    assert to_json_data({"k": (Colour.RED, None, 1.5, True)}) == {"k": ["red", None, 1.5, True]}


@dataclass
class Stats:
    name: str
    cut_short: str = field(default="", metadata=json_meta(null_empty=True))

    def to_dict(self) -> dict[str, Any]:  # not the JSON: every class is declared by its fields now
        return {"legacy": True}


def test_an_empty_text_can_be_null_and_to_dict_is_never_called() -> None:
    assert to_json_data(Stats("a.log")) == {"name": "a.log", "cut_short": None}
    assert to_json_data(Stats("a.log", "ends at 4096")) == {"name": "a.log", "cut_short": "ends at 4096"}
