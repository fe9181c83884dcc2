"""Format detection and the chunked reader: encodings, .gz, CRLF, chunk boundaries, huge lines, binary junk."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from aadc_doctor.errors import InputError
from aadc_doctor.logs.chunked_reader import (
    ChunkedLog,
    ScannedChunk,
    all_lines_scanner,
    force_regex_scanner,
    make_scanner,
    scan_chunks,
)
from aadc_doctor.logs.sniff import FORMATS, detect_format

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "proxylog"
NEEDLES = [b"microsoftonline", b"windows.net"]


@pytest.mark.parametrize(("path", "expected"), [
    ("logs/proxy/plaso_squid_access.log", "squid"),
    ("logs/proxy/plaso_iis6_w3c.log", "w3c"),
    ("logs/proxy/plaso_iis10_w3c.log", "w3c"),
    ("logs/proxy/stroom-docs_sampleBluecoat_w3c-elff.log", "w3c"),
    ("logs/aadconnect/msdocs_reference_proxy_log.tsv", "listing"),
    ("logs/pta/msdocs_pta_agent_trace_example.log", None),
])
def test_detects_the_corpus_formats(corpus: Path, path: str, expected: str | None) -> None:
    fmt = detect_format(ChunkedLog(corpus / path).head_text())
    assert (fmt.name if fmt else None) == expected


def test_detects_the_tmg_fixture() -> None:
    fmt = detect_format(ChunkedLog(FIXTURES / "tmg_w3c_webproxy.log").head_text())
    assert fmt is FORMATS["w3c"]


def _lines(path: Path, chunk_bytes: int = 1 << 20, max_line_bytes: int = 1 << 20) -> list[str]:
    log = ChunkedLog(path, chunk_bytes=chunk_bytes, max_line_bytes=max_line_bytes)
    out: list[str] = []
    for chunk in scan_chunks(log, all_lines_scanner):
        out += [raw.decode().rstrip("\r") for _, raw in chunk.candidates] if not chunk.overlong else ["<overlong>"]
    return out


SQUID = ("1700000000.000      5 10.0.0.1 TCP_TUNNEL/200 100 CONNECT login.microsoftonline.com:443 - "
         "HIER_DIRECT/1.1.1.1 -\n"
         "1700000001.000      5 10.0.0.2 TCP_DENIED/403 100 CONNECT graph.windows.net:443 - HIER_NONE/- text/html\n")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_encodings_and_crlf(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "log.txt"
    path.write_bytes(SQUID.replace("\n", "\r\n").encode(encoding))
    log = ChunkedLog(path)
    assert detect_format(log.head_text()) is FORMATS["squid"]
    assert _lines(path) == SQUID.splitlines()


def test_gzip_by_magic_and_a_truncated_gzip(tmp_path: Path) -> None:
    data = (SQUID * 2000).encode()
    path = tmp_path / "access.log.1"  # no .gz suffix: recognised by its magic bytes
    path.write_bytes(gzip.compress(data))
    log = ChunkedLog(path)
    assert detect_format(log.head_text()) is FORMATS["squid"] and log.stats.compressed
    assert len(_lines(path)) == 4000
    unique = "".join(f"{1700000000 + i}.000 5 10.0.{i % 200}.{i % 250} TCP_TUNNEL/200 {i * 7919 % 100000} CONNECT "
                     f"h{i * 31 % 99991}.example.com:443 - -\n" for i in range(60000)).encode()
    packed = gzip.compress(unique)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    log = ChunkedLog(cut)
    total = sum(c.lines for c in scan_chunks(log, all_lines_scanner))
    assert 20000 < total < 60000 and "ends early" in log.stats.truncated


def test_chunk_boundaries_do_not_lose_or_split_lines(tmp_path: Path) -> None:
    text = "".join(f"{1700000000 + i}.000 {i:6d} 10.0.0.{i % 250} TCP_TUNNEL/200 1 CONNECT h{i}.example.com:443 - -\n"
                   for i in range(5000))
    path = tmp_path / "a.log"
    path.write_text(text + "last line without newline")
    assert _lines(path, chunk_bytes=997) == (text + "last line without newline").splitlines()


def test_candidates_and_line_numbers_match_a_plain_scan(tmp_path: Path) -> None:
    lines = [f"line {i} {'login.microsoftonline.com' if i % 7 == 0 else 'example.org'} "
             f"{'graph.windows.net' if i % 11 == 0 else ''}" for i in range(20000)]
    path = tmp_path / "b.log"
    path.write_bytes(("\n".join(lines) + "\n").encode())  # LF on every platform: candidates are the raw lines
    expected = [(i + 1, line) for i, line in enumerate(lines) if "microsoftonline" in line or "windows.net" in line]
    for scanner in (make_scanner(NEEDLES), force_regex_scanner(NEEDLES)):
        got: list[tuple[int, str]] = []
        base = 0
        for chunk in scan_chunks(ChunkedLog(path, chunk_bytes=4096), scanner):
            got += [(base + chunk.line_index(i) + 1, raw.decode()) for i, raw in chunk.candidates]
            base += chunk.lines
        assert base == len(lines)
        assert got == expected


def test_header_lines_are_candidates_for_w3c() -> None:
    scanner = make_scanner(NEEDLES, header_prefix=b"#")
    chunk = b"#Fields: a b\nx y\n#Date: z\nq login.microsoftonline.com\n"
    result: ScannedChunk = scanner(chunk)
    assert result.lines == 4
    assert [result.line_index(i) for i, _ in result.candidates] == [0, 2, 3]
    regex_result = force_regex_scanner(NEEDLES, header_prefix=b"#")(chunk)
    assert [regex_result.line_index(i) for i, _ in regex_result.candidates] == [0, 2, 3]


def test_a_span_inside_a_chunk_is_searched_in_place() -> None:
    """The reader hands on a read as (data, start, end): lines and positions are those of the span alone."""
    chunk = b"cut tail of a line\n#Fields: a b\nx login.microsoftonline.com\ny\n#Date: z\npartial login.micro"
    start, end = chunk.index(b"\n") + 1, chunk.rindex(b"\n") + 1
    for scanner in (make_scanner(NEEDLES, header_prefix=b"#"), force_regex_scanner(NEEDLES, header_prefix=b"#")):
        result = scanner(chunk, start, end)
        assert result.lines == 4
        assert [(result.line_index(i), raw) for i, raw in result.candidates] == [
            (0, b"#Fields: a b"), (1, b"x login.microsoftonline.com"), (3, b"#Date: z")]


def test_a_huge_line_is_counted_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    path.write_bytes(b"first\n" + b"x" * 50_000 + b"\nafter\n")
    assert _lines(path, chunk_bytes=4096, max_line_bytes=8192) == ["first", "<overlong>", "after"]
    utf16 = tmp_path / "huge16.log"
    utf16.write_bytes(("first\n" + "x" * 50_000 + "\nafter\n").encode("utf-16"))
    assert _lines(utf16, chunk_bytes=4096, max_line_bytes=8192) == ["first", "<overlong>", "after"]


def test_an_ansi_log_is_read_as_cp1252_like_every_other_text_log(tmp_path: Path) -> None:
    """The chunked reader had its own encoding rules and read Windows-1252 as UTF-8 (client names mangled)."""
    from aadc_doctor.logs.text_input import sniff_encoding

    text = ("#Fields: date time c-ip cs-username cs-host sc-status\n"
            "2024-05-01 08:00:00 10.0.0.5 CONTOSO\\M\u00fcller login.microsoftonline.com 200\n")
    path = tmp_path / "ansi.log"
    path.write_bytes(text.encode("cp1252"))
    log = ChunkedLog(path)
    assert log.head_text() == text and log.stats.encoding == "cp1252"
    assert b"".join(chunk for chunk, _ in log.chunks()).decode("utf-8") == text
    for data in (text.encode("utf-16-le"), text.encode("utf-16"), text.encode("utf-8-sig"), text.encode("cp1252")):
        path.write_bytes(data)
        log = ChunkedLog(path)
        assert log.head_text() == text
        assert b"".join(chunk for chunk, _ in log.chunks()).decode("utf-8") == text
        assert log.stats.encoding == {"utf-8-sig": "utf-8", "utf-16": "utf-16-le"}.get(sniff_encoding(data, "x"),
                                                                                      sniff_encoding(data, "x"))


def test_binary_junk_and_missing_files_are_input_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InputError, match="binary"):
        ChunkedLog(junk).head_text()
    with pytest.raises(InputError, match="no such file"):
        ChunkedLog(tmp_path / "missing.log").head_text()
    with pytest.raises(InputError, match="directory"):
        ChunkedLog(tmp_path).head_text()


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 64, 4096])
def test_spans_give_every_line_once_whatever_the_chunk_size(tmp_path: Path, chunk_bytes: int) -> None:
    """The reader hands on reads as spans without copying them: lines cut by a read, CRLF split between two reads,
    lone CRs, a last line without a newline and lines longer than a chunk all come out once and whole."""
    import random

    rng = random.Random(chunk_bytes)
    words = ["login.microsoftonline.com", "x", "", "a" * 150, "graph.windows.net y"]
    ends = ["\n", "\r\n", "\r"]
    lines = [f"{i} {rng.choice(words)}" for i in range(300)]
    text = "".join(line + rng.choice(ends) for line in lines) + "tail without newline"
    path = tmp_path / "spans.log"
    path.write_bytes(text.encode())
    log = ChunkedLog(path, chunk_bytes=chunk_bytes, max_line_bytes=1000)
    spans = list(log.spans())
    assert all(end > start and data[end - 1:end] == b"\n" for data, start, end, overlong in spans if not overlong)
    got = b"".join(data[start:end] for data, start, end, _ in spans).decode().replace("\r\n", "\n").split("\n")
    assert got == [*lines, "tail without newline", ""]
    scanner = make_scanner(NEEDLES)
    total = 0
    found: list[str] = []
    for scanned in scan_chunks(ChunkedLog(path, chunk_bytes=chunk_bytes, max_line_bytes=1000), scanner):
        found += [f"{total + scanned.line_index(p)}:{raw.decode().rstrip(chr(13))}" for p, raw in scanned.candidates]
        total += scanned.lines
    assert total == len(lines) + 1
    assert found == [f"{i}:{line}" for i, line in enumerate(lines)
                     if "microsoftonline" in line or "windows.net" in line]
