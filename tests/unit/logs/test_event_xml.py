"""Event XML: Event Viewer exports, wevtutil's root-less output, UTF-16, hostile and malformed XML."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from aadc_doctor.errors import InputError
from aadc_doctor.logs.event_xml import (
    XmlExportStats,
    iter_xml_export,
    looks_like_event_xml,
    parse_event_element,
    parse_event_text,
)

_spec = importlib.util.spec_from_file_location("tracegen", Path(__file__).parents[2] / "fixtures/pta/tracegen.py")
assert _spec and _spec.loader
tg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tg)


def _events(n: int = 3) -> list[str]:
    return [tg.failed_logon(tg.T0 + tg.minutes(i), f"user{i}", "0xc0000234", "0x0", record_id=i + 1) for i in range(n)]


def test_export_is_read_with_namespaces_and_fields(tmp_path):
    path = tmp_path / "export.xml"
    path.write_text(tg.events_document(_events()), encoding="utf-8")
    stats = XmlExportStats(str(path))
    records = list(iter_xml_export(path, stats))
    assert stats.records == 3 and stats.bad == 0
    first = records[0]
    assert (first.event_id, first.channel, first.record_id) == (4625, "Security", 1)
    assert first.computer == "PTA01.contoso.com"
    assert first.data["Status"] == "0xc0000234" and first.data["TargetUserName"] == "user0"
    assert first.data["ProcessName"] == tg.CURRENT_PATH
    assert first.time.startswith("2024-03-05T08:00:00")


def test_wevtutil_rootless_output_in_utf16(tmp_path):
    path = tmp_path / "wevtutil.xml"
    path.write_bytes("".join(_events(2)).encode("utf-16"))
    assert looks_like_event_xml(path.read_bytes()[:4096])
    records = list(iter_xml_export(path, XmlExportStats(str(path))))
    assert [r.data["TargetUserName"] for r in records] == ["user0", "user1"]


def test_text_and_element_parsers_agree(tmp_path):
    from xml.etree import ElementTree as ET

    text = _events(1)[0].replace("user0", "a&amp;b")
    by_text = parse_event_text(text, "x")
    by_element = parse_event_element(ET.fromstring(text), "x")
    assert by_text == by_element
    assert by_text is not None and by_text.data["TargetUserName"] == "a&b"


def test_malformed_xml_before_any_event_is_one_input_error(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text(tg.events_document(_events(2))[:200], encoding="utf-8")
    with pytest.raises(InputError, match="malformed event XML"):
        list(iter_xml_export(path, XmlExportStats(str(path))))


def test_entity_expansion_is_refused(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE Events [<!ENTITY a "aaaa">]><Events>&a;</Events>')
    # refused as what it is, not reported as "malformed" (the old wording sent admins to re-export for nothing)
    with pytest.raises(InputError, match="refused XML with a DTD"):
        list(iter_xml_export(path, XmlExportStats(str(path))))
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE Events SYSTEM "file:///etc/passwd">\n<Events></Events>')
    with pytest.raises(InputError, match="refused XML with a DTD"):
        list(iter_xml_export(path, XmlExportStats(str(path))))


def test_malformed_xml_names_the_line_of_the_file_and_a_cut_short_file(tmp_path):
    path = tmp_path / "broken.xml"
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<Events>", *_events(1), "<Event><System></Evnt>", "</Events>"]
    path.write_text("\n".join(lines), encoding="utf-8")
    text = "\n".join(lines)
    bad_line = text[:text.index("</Evnt>")].count("\n") + 1
    stats = XmlExportStats(str(path))
    assert len(list(iter_xml_export(path, stats))) == 1  # the event before the break is read
    assert re.search(rf"at line {bad_line}, column \d+: mismatched tag; the 1 event before it were read",
                     stats.cut_short), stats.cut_short
    path.write_text(tg.events_document(_events(2))[:-40], encoding="utf-8")
    stats = XmlExportStats(str(path))
    assert len(list(iter_xml_export(path, stats))) == 1 and stats.records == 1
    assert "breaks off" in stats.cut_short


def test_iso_times_with_nine_digits_and_offsets():
    from datetime import UTC, datetime

    from aadc_doctor.logs.event_xml import parse_iso_time

    assert parse_iso_time("2021-10-23T21:50:11.666519300Z") == datetime(2021, 10, 23, 21, 50, 11, 666519, tzinfo=UTC)
    assert parse_iso_time("2021-10-23T23:50:11+02:00") == datetime(2021, 10, 23, 21, 50, 11, tzinfo=UTC)
    assert parse_iso_time("2021-10-23T21:50:11") == datetime(2021, 10, 23, 21, 50, 11, tzinfo=UTC)
    for bad in ("", "yesterday", "2021-13-40T99:00:00Z", "2021-10-23T21:50:11 garbage"):
        assert parse_iso_time(bad) is None
