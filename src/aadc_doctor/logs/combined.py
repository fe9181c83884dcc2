"""The Apache/nginx "combined" (and "common") access log, as forward proxies built on web servers write it.

``client ident user [06/Dec/2026:00:01:35 +0000] "CONNECT host:443 HTTP/1.1" 200 2548 "referer" "agent"``,
optionally followed by more fields: Squid's own ``combined`` format appends ``TCP_TUNNEL:FIRSTUP_PARENT`` (its
result code and hierarchy), which is read when present. The time carries its UTC offset.
"""

from __future__ import annotations

import re
from datetime import datetime

from aadc_doctor.logs.proxy_record import (
    BadLine,
    ProxyRecord,
    ascii_int,
    check_time,
    split_authority,
    split_url,
)

NAME = "combined"
_LINE = re.compile(
    r'^(?P<client>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]{1,40})\] '
    r'"(?P<request>(?:[^"\\]|\\.){0,8192})" (?P<status>[0-9]{3}|-) (?P<bytes>\S+)'
    r'(?: "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*")?(?P<rest>.*)$')
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}
_CLF_TIME = re.compile(r"^([0-9]{2})/([A-Z][a-z]{2})/([0-9]{4}):([0-9]{2}):([0-9]{2}):([0-9]{2}) "
                       r"([+-])([0-9]{2})([0-9]{2})$")


def _epoch(text: str) -> float:
    """``06/Dec/2026:00:01:35 +0000`` -> epoch seconds (the offset applied); BadLine for any other shape."""
    m = _CLF_TIME.match(text)
    if m is None or m[2] not in _MONTHS:
        raise BadLine(f"time {text[:40]!r} is not dd/Mon/yyyy:hh:mm:ss +zzzz")
    try:
        naive = datetime(int(m[3]), _MONTHS[m[2]], int(m[1]), int(m[4]), int(m[5]), int(m[6]))
    except ValueError:
        raise BadLine(f"impossible date/time {text[:40]!r}") from None
    offset = (int(m[8]) * 3600 + int(m[9]) * 60) * (1 if m[7] == "+" else -1)
    # the proleptic seconds since 1970 without datetime.timestamp(): year 1 and 9999 with offsets stay computable
    seconds = (naive - datetime(1970, 1, 1)).total_seconds() - offset
    return check_time(seconds, text)


class CombinedParser:
    """Stateless: every line stands alone."""

    name = NAME

    def parse(self, line: str, line_no: int = 0) -> ProxyRecord | None:
        if not line.strip():
            return None
        m = _LINE.match(line)
        if m is None:
            raise BadLine("not an Apache/nginx combined log line")
        parts = m["request"].split()
        if len(parts) < 2:
            if m["request"] in ("", "-"):
                return None  # a connection that sent no request (nginx logs "" with status 400)
            raise BadLine(f"request {m['request'][:60]!r} is not 'METHOD target HTTP/x'")
        method, target = parts[0], parts[1]
        if target.startswith("/"):
            raise BadLine("an origin-form request (a web server's log, not a proxy's): no destination host")
        host, port = split_authority(target, 443) if "/" not in target else split_url(target)
        action = ""
        rest = m["rest"].split()
        if rest and ":" in rest[-1] and rest[-1].split(":", 1)[0].isupper():
            action, _, hierarchy = rest[-1].partition(":")  # Squid's %Ss:%Sh
        else:
            hierarchy = ""
        status = ascii_int(m["status"])
        peer = ""
        if hierarchy.endswith("_PARENT"):
            peer = hierarchy
            if status == 403 and "DENIED" not in action:
                action += " PARENT_DENIED"
        user = m["user"]
        return ProxyRecord(time=_epoch(m["time"]), client=m["client"], host=host, port=port, method=method,
                           status=status, action=action, elapsed_ms=None, user="" if user == "-" else user,
                           line_no=line_no, peer=peer,
                           decrypted=target[:8].lower() == "https://" and method.upper() != "CONNECT")


def sniff(lines: list[str]) -> bool:
    """Most of the first lines are combined/common lines whose request names a host (a proxy's log)."""
    sample = [line for line in lines if line.strip()][:20]
    if not sample:
        return False
    good = 0
    for line in sample:
        m = _LINE.match(line)
        if m is not None and _CLF_TIME.match(m["time"]) and " /" not in m["request"][:12]:
            good += 1
    return good * 2 > len(sample)
