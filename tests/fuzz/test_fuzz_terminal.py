"""Fuzz the terminal renderer: no external string crashes it or reaches the terminal with a control character.

Issue 17, items 9 and 10: Rich markup (``[/]``, ``[link=...]``), terminal escapes, C1 controls, bidirectional
overrides and lone surrogates, printed as a plain string, a styled Text, a table cell and a finding, through
the console every command uses (colour on, as on a terminal, and plain, as when piped).
"""

from __future__ import annotations

import io
import re

from hypothesis import given
from hypothesis import strategies as st
from rich.table import Table
from rich.text import Text
from tests.fuzz.budget import fuzz_settings

from aadc_doctor.model import Finding, Severity
from aadc_doctor.render.safe_text import UNSAFE_CHARACTERS
from aadc_doctor.render.terminal import make_console, render_findings

PIECES = ["[/]", "[link=http://evil.example]", "[/link]", "[bold red]", "\\[", "[", "]", "\x1b[31m", "\x1b[2J",
          "\x1b]0;title\x07", "\x1b]8;;http://evil.example\x1b\\", "\x9b31m", "\r", "\b", "\x00", "\x7f", "\u202e",
          "\u2066", "\u2028", "\ud800", "\udcff", "\t", "\n", ":emoji:", "é", "\u200b", "界"]
external = st.lists(st.one_of(st.characters(), st.sampled_from(PIECES), st.integers(0xD800, 0xDFFF).map(chr)),
                    max_size=40).map("".join)
_UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")
_RICH_SGR = re.compile(r"\x1b\[[0-9;]*m")  # the only sequence our console emits itself (styles)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _render_everywhere(value: str, stream: io.StringIO, env: dict[str, str]) -> str:
    console = make_console(stream, env)
    console.print(value)
    console.print(Text("label: ", style="bold") + Text(value, style="cyan"))
    table = Table("name", "value", title=value)
    table.add_row(value, Text(value))
    console.print(table)
    render_findings([Finding(id="fuzz-finding", severity=Severity.ERROR, title=value, subject=value, detail=value,
                             remedy=value, references=(value,))], console)
    return stream.getvalue()


@fuzz_settings("render.terminal", 2000)
@given(external)
def test_any_external_string_renders_without_controls(value: str) -> None:
    colour = _render_everywhere(value, _Terminal(), {"COLUMNS": "60"})
    assert not _UNSAFE.search(_RICH_SGR.sub("", colour)), repr(colour)
    plain = _render_everywhere(value, io.StringIO(), {"NO_COLOR": "1", "COLUMNS": "60"})
    assert not _UNSAFE.search(plain), repr(plain)
    assert "\x1b" not in plain
    colour.encode("utf-8")  # no lone surrogate: any UTF-8 terminal or pipe takes it


@fuzz_settings("render.markup", 300)
@given(external, st.sampled_from(["[/]", "[link=http://evil.example]click[/link]", "[bold]x[/bold]"]))
def test_markup_in_input_is_printed_as_text(value: str, markup: str) -> None:
    out = _render_everywhere(value + markup, io.StringIO(), {"NO_COLOR": "1", "COLUMNS": "200"})
    assert markup in out
