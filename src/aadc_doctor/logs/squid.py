"""Squid's native access.log (``logformat squid``), the default of every Squid install.

``time.ms elapsed client code/status bytes method URL user hierarchy/peer type``, fields padded with spaces
(``%6tr``), so split on runs of whitespace. The time is when the transaction ended (a tunnel is logged when it
closes) and ``elapsed`` is its duration in milliseconds.
"""

from __future__ import annotations

import re

from aadc_doctor.logs.proxy_record import (
    MAX_ELAPSED_MS,
    BadLine,
    ProxyRecord,
    ascii_int,
    check_time,
    parse_status,
    split_authority,
    split_url,
)

NAME = "squid"
_TIME = re.compile(r"^[0-9]{9,11}(?:\.[0-9]{1,6})?$")
_CODE = re.compile(r"^[A-Z_]+/[0-9]{3}$")


class SquidParser:
    """Stateless: every line stands alone."""

    name = NAME

    def parse(self, line: str, line_no: int = 0) -> ProxyRecord | None:
        fields = line.split()
        count = len(fields)
        if count < 7:
            if not fields:
                return None
            raise BadLine(f"{count} fields, Squid's native format has at least 7")
        try:
            when = float(fields[0])
            took = int(fields[1])
        except ValueError:
            raise BadLine(f"not a Squid time/elapsed pair: {fields[0][:30]!r} {fields[1][:30]!r}") from None
        if not fields[1].isascii() or not -1 <= took <= MAX_ELAPSED_MS or not fields[0].isascii():
            raise BadLine(f"not a Squid time/elapsed pair: {fields[0][:30]!r} {fields[1][:30]!r}")
        check_time(when, fields[0])
        code = fields[3]
        slash = code.rfind("/")
        if slash < 0:
            raise BadLine(f"no result code/status in {code[:40]!r}")
        url = fields[6]
        if url.startswith("error:") or url == "-":
            return None  # Squid's record of a connection that never sent a request: no destination
        host, port = split_authority(url) if "/" not in url else split_url(url)
        user = fields[7] if count > 7 and fields[7] != "-" else ""
        status_text = code[slash + 1:]
        status = ascii_int(status_text) if status_text.isdigit() else parse_status(status_text)
        action = code[:slash]
        peer = ""
        if count > 8:
            hierarchy, _, peer_address = fields[8].partition("/")
            if hierarchy.endswith("_PARENT"):  # FIRSTUP_PARENT, DEFAULT_PARENT, ...: a parent proxy forwarded it
                peer = peer_address if peer_address not in ("", "-") else hierarchy
                if status == 403 and "DENIED" not in action:
                    action += " PARENT_DENIED"  # the origin cannot answer through a parent a 403 Squid sees as its own
        method = fields[5]
        return ProxyRecord(when, fields[2], host, port, method, status, action, took, user, "", line_no, peer,
                           url.startswith(("https://", "HTTPS://")) and method != "CONNECT")


def sniff(lines: list[str]) -> bool:
    """Most of the first lines look like ``1677971734.079  1234 1.2.3.4 TCP_TUNNEL/200 ...``."""
    sample = [line for line in lines if line.strip()][:20]
    if not sample:
        return False
    good = 0
    for line in sample:
        fields = line.split()
        if (len(fields) >= 7 and _TIME.match(fields[0]) and fields[1].lstrip("-").isascii()
                and fields[1].lstrip("-").isdigit() and _CODE.match(fields[3])):
            good += 1
    return good * 2 > len(sample)
