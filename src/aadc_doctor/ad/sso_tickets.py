"""DC Security event 4769 (a Kerberos service ticket was requested) for AZUREADSSOACC$: which encryption types
the tickets for Seamless SSO are issued with (0x17 RC4, 0x12 AES256), and the failures.

A sibling of `pta events` that reads the same exports (.evtx or Event Viewer XML) with the same readers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aadc_doctor.knowledge.ad import templates, ticket_enctypes
from aadc_doctor.logs.event_xml import EventRecord
from aadc_doctor.model import Finding

if TYPE_CHECKING:
    from aadc_doctor.logs.evtx_guard import EvtxGuard

SERVICE_TICKET_REQUEST = 4769
RC4_TICKET = 0x17


def _hex(text: str) -> int | None:
    try:
        return int(text.strip(), 16) if text.strip().lower().startswith("0x") else int(text.strip())
    except ValueError:
        return None


@dataclass
class TicketTally:
    records_4769: int = 0
    by_enctype: Counter[int] = field(default_factory=Counter)
    failures: Counter[int] = field(default_factory=Counter)
    accounts: set[str] = field(default_factory=set)
    first: str | None = None
    last: str | None = None
    rc4_first: str | None = None
    rc4_last: str | None = None

    def add(self, record: EventRecord) -> None:
        if record.event_id != SERVICE_TICKET_REQUEST:
            return
        self.records_4769 += 1
        service = record.data.get("ServiceName", "")
        if not service.upper().startswith("AZUREADSSOACC"):
            return
        status = _hex(record.data.get("Status", "0x0")) or 0
        time = record.time or None
        if time:
            self.first = min(self.first or time, time)
            self.last = max(self.last or time, time)
        if status:
            self.failures[status] += 1
            return
        enctype = _hex(record.data.get("TicketEncryptionType", ""))
        if enctype is not None:
            self.by_enctype[enctype] += 1
            if enctype == RC4_TICKET and time:
                self.rc4_first = min(self.rc4_first or time, time)
                self.rc4_last = max(self.rc4_last or time, time)
        if record.data.get("TargetUserName"):
            self.accounts.add(record.data["TargetUserName"].lower())

    def summary(self, files: tuple[TicketFile, ...]) -> TicketSummary:
        names = ticket_enctypes()
        return TicketSummary(
            records_4769=self.records_4769, tickets=sum(self.by_enctype.values()),
            by_encryption_type=tuple(EnctypeCount(hex(k), names.get(k, "unknown"), v)
                                     for k, v in self.by_enctype.most_common()),
            failures=tuple(StatusCount(hex(k), v) for k, v in self.failures.most_common()),
            accounts=len(self.accounts), first_seen=self.first, last_seen=self.last, files=files)


@dataclass(frozen=True)
class TicketFile:
    name: str
    format: str  # "evtx" or "xml"
    records: int
    errors: int


@dataclass(frozen=True)
class EnctypeCount:
    type: str  # "0x17"
    name: str
    count: int


@dataclass(frozen=True)
class StatusCount:
    status: str  # "0x6"
    count: int


@dataclass(frozen=True)
class TicketSummary:
    """The 4769 tally for AZUREADSSOACC$ as `ad sso --events` reports it, with the files read."""

    records_4769: int
    tickets: int
    by_encryption_type: tuple[EnctypeCount, ...]
    failures: tuple[StatusCount, ...]
    accounts: int  # distinct accounts that got a ticket
    first_seen: str | None
    last_seen: str | None
    files: tuple[TicketFile, ...]


def read_ticket_events(paths: list[Path], guard: EvtxGuard | None = None) -> tuple[TicketTally, tuple[TicketFile, ...]]:
    """Stream every file (constant memory); per file its name, format and record count.

    An .evtx with damage is read through ``guard`` (``logs/evtx_guard.py``; one is started on first need
    if none is given): the evtx package can loop forever on some damaged chunks.
    """
    import contextlib

    from aadc_doctor.errors import InputError
    from aadc_doctor.logs.evtx_guard import EvtxGuard as Guard
    from aadc_doctor.logs.evtx_reader import (
        EvtxFileStats,
        RecordSelector,
        damage_in,
        is_evtx,
        iter_evtx_records,
        read_layout,
    )

    tally = TicketTally()
    files: list[TicketFile] = []
    selector = RecordSelector(ids=frozenset({SERVICE_TICKET_REQUEST}))
    with contextlib.ExitStack() as stack:
        for path in paths:
            try:
                with path.open("rb") as fh:
                    head = fh.read(4096)
            except OSError as exc:
                raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
            if is_evtx(head):
                layout = read_layout(path)
                if damage_in(path, layout, None):
                    guard = guard or stack.enter_context(Guard())
                    stats = guard.read(path, layout, None, selector, tally.add).stats
                else:
                    stats = EvtxFileStats(str(path))
                    for record in iter_evtx_records(path, stats, selector, layout=layout):
                        tally.add(record)
                files.append(TicketFile(str(path), "evtx", stats.records, stats.error_count))
                continue
            _read_xml_or_refuse(path, head, tally, files)
    return tally, tuple(files)


def _read_xml_or_refuse(path: Path, head: bytes, tally: TicketTally, files: list[TicketFile]) -> None:
    from aadc_doctor.errors import InputError
    from aadc_doctor.logs.event_xml import XmlExportStats, iter_xml_export, looks_like_event_xml

    if not looks_like_event_xml(head):
        raise InputError(f"{path}: not an event log (.evtx) or an Event Viewer XML export")
    xml_stats = XmlExportStats(str(path))
    for record in iter_xml_export(path, xml_stats):
        tally.add(record)
    files.append(TicketFile(str(path), "xml", xml_stats.records, xml_stats.bad))


def ticket_findings(tally: TicketTally) -> list[Finding]:
    t = templates("sso")
    findings = []
    rc4 = tally.by_enctype.get(RC4_TICKET, 0)
    if rc4:
        span = f"from {tally.rc4_first} to {tally.rc4_last}" if tally.rc4_first else ""
        findings.append(t["tickets_rc4"].render("AZUREADSSOACC$", count=rc4, span=span))
    if tally.failures:
        codes = ", ".join(f"{hex(k)} ×{v}" for k, v in tally.failures.most_common())
        findings.append(t["tickets_failed"].render("AZUREADSSOACC$", count=sum(tally.failures.values()),
                                                   codes=codes))
    if not tally.by_enctype and not tally.failures:
        findings.append(t["tickets_none"].render("AZUREADSSOACC$", records=tally.records_4769))
    return findings
