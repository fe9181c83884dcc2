"""One proxy log line, whatever the format: who asked for which host and port, when, and what the proxy answered.

Squid, W3C (IIS, Forefront TMG, Blue Coat) and the articles' ``connect://`` listings all reduce to this record,
so the analysis never looks at a format again.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

# Squid appends these to a result code when the transaction did not end normally (squid-cache.org, "Squid result
# codes"): the tunnel or response was cut by a timeout, or aborted.
CUT_SHORT_TAGS: tuple[str, ...] = ("_TIMEOUT", "_ABORTED")


class BadLine(ValueError):
    """A line the parser recognised as belonging to the log but could not read; counted, sampled, never fatal."""


class Verdict(StrEnum):
    """What the proxy did with the request, as far as the log says."""

    ALLOWED = "allowed"  # 1xx-3xx: the proxy let it through
    DENIED = "denied"  # 403 / 407 from the proxy, TCP_DENIED, a DENIED filter result
    OTHER = "other"  # any other status (5xx connect failures, 4xx from the origin, 0 = no answer)
    UNKNOWN = "unknown"  # the format carries no status (the articles' listing)


class ProxyRecord(NamedTuple):
    """A request to one destination. ``time`` is UTC epoch seconds (the log's own clock); None when absent.

    Immutable like the other result types, but a NamedTuple rather than a frozen dataclass: a large log makes
    hundreds of thousands of them, and a tuple is built several times faster.
    """

    time: float | None
    client: str
    host: str
    port: int | None
    method: str
    status: int | None
    action: str = ""
    elapsed_ms: int | None = None
    user: str = ""
    stage: str = ""  # the wizard page a listing row belongs to (the articles' tables), else ""
    line_no: int = 0  # 0 when not numbered: the fast path counts a line's number only for bad lines
    peer: str = ""  # the parent proxy that forwarded (and may have answered) the request, if the log names one
    decrypted: bool = False  # an https:// request the proxy saw in clear: it decrypted the tunnel (TLS inspection)
    # A tunnel that carried data but that Squid logged TCP_TUNNEL/500 when it closed (Squid bug 5274, logs/squid.py):
    # it went through; the 500 is Squid's own logging, not a failure
    spurious_500: bool = False

    @property
    def verdict(self) -> Verdict:
        if self.spurious_500:
            return Verdict.ALLOWED
        return verdict_of(self.status, self.action)

    @property
    def cut_short(self) -> bool:
        """True when the proxy says the transfer ended by a timeout (Squid's ``_TIMEOUT`` tag)."""
        return "_TIMEOUT" in self.action

    @property
    def start_time(self) -> float | None:
        """When the request began: Squid and most proxies log at completion, with the duration beside it."""
        if self.time is None or self.elapsed_ms is None:
            return self.time
        return self.time - self.elapsed_ms / 1000.0


MAX_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z, the last moment a report can show
MAX_ELAPSED_MS = 10 ** 12  # about 31 years: anything longer is a damaged field, not a duration


def check_time(value: float, text: str) -> float:
    """A log time as epoch seconds, or BadLine when it is none a report can show (``1e300``, ``inf``, ``nan``)."""
    if not 0.0 <= value <= MAX_EPOCH:  # also NaN, which compares false
        raise BadLine(f"time {text[:30]!r} is not between 1970 and 9999")
    return value


def ascii_int(text: str) -> int | None:
    """``"403"`` -> 403; None for anything but ASCII digits (``"²"`` and other Unicode digits included)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def verdict_of(status: int | None, action: str) -> Verdict:
    if status is not None and 100 <= status < 400 and "DENIED" not in action and "enied" not in action:
        return Verdict.ALLOWED  # the common case first
    upper = action.upper()
    if "DENIED" in upper or status in (403, 407):
        # An origin's own 403 behind a tunnel is never logged (the proxy sees only bytes); a GET answered 403 by
        # the origin is logged with a MISS/HIT action, so 403 counts as the proxy's only without such an action.
        if status == 403 and upper and "DENIED" not in upper and ("MISS" in upper or "HIT" in upper):
            return Verdict.OTHER
        return Verdict.DENIED
    if status is None:
        return Verdict.UNKNOWN
    if 100 <= status < 400:
        return Verdict.ALLOWED
    return Verdict.OTHER


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOST_PORT = re.compile(r"^\[?(?P<host>[^\s\[\]/?#@]+?)\]?(?::(?P<port>\d{1,5}))?$")
_ODD_HOST = re.compile(r"[\[\]:@/?#*\\\s]")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ssl": 443, "tcp": None, "ftp": 21, "ws": 80, "wss": 443}


def normalise_host(host: str) -> str:
    return host.strip().strip("*").lower().rstrip(".")


def split_authority(authority: str, default_port: int | None = None) -> tuple[str, int | None]:
    """``host:port`` (CONNECT target) -> (host, port). IPv6 literals in brackets keep their colons."""
    name, colon, number = authority.rpartition(":")
    if colon and number.isascii() and number.isdigit() and name and len(number) <= 5 and _ODD_HOST.search(name) is None:
        fast_port = int(number)  # the common case, kept cheap: a CONNECT line's "host:443"
        if 0 < fast_port < 65536:
            return name.lower().rstrip("."), fast_port
    authority = authority.rsplit("@", 1)[-1]
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise BadLine(f"unterminated IPv6 address in {authority!r}")
        host, rest = authority[1:end], authority[end + 1:]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        m = _HOST_PORT.match(authority)
        if not m:
            raise BadLine(f"not a host[:port]: {authority[:80]!r}")
        host, port_text = m.group("host"), m.group("port") or ""
    if not host:
        raise BadLine(f"no host in {authority[:80]!r}")
    if port_text and not port_text.isascii():
        raise BadLine(f"not a port number in {authority[:80]!r}")
    port = int(port_text) if port_text else default_port
    if port is not None and not 0 < port < 65536:
        raise BadLine(f"port out of range in {authority[:80]!r}")
    return normalise_host(host), port


def split_url(url: str) -> tuple[str, int | None]:
    """A request target as proxies log it: ``host:443`` (CONNECT), ``http://host/path``, ``connect://host:443``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, sep, rest = url.partition(":/")  # the corpus listing's "connect:/login..." (one slash)
        if not sep or not scheme.isalpha():
            return split_authority(url)
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return split_authority(authority, _DEFAULT_PORTS.get(scheme.lower()))


def iso(ts: float | None) -> str | None:
    """UTC ISO-8601 with a Z, to the second (what the JSON report carries)."""
    if ts is None:
        return None
    if not -62135596800.0 <= ts <= MAX_EPOCH:  # year 1 .. 9999: parsers refuse others, arithmetic may not
        return None
    # epoch + delta, not fromtimestamp: Windows refuses negative times there
    return (_EPOCH + timedelta(seconds=ts)).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_status(text: str) -> int | None:
    """``200``, ``TCP_DENIED/403`` -> the number (``000``, no answer sent, is 0); ``-`` -> None."""
    return ascii_int(text.rsplit("/", 1)[-1])
