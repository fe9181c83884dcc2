"""Windows event records as one typed shape, from event XML: Event Viewer exports and .evtx renderings.

Two readers share ``EventRecord``:
- ``parse_event_text`` reads the XML text of one event with precompiled patterns. It is what the .evtx
  reader uses for speed, and it survives what the evtx renderer sometimes emits (control characters
  that make a record not well-formed XML).
- ``iter_xml_export`` streams an Event Viewer "Save as XML" export (``<Events><Event xmlns=...>``) or
  a single ``<Event>`` through defusedxml, so hostile XML is refused.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aadc_doctor.errors import InputError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

EVENT_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event: the System fields we use, named EventData values, unnamed strings, rendered message."""

    event_id: int
    time: str  # SystemTime as written (ISO 8601, UTC)
    channel: str
    provider: str
    computer: str
    level: int | None = None
    record_id: int | None = None
    data: dict[str, str] = field(default_factory=dict)
    strings: tuple[str, ...] = ()
    message: str = ""
    source: str = ""


_EVENT_ID = re.compile(r"<EventID(?:\s[^>]*)?>\s*([0-9]{1,18})\s*</EventID>")
_TIME = re.compile(r"<TimeCreated\s+SystemTime=\"([^\"]*)\"")
_CHANNEL = re.compile(r"<Channel>([^<]*)</Channel>")
_COMPUTER = re.compile(r"<Computer>([^<]*)</Computer>")
_PROVIDER = re.compile(r"<Provider\s+Name=\"([^\"]*)\"")
_LEVEL = re.compile(r"<Level>([0-9]{1,18})</Level>")
_RECORD_ID = re.compile(r"<EventRecordID>([0-9]{1,18})</EventRecordID>")
_NAMED_DATA = re.compile(r"<Data Name=\"([^\"]*)\"(?:\s*/>|>([^<]*)</Data>)")
_UNNAMED_DATA = re.compile(r"<Data>([^<]*)</Data>")
_USER_DATA = re.compile(r"<UserData>(.*?)</UserData>", re.S)
_LEAF = re.compile(r"<([A-Za-z_][\w.-]*)(?:\s[^>]*)?>([^<]+)</\1>")
_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


def parse_iso_time(text: str) -> datetime | None:
    """ISO 8601 time (.NET's 7 or Windows' 9 fractional digits, Z or an offset) as aware UTC; None if unreadable.

    ``datetime.fromisoformat`` (Python 3.11+) reads all of these in C, which matters: it runs once per
    trace entry and per interesting event of logs with millions of them. A time without offset is UTC,
    as both the trace listener and SystemTime write UTC.
    """
    value = text.strip()
    if len(value) < 19 or not value[:4].isascii() or not value[:4].isdigit():
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is UTC:
            return parsed
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # year 0, or year 1 / 9999 pushed out of range by its offset
        return None


def format_iso_time(value: datetime | None) -> str | None:
    """An aware time as UTC ISO 8601 with a Z (what the JSON reports carry), or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _unescape(value: str) -> str:
    return html.unescape(value) if "&" in value else value


def event_id_of(text: str) -> int | None:
    """Only the EventID, for the cheap first look at every record (plain string search: it runs per record)."""
    start = text.find("<EventID")
    if start < 0:
        return None
    start = text.find(">", start) + 1
    end = text.find("<", start)
    value = text[start:end].strip()
    if value.isascii() and value.isdigit() and len(value) <= 10:
        return int(value)
    match = _EVENT_ID.search(text)
    return _int(match.group(1)) if match else None


def parse_event_text(text: str, source: str = "", event_id: int | None = None) -> EventRecord | None:
    """An EventRecord from one event's XML text; None when it has no EventID at all.

    Searches are bounded to the part of the record they belong to (System before EventData), because
    this runs for every interesting record of a large log.
    """
    if event_id is None:
        event_id = event_id_of(text)
        if event_id is None:
            return None
    data_at = text.find("<EventData")
    system_end = data_at if data_at >= 0 else len(text)
    data: dict[str, str] = {}
    strings: list[str] = []
    if data_at >= 0:
        data_end = text.find("</EventData>", data_at)
        body = text[data_at:data_end if data_end >= 0 else len(text)]
        if "&" in body:
            data = {name: html.unescape(value).strip() for name, value in _NAMED_DATA.findall(body)}
        else:
            data = {name: value.strip() for name, value in _NAMED_DATA.findall(body)}
        if "<Data>" in body:
            strings.extend(_unescape(v).strip() for v in _UNNAMED_DATA.findall(body))
    # an event has EventData or UserData, never both (event schema); no need to scan a long record twice
    user_at = text.find("<UserData>") if data_at < 0 else -1
    if user_at >= 0:
        user = _USER_DATA.search(text, user_at)
        if user is not None:
            for name, value in _LEAF.findall(user.group(1)):
                data.setdefault(name, _unescape(value).strip())
                strings.append(_unescape(value).strip())
    message_at = text.find("<Message>", system_end)
    level = _LEVEL.search(text, 0, system_end)
    record_id = _RECORD_ID.search(text, 0, system_end)
    return EventRecord(
        event_id=event_id,
        time=_search_in(_TIME, text, system_end),
        channel=_search_in(_CHANNEL, text, system_end),
        provider=_search_in(_PROVIDER, text, system_end),
        computer=_search_in(_COMPUTER, text, system_end),
        level=int(level.group(1)) if level else None,
        record_id=int(record_id.group(1)) if record_id else None,
        data=data,
        strings=tuple(strings),
        message=_search_in(_MESSAGE, text, len(text), message_at) if message_at >= 0 else "",
        source=source,
    )


def _search_in(pattern: re.Pattern[str], text: str, end: int, start: int = 0) -> str:
    match = pattern.search(text, start, end)
    return _unescape(match.group(1)) if match else ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(parent: Element | None, name: str) -> Element | None:
    if parent is None:
        return None
    for child in parent:
        if _local(child.tag) == name:
            return child
    return None


def parse_event_element(event: Element, source: str = "") -> EventRecord | None:
    """An EventRecord from a parsed ``<Event>`` element (namespace-agnostic)."""
    system = _child(event, "System")
    id_elem = _child(system, "EventID")
    event_id = _int((id_elem.text or "").strip()) if id_elem is not None else None
    if event_id is None:
        return None
    time_elem = _child(system, "TimeCreated")
    provider = _child(system, "Provider")
    level = _child(system, "Level")
    record_id = _child(system, "EventRecordID")
    data: dict[str, str] = {}
    strings: list[str] = []
    event_data = _child(event, "EventData")
    if event_data is not None:
        for item in event_data:
            if _local(item.tag) != "Data":
                continue
            name = item.get("Name")
            value = (item.text or "").strip()
            if name:
                data[name] = value
            else:
                strings.append(value)
    user_data = _child(event, "UserData")
    if user_data is not None:
        for item in user_data.iter():
            if len(item) == 0 and item is not user_data and (item.text or "").strip():
                data.setdefault(_local(item.tag), item.text.strip() if item.text else "")
                strings.append((item.text or "").strip())
    rendering = _child(event, "RenderingInfo")
    message = _child(rendering, "Message")
    return EventRecord(
        event_id=event_id,
        time=time_elem.get("SystemTime", "") if time_elem is not None else "",
        channel=(_text(_child(system, "Channel"))),
        provider=provider.get("Name", "") if provider is not None else "",
        computer=_text(_child(system, "Computer")),
        level=_int(_text(level)),
        record_id=_int(_text(record_id)),
        data=data,
        strings=tuple(strings),
        message=_text(message),
        source=source,
    )


def _text(elem: Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


def _int(value: str) -> int | None:
    """ASCII digits only (``"²"`` is a digit to ``str.isdigit`` but not to ``int``), at most 18 of them."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


@dataclass
class XmlExportStats:
    """What an XML export held: events read, ``<Event>`` elements that were not events we could read."""

    name: str
    records: int = 0
    bad: int = 0
    cut_short: str = ""  # the XML breaks off (a copy cut short) after the events counted in ``records``


def _decoded_head(head: bytes) -> str:
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return head.decode("utf-16", errors="ignore")
    if len(head) > 3 and head[1] == 0 and head[3] == 0:
        return head.decode("utf-16-le", errors="ignore")
    return head.decode("utf-8", errors="ignore").lstrip("\ufeff")


_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def looks_like_event_xml(head: bytes) -> bool:
    """True when the file's first bytes are XML holding ``<Event`` elements (an export or wevtutil qe /f:xml)."""
    text = _decoded_head(head).lstrip()
    return text.startswith("<") and "<Event" in text[:8192]


class _Chunks(io.RawIOBase):
    """A readable byte stream over a generator of byte chunks (for iterparse)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _utf8_chunks(path: Path) -> Iterator[bytes]:
    """The file as UTF-8 without its XML declaration, wrapped in <Events> when events are concatenated.

    ``wevtutil qe LOG /f:xml`` writes events one after another with no root element, and Event Viewer
    exports may be UTF-16; both become one well-formed UTF-8 document here.
    """
    with open(path, "rb") as fh:
        head = fh.read(8192)
        fh.seek(0)
        if head[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(head) > 3 and head[1] == 0 and head[3] == 0):
            encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-16-le"
        else:
            encoding = "utf-8-sig"
        text = io.TextIOWrapper(fh, encoding=encoding, errors="replace")
        first = text.read(65536)
        if "<!DOCTYPE" in first or "<!ENTITY" in first:
            # Event Viewer and wevtutil never write a DTD; entity tricks (billion laughs, external files) do
            raise InputError(f"{path}: refused XML with a DTD (<!DOCTYPE/<!ENTITY>): event exports never have one",
                             hint="export the log again with Event Viewer or wevtutil")
        # the declaration is dropped (the text is re-encoded as UTF-8), its line break kept: error line
        # numbers must stay those of the file
        first = _DECLARATION.sub("", first, count=1)
        wrap = not first.lstrip().startswith("<Events")
        if wrap:
            yield b"<Events>"
        yield first.encode("utf-8")
        while True:
            chunk = text.read(1 << 20)
            if not chunk:
                break
            yield chunk.encode("utf-8")
        if wrap:
            yield b"</Events>"


def iter_xml_export(path: Path, stats: XmlExportStats) -> Iterator[EventRecord]:
    """Events of an Event Viewer XML export, streamed; malformed XML is an InputError naming the place."""
    from xml.etree.ElementTree import ParseError  # here, not at start-up: most runs read .evtx only

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    try:
        stream = io.BufferedReader(_Chunks(_utf8_chunks(path)), buffer_size=1 << 16)
        for _, elem in iterparse(stream, events=("end",), forbid_dtd=True):
            if _local(elem.tag) != "Event":
                continue
            record = parse_event_element(elem, str(path))
            if record is None:
                stats.bad += 1
            else:
                stats.records += 1
                yield record
            elem.clear()
    except ParseError as exc:
        position = getattr(exc, "position", None)
        where = f" at line {position[0]}, column {position[1] + 1}" if position else ""
        reason = str(exc).split(":", 1)[0]  # expat's words, e.g. "no element found" for a file cut short
        cut = "; the file seems cut short" if reason in ("no element found", "unclosed token") else ""
        read = "1 event" if stats.records == 1 else f"{stats.records} events"
        if stats.records:  # what was read before the break is real evidence: keep it, and say where it stopped
            stats.cut_short = f"the XML breaks off{where}: {reason}{cut}; the {read} before it were read"
            return
        raise InputError(f"{path}: malformed event XML{where}: {reason}{cut} ({read} read before it)",
                         hint="export the log again from Event Viewer (Save All Events As... > XML) "
                              "or with wevtutil epl to an .evtx") from None
    except DefusedXmlException as exc:
        raise InputError(f"{path}: refused unsafe XML ({type(exc).__name__})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
