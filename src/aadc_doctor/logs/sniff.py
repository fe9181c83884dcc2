"""Which proxy log format a file is in, from its first lines; ``--format`` overrides.

Order matters: a W3C file is recognised by its ``#Fields:`` directive, a Squid log by its epoch-and-result-code
lines, and the articles' listing by ``connect://`` anywhere near the top (it is the loosest test, so last).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aadc_doctor.logs import listing, squid, w3c
from aadc_doctor.logs.proxy_record import ProxyRecord


class LineParser(Protocol):
    name: str

    def parse(self, line: str, line_no: int = 0) -> ProxyRecord | None:
        """A record, None for a line that is no request (header, comment, prose), or BadLine."""
        ...


@dataclass(frozen=True)
class LogFormat:
    """A format: its parser factory, its sniff test, and whether large files of it take the fast path."""

    name: str
    description: str
    new_parser: Callable[[], LineParser]
    sniff: Callable[[list[str]], bool]
    fast_path: bool  # True: only lines naming a catalog domain (or W3C directives) are parsed in full
    header_prefix: str | None = None  # lines starting with this are always handed to the parser


FORMATS: dict[str, LogFormat] = {
    "w3c": LogFormat("w3c", "W3C extended log (IIS, Forefront TMG, Blue Coat ELFF)", w3c.W3CParser, w3c.sniff,
                     fast_path=True, header_prefix="#"),
    "squid": LogFormat("squid", "Squid native access.log", squid.SquidParser, squid.sniff, fast_path=True),
    "listing": LogFormat("listing", "connect://host:port listing (the articles' reference tables)",
                         listing.ListingParser, listing.sniff, fast_path=False),
}


def detect_format(head: str) -> LogFormat | None:
    """The first format whose sniff test accepts the head of the file (a possibly cut last line dropped)."""
    lines = head.splitlines()
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]
    lines = lines[:200]
    for fmt in FORMATS.values():
        if fmt.sniff(lines):
            return fmt
    return None
