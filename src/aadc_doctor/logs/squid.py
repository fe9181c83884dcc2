"""Squid's native access.log (``logformat squid``), the default of every Squid install.

``time.ms elapsed client code/status bytes method URL user hierarchy/peer type``, fields padded with spaces
(``%6tr``), so split on runs of whitespace. The time is when the transaction ended (a tunnel is logged when it
closes) and ``elapsed`` is its duration in milliseconds.
"""

from __future__ import annotations

import re

from aadc_doctor.logs.proxy_record import BadLine, ProxyRecord, parse_status, split_authority, split_url

NAME = "squid"
_TIME = re.compile(r"^\d{9,11}(?:\.\d{1,6})?$")
_CODE = re.compile(r"^[A-Z_]+/\d{3}$")


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
        return ProxyRecord(when, fields[2], host, port, fields[5],
                           int(status_text) if status_text.isdigit() else parse_status(status_text),
                           code[:slash], took, user, "", line_no)


def sniff(lines: list[str]) -> bool:
    """Most of the first lines look like ``1677971734.079  1234 1.2.3.4 TCP_TUNNEL/200 ...``."""
    sample = [line for line in lines if line.strip()][:20]
    if not sample:
        return False
    good = 0
    for line in sample:
        fields = line.split()
        if len(fields) >= 7 and _TIME.match(fields[0]) and fields[1].lstrip("-").isdigit() and _CODE.match(fields[3]):
            good += 1
    return good * 2 > len(sample)
