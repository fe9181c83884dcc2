"""Fuzz the byte parsers: the .evtx reader and the AD readers (BER, the CLDAP answer, AD times, logonHours).

Issue 17 asks for at least 10,000 inputs per parser. Each parser's contract is checked as its callers rely on it:
- the .evtx reader: an InputError or records, never another exception, never a hang (real corpus files with
  bytes changed, cut, or a chunk header damaged, read as `pta events` reads them by the real ``evtx``
  package: in-process, or in the guarded helper (stopped if it loops) for chunks it may loop on);
- BER and the CLDAP answer: ValueError, IndexError or struct.error (what ``cldap_ping`` turns into "unreadable
  CLDAP answer") or a result; inputs are mutations of a real-shaped searchResEntry with a compressed Netlogon blob;
- AD times and logonHours: any 64-bit value and any bytes give a date, a duration or None, never an exception;
  a UTC offset text is read or refused with ValueError.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings
from tests.infra.spinning_evtx import write_spinning_evtx

from aadc_doctor.ad import ad_time, ber, logon_hours
from aadc_doctor.ad.cldap import LOGON_SAM_LOGON_RESPONSE_EX, netlogon_blob, parse_netlogon
from aadc_doctor.errors import InputError
from aadc_doctor.logs.evtx_guard import EvtxGuard
from aadc_doctor.logs.pta_event_logs import collect_events
from aadc_doctor.results.pta import EvtxFileRead

PER_PARSER = 10_000  # issue 17: at least 10,000 inputs per parser
CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "evtx"
EVTX_FILES = ("e2m_ID4625_account_restriction.evtx", "e2m_ID4771_kerberos_bruteforce_valid_user.evtx")
INT64 = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from(
    [0, 1, -1, 2**63 - 1, -(2**63), 9223372032559808511, 2650467743999999999, 2650467744000000000, 10**17, -(10**15)]))


def _budget(target: str, examples: int) -> settings:
    return settings(fuzz_settings(target, examples), suppress_health_check=list(HealthCheck))


# ---- .evtx -----------------------------------------------------------------------------------------------------

_EVTX = {name: (CORPUS / name).read_bytes() for name in EVTX_FILES}


@st.composite
def damaged_evtx(draw: st.DrawFn) -> bytes:
    """A real .evtx with bytes overwritten (anywhere, or in the file and chunk headers), maybe cut short."""
    data = bytearray(_EVTX[draw(st.sampled_from(EVTX_FILES))])
    hot = draw(st.sampled_from(["anywhere", "file header", "chunk header", "records"]))
    low, high = {"anywhere": (0, len(data)), "file header": (0, 128), "chunk header": (4096, 4096 + 512),
                 "records": (4096 + 512, len(data))}[hot]
    for _ in range(draw(st.integers(0, 12))):
        at = draw(st.integers(low, high - 1))
        data[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))):]
    return bytes(data)


STALL_SECONDS = 2.0  # the guard's limit here: a damaged input the package loops on costs this, not the run


@pytest.fixture(scope="module")
def evtx_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-evtx")


@pytest.fixture(scope="module")
def evtx_guard() -> Iterator[EvtxGuard]:
    """One guarded reader for every input, as one `pta events` run has (a stall starts a new helper)."""
    with EvtxGuard(stall_seconds=STALL_SECONDS) as guard:
        yield guard


_INPUTS = itertools.count()


def _read_evtx(folder: Path, guard: EvtxGuard, data: bytes) -> None:
    """What `pta events` does with the file: in-process, or through the guard for chunks the package may loop on."""
    path = folder / f"damaged-{next(_INPUTS)}.evtx"  # a new name each time: nothing is remembered of the last one
    path.write_bytes(data)
    started = time.monotonic()
    try:
        evidence = collect_events([str(path)], ((), ()), 1, guard=guard)
    except InputError as exc:
        assert "\n" not in exc.message
    else:
        (entry,) = evidence.files
        assert isinstance(entry, EvtxFileRead) and entry.records >= 0 and entry.error_count >= len(entry.errors)
        assert all(n > 0 for n in evidence.events_by_id.values())
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
    assert time.monotonic() - started < STALL_SECONDS + 20, "a damaged .evtx must not make the reader hang"


@_budget("logs.evtx", PER_PARSER)
@given(data=damaged_evtx())
def test_damaged_evtx_gives_records_or_an_input_error(evtx_folder: Path, evtx_guard: EvtxGuard, data: bytes) -> None:
    _read_evtx(evtx_folder, evtx_guard, data)


@st.composite
def checksummed_evtx(draw: st.DrawFn) -> bytes:
    """A damaged .evtx whose chunk checksums are made to hold again (as a crafted log's would): damage in the
    chunk header is then read in-process too, unless the chain check sends the chunk to the guard."""
    data = bytearray(draw(damaged_evtx()))
    chunk = 4096
    if len(data) >= chunk + 512:
        free_space = struct.unpack_from("<I", data, chunk + 48)[0]
        if 512 <= free_space <= min(65536, len(data) - chunk):
            struct.pack_into("<I", data, chunk + 52, zlib.crc32(bytes(data[chunk + 512:chunk + free_space])))
        struct.pack_into("<I", data, chunk + 124,
                         zlib.crc32(bytes(data[chunk:chunk + 120]) + bytes(data[chunk + 128:chunk + 512])))
    return bytes(data)


@_budget("logs.evtx_checksummed", PER_PARSER)
@given(data=checksummed_evtx())
def test_damaged_evtx_with_valid_checksums_gives_records_or_an_input_error(evtx_folder: Path, evtx_guard: EvtxGuard,
                                                                            data: bytes) -> None:
    _read_evtx(evtx_folder, evtx_guard, data)


def test_the_evtx_fuzz_reader_survives_the_input_the_package_loops_on(evtx_folder: Path, evtx_guard: EvtxGuard) -> None:
    """The input that hung the Windows lane (found by the target above), through the same path."""
    spins = write_spinning_evtx(CORPUS.parent, evtx_folder / "spins.evtx")
    _read_evtx(evtx_folder, evtx_guard, spins.read_bytes())


# ---- BER and the CLDAP answer --------------------------------------------------------------------------------


def _labels(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def _netlogon() -> bytes:
    head = struct.pack("<HHI", LOGON_SAM_LOGON_RESPONSE_EX, 0, 0x1 | 0x4 | 0x20 | 0x100) + bytes(16)
    forest_at = len(head)
    body = _labels("contoso.test") + bytes([0xC0, forest_at]) + b"\x03dc1" + bytes([0xC0, forest_at])
    body += _labels("CONTOSO") + _labels("DC1") + b"\x00"
    site_at = len(head) + len(body)
    body += _labels("Default-First-Site-Name") + bytes([0xC0, site_at])
    return head + body + struct.pack("<IHH", 5, 0xFFFF, 0xFFFF)


def _answer(blob: bytes) -> bytes:
    attribute = ber.tlv(0x30, ber.octets("Netlogon") + ber.tlv(0x31, ber.octets(blob)))
    entry = ber.tlv(0x64, ber.octets("") + ber.tlv(0x30, attribute))
    done = ber.tlv(0x65, ber.tlv(0x0A, b"\x00") + ber.octets("") + ber.octets(""))
    return ber.tlv(0x30, ber.integer(3) + entry + done)


NETLOGON = _netlogon()
ANSWER = _answer(NETLOGON)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["set", "insert", "delete", "cut"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "set" and data:
            data[at] = draw(st.one_of(st.sampled_from([0x00, 0x7F, 0x80, 0x81, 0x84, 0x85, 0xC0, 0xFF]),
                                      st.integers(0, 255)))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


@_budget("ad.ber", PER_PARSER)
@given(st.one_of(st.binary(max_size=64), mutated(ANSWER)))
def test_ber_reads_or_says_value_error(data: bytes) -> None:
    try:
        tag, content, end = ber.read_tlv(data, 0)
        assert 0 <= tag <= 255 and end <= len(data) and len(content) <= len(data)
        for _tag, value in ber.children(content):
            assert len(value) <= len(content)
    except ValueError:
        pass


@_budget("ad.cldap", PER_PARSER)
@given(st.one_of(mutated(ANSWER), st.builds(_answer, mutated(NETLOGON)), mutated(NETLOGON)))
def test_cldap_answer_reads_or_is_unreadable(data: bytes) -> None:
    """What ``cldap_ping`` does with a datagram: the blob, then its fields; it catches exactly these errors."""
    for datagram, direct in ((data, False), (data, True)):
        try:
            blob = data if direct else netlogon_blob(datagram)
            if blob is not None:
                parsed = parse_netlogon(blob)
                assert all(isinstance(parsed[k], str) for k in ("forest", "domain", "host", "dc_site"))
        except (ValueError, IndexError, struct.error):
            pass


# ---- AD times and logonHours ---------------------------------------------------------------------------------


@_budget("ad.ad_time", PER_PARSER)
@given(INT64, INT64)
def test_ad_times_are_a_date_a_duration_or_none(filetime: int, interval: int) -> None:
    moment = ad_time.from_filetime(filetime)
    assert moment is None or moment.tzinfo is not None
    ad_time.iso(moment)
    delta = ad_time.from_interval(interval)
    assert isinstance(ad_time.duration_text(delta), str)


OFFSETS = st.one_of(st.text(alphabet="+-0123456789:UTCZutcz²٣ ", max_size=7),
                    st.builds(lambda sign, h, m: f"{sign}{h:02d}:{m:02d}", st.sampled_from("+-"), st.integers(0, 99),
                              st.integers(0, 99)))


@_budget("ad.logon_hours", PER_PARSER)
@given(st.one_of(st.none(), st.binary(max_size=30), st.binary(min_size=21, max_size=21)), OFFSETS,
       st.datetimes(min_value=datetime(1601, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_logon_hours_decode_any_bytes(raw: bytes | None, offset_text: str, now: datetime) -> None:
    try:
        offset = logon_hours.parse_utc_offset(offset_text)
    except ValueError:
        offset = timedelta(0)
    assert abs(offset) <= timedelta(hours=14)
    described = logon_hours.describe(raw, offset, offset_text, now)
    if described is not None:
        assert set(described.week) == set(logon_hours.DAYS)
        assert all(len(hours) == 24 for hours in described.week.values())


def test_an_account_expiry_just_under_never_is_no_date() -> None:
    """Found by the fuzz suite: accountExpires 9223372032559808511 (seen in real directories, just under 'never')
    raised OverflowError (no datetime is past year 9999)."""
    assert ad_time.from_filetime(9223372032559808511) is None
    assert ad_time.from_filetime(2650467743999999999) == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
