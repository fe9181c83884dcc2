"""Which proxy log format a file is in, from its first lines; ``--format`` overrides.

Order matters: a W3C file is recognised by its ``#Fields:`` directive, a Squid log by its epoch-and-result-code
lines, tinyproxy's by its ``LEVEL Mon dd hh:mm:ss [pid]:`` lines, the Apache/nginx combined format by its
``[dd/Mon/yyyy:...]`` time and quoted request, and the articles' listing by ``connect://`` anywhere near the top
(it is the loosest test, so last).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aadc_doctor.logs import combined, listing, squid, tinyproxy, w3c
from aadc_doctor.logs.proxy_record import ProxyRecord


class LineParser(Protocol):
    name: str

    def parse(self, line: str, line_no: int = 0) -> ProxyRecord | None:
        """A record, None for a line that is no request (header, comment, prose), or BadLine."""
        ...


def finish_parser(parser: LineParser) -> list[ProxyRecord]:
    """The records a multi-line format still holds at the end of a file (tinyproxy's open requests)."""
    finish = getattr(parser, "finish", None)
    return list(finish()) if callable(finish) else []


@dataclass(frozen=True)
class LogFormat:
    """A format: its parser factory, its sniff test, and whether large files of it take the fast path."""

    name: str
    description: str
    new_parser: Callable[[], LineParser]
    sniff: Callable[[list[str]], bool]
    fast_path: bool  # True: only lines naming a catalog domain (or W3C directives) are parsed in full
    header_prefix: str | None = None  # lines starting with this are always handed to the parser
    fold_case: bool = False  # host names keep the client's case (W3C, combined): the fast path searches case-blind


FORMATS: dict[str, LogFormat] = {
    "w3c": LogFormat("w3c", "W3C extended log (IIS, Forefront TMG, Blue Coat ELFF)", w3c.W3CParser, w3c.sniff,
                     fast_path=True, header_prefix="#", fold_case=True),
    # Squid writes host names in lower case (it normalises the URL), so its fast path needs no case folding
    "squid": LogFormat("squid", "Squid native access.log", squid.SquidParser, squid.sniff, fast_path=True),
    # several lines per request, tied by file descriptor: every line is parsed
    "tinyproxy": LogFormat("tinyproxy", "tinyproxy log", tinyproxy.TinyproxyParser, tinyproxy.sniff,
                           fast_path=False),
    "combined": LogFormat("combined", "Apache/nginx combined access log (also Squid's 'combined')",
                          combined.CombinedParser, combined.sniff, fast_path=True, fold_case=True),
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
