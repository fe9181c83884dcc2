"""tinyproxy's log (``LogFile``): several lines per request, tied together by the client's file descriptor.

``CONNECT   Dec 06 00:00:52.660 [15879]: Connect (file descriptor 5): 127.0.0.1`` opens a client connection,
``Request (file descriptor 5): CONNECT login.microsoftonline.com:443 HTTP/1.1`` names the destination, and a later
line says what became of it: ``Closed connection between local client (fd:5) and remote client (fd:6)`` (it went
through; the only outcome line naming the client's descriptor, so concurrent requests stay apart), ``Proxying
refused on filtered domain "..."`` (the Filter list), ``Refused CONNECT method on port 80`` (ConnectPort), ``Failed
auth attempt`` (BasicAuth, older versions), ``opensock: Could not ...`` (the proxy could not reach the host).

tinyproxy 1.11 writes no line for a request it answers 407: when the log shows BasicAuth configured (``Added basic
auth user`` at start-up), a request whose connection ends with no outcome (its descriptor is reused by the next
connection) was answered 407; otherwise such a request is recorded with no status. Times have no year and are the
proxy's local time; they are read as UTC in the current year (or the previous one when that would put them in the
future).
"""

from __future__ import annotations

import re
import time
from calendar import timegm
from dataclasses import dataclass

from aadc_doctor.logs.proxy_record import BadLine, ProxyRecord, check_time, split_authority, split_url

NAME = "tinyproxy"
_LINE = re.compile(r"^(?P<level>[A-Z]+)\s+(?P<mon>[A-Z][a-z]{2}) (?P<day>[0-9 ]?[0-9]) (?P<h>[0-9]{2}):(?P<m>[0-9]{2}):"
                   r"(?P<s>[0-9]{2})(?:\.(?P<ms>[0-9]{1,6}))? \[(?P<pid>[0-9]{1,10})\]: (?P<msg>.*)$")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}
_CONNECT = re.compile(r"^Connect \(file descriptor ([0-9]{1,9})\): (\S+)")
_REQUEST = re.compile(r"^Request \(file descriptor ([0-9]{1,9})\): (\S+) (\S+)")
_AUTH_FAILED = re.compile(r"^Failed auth attempt \(file descriptor: ([0-9]{1,9})\)")
# (message pattern, status); the host group, when there is one, names the request it concerns
_CLOSED = re.compile(r"^Closed connection between local client \(fd:([0-9]{1,9})\)")
_OUTCOMES: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r'^Proxying refused on filtered (?:domain|url) "(?P<host>[^"]*)"'), 403),
    (re.compile(r"^Refused CONNECT method on port (?P<port>[0-9]{1,5})"), 403),
    (re.compile(r'^Unauthorized connection from "'), 403),
    (re.compile(r"^opensock: Could not (?:establish a connection|retrieve address info) (?:to|for) "
                r"(?P<host>\S+?):[0-9]{1,5}\b"), 500),
)
_UPSTREAM = re.compile(r"^Found upstream proxy (?:https? )?(?P<peer>\S+) for ")
_AUTH_CONFIGURED = "Added basic auth user"


@dataclass(slots=True)
class _Request:
    fd: str
    client: str
    time: float
    method: str = ""
    host: str = ""
    port: int | None = None
    peer: str = ""
    line_no: int = 0


class TinyproxyParser:
    """Stateful: open client connections by file descriptor; ``finish()`` hands over the requests left open."""

    name = NAME

    def __init__(self, now: float | None = None) -> None:
        self._now = time.time() if now is None else now
        self._year = time.gmtime(self._now).tm_year
        self._open: dict[str, _Request] = {}  # fd -> the connection (and its request, once logged)
        self._last: _Request | None = None  # the latest request: where an outcome naming no host belongs
        self._auth = False  # the log showed BasicAuth being configured: a request without an outcome got 407

    def _epoch(self, m: re.Match[str]) -> float:
        month = _MONTHS.get(m["mon"])
        if month is None:
            raise BadLine(f"unknown month {m['mon']!r}")
        parts = (month, int(m["day"]), int(m["h"]), int(m["m"]), int(m["s"]))
        if not (1 <= parts[1] <= 31 and parts[2] < 24 and parts[3] < 60 and parts[4] < 62):
            raise BadLine("impossible date/time")
        when = float(timegm((self._year, *parts, 0, 0, 0)))
        if when > self._now + 2 * 86400:
            when = float(timegm((self._year - 1, *parts, 0, 0, 0)))
        return check_time(when + (float("0." + m["ms"]) if m["ms"] else 0.0), m[0][:40])

    def parse(self, line: str, line_no: int = 0) -> ProxyRecord | None:
        if not line.strip():
            return None
        m = _LINE.match(line)
        if m is None:
            raise BadLine("not a tinyproxy log line (LEVEL Mon dd hh:mm:ss.mmm [pid]: message)")
        msg = m["msg"]
        if m["level"] == "CONNECT":
            connect = _CONNECT.match(msg)
            if connect is not None:
                previous = self._open.pop(connect[1], None)
                self._open[connect[1]] = _Request(connect[1], connect[2], self._epoch(m), line_no=line_no)
                if previous is None or not previous.host:
                    return None
                return self._record(previous, 407 if self._auth else None)
            request = _REQUEST.match(msg)
            if request is not None:
                fd = request[1]
                entry: _Request | None = self._open.get(fd) or _Request(fd, "", self._epoch(m))
                assert entry is not None
                target = request[3]
                entry.host, entry.port = (split_authority(target, 443) if "/" not in target
                                          else split_url(target))
                entry.method, entry.time, entry.line_no = request[2], self._epoch(m), line_no
                self._open[fd] = self._last = entry
                return None
        if msg.startswith(_AUTH_CONFIGURED):
            self._auth = True
            return None
        closed = _CLOSED.match(msg)
        if closed is not None:
            done = self._open.pop(closed[1], None)
            if done is self._last:
                self._last = None
            return self._record(done, 200) if done is not None and done.host else None
        failed = _AUTH_FAILED.match(msg)
        if failed is not None:
            denied = self._open.pop(failed[1], None)
            return self._record(denied, 407) if denied is not None and denied.host else None
        upstream = _UPSTREAM.match(msg)
        if upstream is not None and self._last is not None:
            self._last.peer = upstream["peer"]
            return None
        for pattern, status in _OUTCOMES:
            outcome = pattern.match(msg)
            if outcome is None:
                continue
            named = outcome.groupdict()
            found = self._find(named.get("host"), named.get("port"))
            if found is None:
                return None
            self._open.pop(found.fd, None)
            if self._last is found:
                self._last = None
            return self._record(found, status)
        return None

    def _find(self, host: str | None, port: str | None = None) -> _Request | None:
        """The open request an outcome line concerns: the latest to the host (or port) it names, else the latest."""
        if host or port:
            name = (host or "").lower().rstrip(".")
            for entry in reversed(self._open.values()):
                if not entry.host:
                    continue
                if (port and str(entry.port) == port) or (name and (
                        entry.host == name or (entry.peer and entry.peer.split(":")[0] == name))):
                    return entry
        if self._last is not None and self._last.host and self._last.fd in self._open:
            return self._last
        return None

    @staticmethod
    def _record(entry: _Request | None, status: int | None) -> ProxyRecord | None:
        if entry is None:
            return None
        return ProxyRecord(entry.time, entry.client, entry.host, entry.port, entry.method, status,
                           "TINYPROXY_DENIED" if status in (403, 407) else "", None, "", "", entry.line_no,
                           entry.peer, False)

    def finish(self) -> list[ProxyRecord]:
        """The requests whose outcome the log never gave (a 407 without a line, a log that ends)."""
        out = [r for r in (self._record(e, None) for e in self._open.values() if e.host) if r is not None]
        self._open.clear()
        self._last = None
        return out


def sniff(lines: list[str]) -> bool:
    """Most of the first lines have tinyproxy's shape."""
    sample = [line for line in lines if line.strip()][:20]
    return bool(sample) and sum(_LINE.match(line) is not None for line in sample) * 2 > len(sample)
