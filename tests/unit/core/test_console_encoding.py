"""Legacy Windows code pages: the tool's typographic characters become ASCII look-alikes, never an exit 4."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from aadc_doctor.console_encoding import tolerate_legacy_code_page


@pytest.mark.parametrize("codepage", ["cp437", "cp850", "cp1252"])
def test_unencodable_characters_become_look_alikes(codepage: str) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=codepage)
    tolerate_legacy_code_page(stream)
    stream.write("doesn\u2019t \u201cquoted\u201d \u2014 more\u2026 a\u2192b \u4e2d")
    stream.flush()
    text = raw.getvalue().decode(codepage)
    assert "a->b" in text and text.endswith("?")  # no code page here has the arrow or the CJK character
    if codepage == "cp1252":  # has the typographic quotes: they stay
        assert "doesn\u2019t \u201cquoted\u201d \u2014 more\u2026" in text
    else:
        assert "doesn't \"quoted\" - more..." in text


def test_utf8_streams_are_left_alone() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    tolerate_legacy_code_page(stream, None)
    assert stream.errors == "strict"


def test_the_cli_on_a_cp437_pipe_prints_the_message_not_an_internal_error() -> None:
    """AADSTS50014's message has a ’ that cp437 lacks (a real `aadc-doctor explain ... | more` on Windows)."""
    env = {"PYTHONIOENCODING": "cp437", "NO_COLOR": "1", "PATH": ""}
    run = subprocess.run([sys.executable, "-m", "aadc_doctor", "explain", "AADSTS50014"], capture_output=True,
                         env=env, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert "The user account doesn't exist in the directory." in run.stdout.decode("cp437")
