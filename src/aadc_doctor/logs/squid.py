"""Squid's native access.log (``logformat squid``), the default of every Squid install.

``time.ms elapsed client code/status bytes method URL user hierarchy/peer type``, fields padded with spaces
(``%6tr``), so split on runs of whitespace. The time is when the transaction ended (a tunnel is logged when it
closes) and ``elapsed`` is its duration in milliseconds.
"""

from __future__ import annotations

import re

from aadc_doctor.logs.proxy_record import (
    MAX_ELAPSED_MS,
    MAX_EPOCH,
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
_CACHE_LIMIT = 50_000  # distinct URLs (and result codes) remembered per file: a log repeats the same few
_new_record = tuple.__new__  # ProxyRecord(...) runs Python code for its defaults; a tuple of every field does not


class SquidParser:
    """Every line stands alone; what repeats (URLs, result codes) is decoded once per file."""

    name = NAME

    def __init__(self) -> None:
        self._targets: dict[str, tuple[str, int | None]] = {}
        self._codes: dict[str, tuple[str, int | None]] = {}

    def parse(self, line: str, line_no: int = 0) -> ProxyRecord | None:
        fields = line.split()
        count = len(fields)
        if count < 7:
            if not fields:
                return None
            raise BadLine(f"{count} fields, Squid's native format has at least 7")
        when_text, took_text = fields[0], fields[1]
        try:
            when = float(when_text)
            took = int(took_text)
        except ValueError:
            raise BadLine(f"not a Squid time/elapsed pair: {when_text[:30]!r} {took_text[:30]!r}") from None
        if not took_text.isascii() or not -1 <= took <= MAX_ELAPSED_MS or not when_text.isascii():
            raise BadLine(f"not a Squid time/elapsed pair: {when_text[:30]!r} {took_text[:30]!r}")
        if not 0.0 <= when <= MAX_EPOCH:
            check_time(when, when_text)  # raises BadLine
        code = fields[3]
        decoded = self._codes.get(code)
        if decoded is None:
            decoded = _result_code(code)
            if len(self._codes) < _CACHE_LIMIT:
                self._codes[code] = decoded
        action, status = decoded
        url = fields[6]
        target = self._targets.get(url)
        if target is None:
            if url.startswith("error:") or url == "-":
                return None  # Squid's record of a connection that never sent a request: no destination
            target = split_authority(url) if "/" not in url else split_url(url)
            if len(self._targets) < _CACHE_LIMIT:
                self._targets[url] = target
        user = fields[7] if count > 7 and fields[7] != "-" else ""
        method = fields[5]
        peer = ""
        spurious = False
        if count > 8:
            hierarchy, _, peer_address = fields[8].partition("/")
            if hierarchy.endswith("_PARENT"):  # FIRSTUP_PARENT, DEFAULT_PARENT, ...: a parent proxy forwarded it
                peer = peer_address if peer_address not in ("", "-") else hierarchy
                if status == 403 and "DENIED" not in action:
                    action += " PARENT_DENIED"  # the origin cannot answer through a parent a 403 Squid sees as its own
            if status == 500 and action == "TCP_TUNNEL" and method == "CONNECT":
                spurious = _tunnel_went_through(fields[4], hierarchy, peer_address)
        return _new_record(ProxyRecord, (
            when, fields[2], target[0], target[1], method, status, action, took, user, "", line_no, peer,
            method != "CONNECT" and url.startswith(("https://", "HTTPS://")), spurious))


def _result_code(code: str) -> tuple[str, int | None]:
    """``TCP_TUNNEL/200`` -> ("TCP_TUNNEL", 200); BadLine without a slash."""
    slash = code.rfind("/")
    if slash < 0:
        raise BadLine(f"no result code/status in {code[:40]!r}")
    status_text = code[slash + 1:]
    return code[:slash], ascii_int(status_text) if status_text.isdigit() else parse_status(status_text)


def _tunnel_went_through(sent: str, hierarchy: str, server: str) -> bool:
    """Whether a ``TCP_TUNNEL/500`` CONNECT line is a tunnel that worked: Squid had reached the server (a hierarchy
    code with an address, not ``HIER_NONE/-``) and sent the client data from it.

    Squid 5 and 6 log such a tunnel ``TCP_TUNNEL/500`` when the server side closes first (Squid bug 5274,
    squid-cache/squid pull request 1608: closing a tunnel ran the error path and made up an ERR_CANNOT_FORWARD);
    seen here with squid-openssl 5.7 on about a third of the tunnels it spliced after peeking, curl's included.
    A tunnel Squid could not open is logged with ``HIER_NONE/-`` or no byte sent (``NONE_NONE/503 0``).
    """
    return (sent.isascii() and sent.isdigit() and sent.strip("0") != "" and hierarchy != "HIER_NONE"
            and server not in ("", "-"))


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
