"""Hypothesis fuzzing of every log parser this package owns (issue 17): whatever the bytes, a parser returns a
record or nothing, or raises its typed error (BadLine, InputError); never anything else, never a traceback.

Budgets are fixed and the runs derandomized, so the suite is deterministic and its time bounded (10,000 examples
per parser, each up to a few lines; AADC_FUZZ_SCALE scales them, down in the Windows lane). Inputs mix arbitrary
text with mutations of real lines (fields swapped for Unicode digits, huge numbers, out-of-range times, stray quotes
and brackets), which reach deeper than random text does. A sample goes through the CLI too (exit code 0, 1 or 2, no
traceback).
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fixtures.pta import tracegen as tg
from tests.fuzz.budget import fuzz_settings

from aadc_doctor.errors import InputError
from aadc_doctor.logs.combined import CombinedParser
from aadc_doctor.logs.event_xml import parse_event_text, parse_iso_time
from aadc_doctor.logs.listing import ListingParser
from aadc_doctor.logs.proxy_record import BadLine, ProxyRecord, iso
from aadc_doctor.logs.pta_trace import TraceFileStats, TraceParser
from aadc_doctor.logs.sniff import detect_format, finish_parser
from aadc_doctor.logs.squid import SquidParser
from aadc_doctor.logs.text_input import TextStats, iter_numbered_lines
from aadc_doctor.logs.tinyproxy import TinyproxyParser
from aadc_doctor.logs.w3c import W3CParser

PER_PARSER = 10_000  # issue 17: at least 10,000 inputs per parser (tests/fuzz/test_fuzz_budget.py checks)


def budget(target: str, examples: int) -> Any:
    """The shared fuzz settings (tests/fuzz/budget.py: deterministic, AADC_FUZZ_SCALE, the budget report)."""
    return settings(fuzz_settings(target, examples), suppress_health_check=list(HealthCheck))


ODD_VALUES = ["", "-", "²", "٤٠٣", "1e300", "inf", "nan", "-1", "0", "65536", "9" * 30, "4" * 5000, '"', "[", "]",
              "\t", "\x00", "\x1b[31m", "[/]", "::", "[::1]:443", "ｌｏｇｉｎ.microsoftonline.com", "0000-00-00",
              "9999-12-31", "24:61:61", "31/Dec/9999:23:59:59 -1400", "01/Jan/0000:00:00:00 +0000", "%00", "\u2028"]

REAL_LINES = {
    "squid": ["1700000000.123    120 10.0.5.20 TCP_TUNNEL/200 5120 CONNECT login.microsoftonline.com:443 - "
              "HIER_DIRECT/20.190.151.7 -",
              "1700000001.000      0 10.0.5.20 TCP_MISS/403 3620 GET http://provisioningapi.microsoftonline.com/x - "
              "FIRSTUP_PARENT/127.0.0.1 text/html"],
    "combined": ['127.0.0.1 - - [06/Dec/2026:00:01:35 +0000] "CONNECT login.microsoftonline.com:443 HTTP/1.1" 200 '
                 '2548 "-" "curl/7.88.1" TCP_TUNNEL:FIRSTUP_PARENT'],
    "w3c": ["2024-01-01 10:00:00 10.0.5.20 CONNECT login.microsoftonline.com:443 200 5"],
    "listing": ["| 1/11/2016 8:31 |connect://login.microsoftonline.com:443 |", "**Connect to Azure AD**"],
    "tinyproxy": ["CONNECT   Dec 06 00:08:09.479 [30418]: Connect (file descriptor 5): 127.0.0.5",
                  "CONNECT   Dec 06 00:08:09.480 [30418]: Request (file descriptor 5): CONNECT "
                  "bwsc02-relay.microsoftonline.com:443 HTTP/1.1",
                  'NOTICE    Dec 06 00:08:09.463 [30418]: Proxying refused on filtered domain "x.example"',
                  "INFO      Dec 06 00:08:09.563 [30418]: Refused CONNECT method on port 8443",
                  "INFO      Dec 06 00:08:09.558 [30418]: Closed connection between local client (fd:5) and "
                  "remote client (fd:6)", "INFO      Dec 06 00:00:51.383 [15879]: Added basic auth user : alice"],
}


@st.composite
def mutated(draw: st.DrawFn, lines: list[str]) -> str:
    """A real line with some of its whitespace-separated fields replaced, dropped or doubled."""
    fields = draw(st.sampled_from(lines)).split(" ")
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(fields) - 1))
        action = draw(st.sampled_from(["odd", "text", "drop", "double"]))
        if action == "odd":
            fields[index] = draw(st.sampled_from(ODD_VALUES))
        elif action == "text":
            fields[index] = draw(st.text(max_size=20))
        elif action == "drop" and len(fields) > 1:
            del fields[index]
        else:
            fields.insert(index, fields[index])
    return " ".join(fields)


def line_inputs(fmt: str) -> st.SearchStrategy[str]:
    return st.one_of(mutated(REAL_LINES[fmt]), st.text(max_size=200),
                     st.sampled_from(REAL_LINES[fmt]).map(lambda line: line.replace("0", "٠")))


def _check(record: ProxyRecord | None) -> None:
    if record is None:
        return
    assert isinstance(record.host, str) and isinstance(record.client, str)
    assert record.port is None or 0 < record.port < 65536
    if record.time is not None:
        assert math.isfinite(record.time)
        iso(record.time)  # every time a parser gives can be shown
        iso(record.start_time)
    assert record.status is None or 0 <= record.status < 10 ** 18
    record.verdict  # noqa: B018 - computing it must not fail


def _parse_all(parser: Any, lines: list[str]) -> None:
    for number, line in enumerate(lines, start=1):
        with contextlib.suppress(BadLine):
            _check(parser.parse(line, number))
    for record in finish_parser(parser):
        _check(record)


def _line_parser_test(fmt: str, factory: Callable[[], Any]) -> Callable[[list[str]], None]:
    def run(lines: list[str]) -> None:
        parser = factory()
        if fmt == "w3c":
            parser.parse("#Fields: date time c-ip cs-method cs-uri sc-status time-taken")
        _parse_all(parser, lines)

    return run


# one module-level test per format: a budget is declared (and counted by tests/fuzz/test_fuzz_budget.py) on import
test_squid_parser = budget("logs.squid", PER_PARSER)(
    given(st.lists(line_inputs("squid"), min_size=1, max_size=5))(_line_parser_test("squid", SquidParser)))
test_combined_parser = budget("logs.combined", PER_PARSER)(
    given(st.lists(line_inputs("combined"), min_size=1, max_size=5))(_line_parser_test("combined", CombinedParser)))
test_w3c_parser = budget("logs.w3c", PER_PARSER)(
    given(st.lists(line_inputs("w3c"), min_size=1, max_size=5))(_line_parser_test("w3c", W3CParser)))
test_listing_parser = budget("logs.listing", PER_PARSER)(
    given(st.lists(line_inputs("listing"), min_size=1, max_size=5))(_line_parser_test("listing", ListingParser)))
test_tinyproxy_parser = budget("logs.tinyproxy", PER_PARSER)(
    given(st.lists(line_inputs("tinyproxy"), min_size=1, max_size=5))(_line_parser_test("tinyproxy", TinyproxyParser)))


@budget("logs.pta_trace", PER_PARSER)
@given(st.lists(st.one_of(st.text(max_size=120), st.sampled_from([
    f"{tg.CURRENT_EXE} Error: 0 : Passthrough Authentication request failed. RequestId: 'x'. Reason: '1328'.",
    "    ThreadId=5", "    DateTime=2024-03-05T08:00:00.0000000Z", "    DateTime=9999-12-31T23:59:59.9999999-05:00",
    "    DateTime=0000-01-01T00:00:00Z", f"{tg.CURRENT_EXE} Error: {'9' * 40} : x", "    ThreadId=²",
    f"{tg.CURRENT_EXE} Information: ٤ : hi", "    Callstack=" + "x" * 300, ""])), max_size=12))
def test_pta_trace_parser(lines: list[str]) -> None:
    parser = TraceParser()
    stats = TraceFileStats("fuzz")
    for entry in [*parser.feed(iter(lines), stats), *parser.finish()]:
        assert entry.event_id is not None and stats.entries >= 1
        if entry.time is not None:
            entry.time.isoformat()


EVENT = tg.failed_logon(tg.T0, "alice", "0xc000006d", "0xc000006a", record_id=1)


@budget("logs.event_xml", PER_PARSER)
@given(st.one_of(st.text(max_size=300), st.builds(
    lambda cut, junk, at: EVENT[:at] + junk + EVENT[at + cut:], st.integers(0, 40),
    st.sampled_from([*ODD_VALUES, "<", ">", "</EventID>", "<EventID>²</EventID>", "&amp;", "<![CDATA["]),
    st.integers(0, len(EVENT)))))
def test_event_xml_text_parser(text: str) -> None:
    record = parse_event_text(text, "fuzz")
    if record is not None:
        assert record.event_id >= 0
        parse_iso_time(record.time)


@budget("logs.text_input", PER_PARSER)
@given(st.one_of(st.binary(max_size=600), st.builds(
    lambda head, body: head + body, st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\x1f\x8b", b"\x00" * 50]),
    st.text(max_size=300).map(lambda t: t.replace("a", "\r").encode("utf-8")))))
def test_text_input_reader(data: bytes) -> None:
    stats = TextStats()
    try:
        for number, line in iter_numbered_lines(io.BytesIO(data), "fuzz", stats, max_line_chars=64):
            assert number >= 1 and len(line) <= 64 and "\n" not in line
    except InputError as exc:
        assert "\n" not in exc.message


@budget("logs.sniff", PER_PARSER)
@given(st.one_of(st.text(max_size=400), st.lists(st.sampled_from(
    [line for lines in REAL_LINES.values() for line in lines] + ["#Fields: date time", "#Software: x"]),
    max_size=6).map("\n".join)))
def test_format_sniffing(head: str) -> None:
    detect_format(head)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-cli")


def test_a_sample_through_the_cli(fuzz_dir: Path, run_cli: Callable[..., Any]) -> None:
    """Whole files through `proxylog` and `pta trace`: exit 0, 1 or 2, one line on stderr for 2, no traceback."""
    path = fuzz_dir / "input.log"

    @budget("logs.cli-sample", 60)
    @given(st.one_of(st.binary(max_size=2000), st.lists(line_inputs("squid"), max_size=20).map(
        lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))))
    def run(data: bytes) -> None:
        path.write_bytes(data)
        for argv in (("proxylog", "--json", str(path)), ("pta", "trace", "--json", str(path))):
            result = run_cli(*argv)
            assert result.code in (0, 1, 2), (argv, result.stderr)
            assert "Traceback" not in result.stderr and "internal error" not in result.stderr.lower(), result.stderr
            if result.code == 2:
                assert result.stderr.startswith("aadc-doctor: error: ")

    run()
