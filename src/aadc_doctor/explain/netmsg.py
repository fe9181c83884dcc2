"""What ``net helpmsg N`` prints, reproduced offline from the Win32 message table.

net.exe prints a blank line, the message, and a blank line. It fills FormatMessage inserts (%1, %2!s!)
with ``***``; for a number without a message it prints message 3871 of netmsg.dll with the number in
place of ``***``, followed by its usual "More help is available" line (see SOURCES.md, netmsg.toml).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aadc_doctor.knowledge import read_toml
from aadc_doctor.knowledge.win32_table import win32_row

_INSERT = re.compile(r"%\d{1,2}(?:![^!]*!)?")


@dataclass(frozen=True)
class HelpMsg:
    """The answer to one ``helpmsg N``: the Windows message, or net's "not a valid message number" text."""

    code: int
    found: bool
    text: str
    name: str = ""
    message: str = ""


def fill_inserts(message: str) -> str:
    """Replace FormatMessage inserts by net helpmsg's ``***`` placeholder."""
    placeholder = str(read_toml("netmsg.toml")["insert_placeholder"])
    return _INSERT.sub(placeholder, message)


def helpmsg(code: int, *, raw: bool = False) -> HelpMsg:
    """Exactly what ``net helpmsg code`` prints (``raw`` keeps the FormatMessage inserts as in the table)."""
    row = win32_row(code)
    if row is None:
        not_found = read_toml("netmsg.toml")["not_found"]
        text = "\n" + str(not_found["template"]).replace("***", str(code)) + "\n\n" + str(not_found["more_help"])
        return HelpMsg(code, False, text + "\n\n")
    message = row["message"]
    shown = message if raw or "%" not in message else fill_inserts(message)
    return HelpMsg(code, True, f"\n{shown}\n\n", name=row["name"], message=message)
