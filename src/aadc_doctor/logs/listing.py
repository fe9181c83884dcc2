"""The articles' own proxy listing: ``| 1/11/2016 8:31 |connect://login.microsoftonline.com:443 |`` rows.

Admins paste this shape from Forefront TMG's log viewer (and the connectivity article prints its reference
tables in it). Accepted: markdown table rows, bare ``connect://host:port`` lines with or without a time, the
corpus's TSV (``wizard_stage, time, url, environment_specific``, whose first URL is ``connect:/login…`` with one
slash), the article's italics (``*bba800-anchor*``), and ``**Connect to Azure AD**`` lines naming the wizard page
of the rows below. The listing records no status and no client.
"""

from __future__ import annotations

import re
from calendar import timegm

from aadc_doctor.logs.proxy_record import BadLine, ProxyRecord, check_time, split_authority

NAME = "listing"
_URL = re.compile(r"(?i)\bconnect:/{1,2}([^\s|/]+)")
_US_TIME = re.compile(r"\b([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})[ T]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?"
                      r"\s*([AaPp][Mm])?")
_ISO_TIME = re.compile(r"\b([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")
_STAGE = re.compile(r"^\s*(?:\*\*|__)(?P<name>[^*_|]{2,80})(?:\*\*|__)\s*$")
_TSV_HEADER_HINT = "wizard_stage"


def _time(line: str) -> float | None:
    m = _US_TIME.search(line)
    if m:
        first, second, year = int(m[1]), int(m[2]), int(m[3])
        month, day = (first, second) if first <= 12 else (second, first)  # the article is US: month/day/year
        hour = int(m[4]) % 12 + (12 if (m[7] or "").lower() == "pm" else 0) if m[7] else int(m[4])
        parts = (year, month, day, hour, int(m[5]), int(m[6] or 0))
    else:
        m = _ISO_TIME.search(line)
        if not m:
            return None
        parts = (int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0))
    if not (1 <= parts[1] <= 12 and 1 <= parts[2] <= 31 and parts[3] < 24 and parts[4] < 60 and parts[5] < 62):
        raise BadLine(f"impossible date/time in {m[0]!r}")
    try:
        return check_time(float(timegm((*parts, 0, 0, 0))), m[0])
    except (ValueError, OverflowError):  # year 0 and the like
        raise BadLine(f"impossible date/time in {m[0]!r}") from None


class ListingParser:
    """Stateful only for the wizard page a bold heading names."""

    name = NAME

    def __init__(self) -> None:
        self.stage = ""

    def parse(self, line: str, line_no: int = 0) -> ProxyRecord | None:
        url = _URL.search(line)
        if url is None:
            heading = _STAGE.match(line)
            if heading:
                self.stage = heading["name"].strip()
            return None
        authority = url[1].replace("*", "").replace("\\", "")
        host, port = split_authority(authority, 443)
        stage = self.stage
        if "\t" in line:
            first = line.split("\t", 1)[0].strip()
            if first and first.lower() != _TSV_HEADER_HINT and not _URL.search(first) and not _US_TIME.search(first):
                stage = first
        return ProxyRecord(time=_time(line), client="", host=host, port=port, method="CONNECT", status=None,
                           action="", stage=stage, line_no=line_no)


def sniff(lines: list[str]) -> bool:
    return any(_URL.search(line) for line in lines)
