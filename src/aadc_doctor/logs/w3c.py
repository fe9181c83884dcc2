"""W3C extended log files: IIS, Forefront TMG web proxy, Blue Coat ProxySG ELFF, and anything with ``#Fields:``.

The fields differ from product to product and from one configuration to the next, so they are mapped by name
from the ``#Fields:`` directive (which may change in mid-file). Times are UTC (the W3C format's rule, which IIS,
TMG and Blue Coat follow). Values with spaces are double-quoted (Blue Coat's User-Agent); IIS writes ``+``;
ISA Server / Forefront TMG separate the fields with tabs and keep spaces inside values (rule names, GMT-Time).
"""

from __future__ import annotations

import re
from calendar import timegm
from collections.abc import Sequence

from aadc_doctor.logs.proxy_record import (
    BadLine,
    ProxyRecord,
    ascii_int,
    check_time,
    normalise_host,
    parse_status,
    split_authority,
    split_url,
)

NAME = "w3c"
_TOKEN = re.compile(r'"(?:[^"]|"")*"|\S+')
_DATE = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_TIME = re.compile(r"^([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?$")

# Forefront TMG (recognised by its s-operation field) writes a result code into sc-status: HTTP statuses for
# HTTP requests, 0 (success) for an SSL tunnel, and its own codes for requests it refuses itself:
# 12209 "The Forefront TMG requires authorization to fulfill the request" (proxy authentication) and
# 12202 "Forefront TMG denied the specified Uniform Resource Locator (URL)".
TMG_STATUS = {0: 200, 12209: 407, 12202: 403}

# Field names per meaning, first present wins (IIS / TMG / Blue Coat spellings).
HOST_FIELDS = ("cs-host", "r-host", "cs-uri-host", "x-cs-host")
PORT_FIELDS = ("cs-uri-port", "r-port")
URL_FIELDS = ("cs-uri", "cs-url", "cs-uri-stem")
METHOD_FIELDS = ("cs-method", "s-operation")
ACTION_FIELDS = ("s-action", "x-action", "action")
FILTER_FIELDS = ("sc-filter-result",)
USER_FIELDS = ("cs-username", "cs-auth-user")
CLIENT_FIELDS = ("c-ip", "c-host")
_SCHEME_PORTS = {"http": 80, "https": 443, "ssl": 443}


def _first(row: dict[str, str], names: Sequence[str]) -> str:
    for name in names:
        value = row.get(name, "-")
        if value not in ("-", ""):
            return value
    return ""


def _when(row: dict[str, str]) -> float | None:
    date, clock = row.get("date", "-"), row.get("time", "-")
    if date == "-" or clock == "-":
        stamp = row.get("x-timestamp-unix") or row.get("timestamp")
        if stamp and stamp.isascii() and stamp.replace(".", "", 1).isdigit():
            return check_time(float(stamp), stamp)
        return None
    d, t = _DATE.match(date), _TIME.match(clock)
    if not d or not t:
        raise BadLine(f"date/time {date[:20]!r} {clock[:20]!r} is not YYYY-MM-DD hh:mm:ss")
    try:
        base = timegm((int(d[1]), int(d[2]), int(d[3]), int(t[1]), int(t[2]), int(t[3]), 0, 0, 0))
    except (ValueError, OverflowError):
        raise BadLine(f"impossible date/time {date!r} {clock!r}") from None
    return check_time(base + (float("0." + t[4]) if t[4] else 0.0), f"{date} {clock}")


class W3CParser:
    """Stateful: the last ``#Fields:`` directive says what each column is."""

    name = NAME

    def __init__(self) -> None:
        self.fields: list[str] = []
        self.tmg = False

    def parse(self, line: str, line_no: int = 0) -> ProxyRecord | None:
        if line.startswith("#"):
            if line[:8].lower() == "#fields:":
                self.fields = [f.lower() for f in line[8:].split()]
                self.tmg = "s-operation" in self.fields
            return None
        if not line.strip():
            return None
        if not self.fields:
            raise BadLine("data line before any #Fields: directive")
        tokens = self._tab_separated(line)
        if tokens is None:
            tokens = line.split() if '"' not in line else [t[1:-1] if t.startswith('"') else t
                                                            for t in _TOKEN.findall(line)]
        if len(tokens) != len(self.fields):
            raise BadLine(f"{len(tokens)} values for {len(self.fields)} #Fields")
        row = dict(zip(self.fields, tokens, strict=True))
        host, port = self._destination(row)
        status_text = row.get("sc-status", "-")
        status = parse_status(status_text)
        if status is not None and self.tmg:
            status = TMG_STATUS.get(status, status)
        action = _first(row, ACTION_FIELDS)
        if _first(row, FILTER_FIELDS).upper() == "DENIED":
            action = f"{action} DENIED".strip()
        taken = row.get("time-taken", "-")
        return ProxyRecord(time=_when(row), client=_first(row, CLIENT_FIELDS), host=host, port=port,
                           method=_first(row, METHOD_FIELDS), status=status, action=action,
                           elapsed_ms=ascii_int(taken), user=_first(row, USER_FIELDS), line_no=line_no,
                           decrypted=self._decrypted(row))

    @staticmethod
    def _decrypted(row: dict[str, str]) -> bool:
        """An https request logged with its method and path: the proxy saw inside the tunnel."""
        method = _first(row, METHOD_FIELDS).upper()
        if not method or method == "CONNECT" or method.startswith("TUNNEL"):
            return False
        if row.get("cs-uri-scheme", "-").lower() == "https":
            return True
        return _first(row, URL_FIELDS)[:8].lower() == "https://"

    def _tab_separated(self, line: str) -> list[str] | None:
        """The values of a tab-separated line (TMG), when the tabs give exactly one value per field."""
        if "\t" not in line:
            return None
        tokens = [t.strip() or "-" for t in line.rstrip("\t").split("\t")]
        return tokens if len(tokens) == len(self.fields) else None

    @staticmethod
    def _destination(row: dict[str, str]) -> tuple[str, int | None]:
        port_text = _first(row, PORT_FIELDS)
        port = ascii_int(port_text)
        if port is None:
            port = _SCHEME_PORTS.get(row.get("cs-uri-scheme", "-").lower())
        elif not 0 < port < 65536:
            raise BadLine(f"port {port_text[:20]!r} out of range")
        host = _first(row, HOST_FIELDS)
        if host:
            name, inline_port = split_authority(host)
            return name, port if port is not None else inline_port
        url = _first(row, URL_FIELDS)
        if url and not url.startswith("/"):
            name, url_port = split_url(url)
            return name, port if port is not None else url_port
        server = row.get("s-ip", "-")  # a web server's own log (IIS): the destination is the server itself
        if server != "-":
            s_port = row.get("s-port", "-")
            return normalise_host(server), ascii_int(s_port) or port
        raise BadLine("no destination field (cs-host, r-host, cs-uri, s-ip)")


def sniff(lines: list[str]) -> bool:
    """A ``#Fields:`` directive near the top (with ``#Software``/``#Version`` or not)."""
    return any(line.lower().startswith("#fields:") for line in lines[:50])
