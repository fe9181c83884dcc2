"""Reading proxy logs for `proxylog`: every file sniffed, scanned in chunks for lines naming an Azure AD domain,
parsed and streamed into the analysis (the I/O half of the command; analysis/proxylog.py is the other half)."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aadc_doctor.errors import InputError

if TYPE_CHECKING:
    from aadc_doctor.analysis.proxylog import ProxyLogAnalysis, RecordFilter
    from aadc_doctor.logs.chunked_reader import ScannedChunk
    from aadc_doctor.logs.sniff import LineParser

MAX_BAD_SAMPLES = 10
COLLECT_EVERY_CHUNKS = 32  # 256 MiB of 8 MiB chunks


@dataclass(frozen=True)
class ProxyLogFile:
    """One file read: its format, encoding, line counts and what reading could not take in as it was."""

    path: str
    format: str
    format_description: str
    encoding: str
    compressed: bool
    lines: int
    bad_lines: int
    fast_path: bool
    truncated: str | None
    ignored_tail: str | None
    nul_bytes_skipped: int
    cr_line_ends: bool


@dataclass(frozen=True)
class BadLineSample:
    file: str
    line: int
    reason: str
    text: str


@dataclass(frozen=True)
class ProxyLogReading:
    """What reading the files gave besides the records: per-file facts, bad-line samples, empty files."""

    format: str  # the one format of every file, or "mixed"
    files: tuple[ProxyLogFile, ...]
    bad_line_samples: tuple[BadLineSample, ...]
    fast_path: bool
    empty_files: tuple[str, ...]


def _needles() -> list[bytes]:
    from aadc_doctor.analysis.proxylog import catalog_needles
    from aadc_doctor.knowledge.endpoints import load_catalog

    domains = catalog_needles(load_catalog())
    # Squid writes host names in lower case; formats that keep the client's spelling are searched case-blind
    # (LogFormat.fold_case). Upper case is kept for the others: the spelling seen in the wild besides lower case.
    return [d.encode("ascii") for d in domains] + [d.upper().encode("ascii") for d in domains]


def _feed(chunk: ScannedChunk, base: int, parser: LineParser, analysis: ProxyLogAnalysis, path: str,
          samples: list[BadLineSample]) -> None:
    """Parse a chunk's candidate lines into the analysis; bad lines are counted and the first few sampled."""
    from aadc_doctor.logs.proxy_record import BadLine

    counts = analysis.counts
    numbered = chunk.data is None  # else a line's number is counted only if it is bad (ScannedChunk)
    for position, raw in chunk.candidates:
        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]
        line_no = base + position + 1 if numbered else 0
        try:
            record = parser.parse(text, line_no)
        except BadLine as exc:
            line_no = line_no or base + chunk.line_index(position) + 1
            counts.bad += 1
            if len(samples) < MAX_BAD_SAMPLES:
                samples.append(BadLineSample(path, line_no, str(exc), text[:200]))
            continue
        if record is None:
            counts.no_request += 1
        else:
            analysis.add(record)


def analyse_files(paths: list[Path], format_name: str, record_filter: RecordFilter, *, full_parse: bool = False,
                  thresholds: Mapping[str, float] | None = None) -> tuple[ProxyLogAnalysis, ProxyLogReading]:
    """Stream every file through sniffing, the candidate scan, its parser and the analysis."""
    from aadc_doctor.analysis.proxylog import ProxyLogAnalysis
    from aadc_doctor.knowledge.communication_pattern import load_pattern
    from aadc_doctor.knowledge.endpoints import load_catalog
    from aadc_doctor.logs.chunked_reader import ChunkedLog, Scanner, all_lines_scanner, make_scanner, scan_chunks
    from aadc_doctor.logs.sniff import FORMATS, detect_format, finish_parser
    from aadc_doctor.progress import advance_path

    analysis = ProxyLogAnalysis(load_catalog(), load_pattern(), record_filter, thresholds)
    counts = analysis.counts
    needles = _needles()
    files: list[ProxyLogFile] = []
    samples: list[BadLineSample] = []
    fast_any = False
    empty: list[Path] = []
    # The cyclic collector ran every 700 allocations and re-walked the analysis' growing state each time; records,
    # candidates and per-client state make no reference cycles, so the young generations are only collected every
    # COLLECT_EVERY_CHUNKS chunks, a safety net (measured -0.06 s CPU of 0.8 on bench/proxylog.py; a collection
    # after every chunk cost 0.03 s of that back, walking the candidates of the chunks read ahead).
    collecting = gc.isenabled()
    gc.disable()
    chunks_read = 0
    try:
        for path in paths:
            log = ChunkedLog(path)
            head = log.head_text()
            if not head.strip():
                log.close()
                empty.append(path)  # e.g. a log rotated a moment ago: nothing to read, not a reason to stop
                continue
            fmt = FORMATS[format_name] if format_name != "auto" else detect_format(head)
            if fmt is None:
                log.close()
                raise InputError(f"{path}: not a proxy log this version reads",
                                 hint="expected a Squid native access.log, a W3C extended log with a #Fields: line, a "
                                      "tinyproxy log, an Apache/nginx combined log, or connect://host:port lines; "
                                      "--format forces one")
            parser = fmt.new_parser()
            fast = fmt.fast_path and not full_parse
            fast_any = fast_any or fast
            scanner: Scanner = (make_scanner(needles, header_prefix=(fmt.header_prefix or "").encode() or None,
                                             fold_case=fmt.fold_case) if fast else all_lines_scanner)
            base = 0
            lines_before, bad_before = counts.lines, counts.bad
            for chunk in scan_chunks(log, scanner):
                if chunk.overlong:
                    counts.lines += 1
                    counts.overlong += 1
                    base += 1
                    if len(samples) < MAX_BAD_SAMPLES:
                        samples.append(BadLineSample(str(path), base, "line longer than the 1 MiB limit: counted, not "
                                                     "read", ""))
                    continue
                _feed(chunk, base, parser, analysis, str(path), samples)
                counts.lines += chunk.lines
                counts.not_candidate += chunk.lines - len(chunk.candidates)
                base += chunk.lines
                chunks_read += 1
                if collecting and chunks_read % COLLECT_EVERY_CHUNKS == 0:
                    gc.collect(1)
            for record in finish_parser(parser):
                counts.no_request -= 1  # counted as a line that was no request when it was read
                analysis.add(record)
            stats = log.stats
            advance_path(path)
            files.append(ProxyLogFile(str(path), fmt.name, fmt.description, stats.encoding, stats.compressed,
                                      counts.lines - lines_before, counts.bad - bad_before, fast,
                                      stats.truncated or None, stats.ignored_tail or None, stats.nul_bytes,
                                      stats.cr_line_ends))
    finally:
        if collecting:
            gc.enable()
    if not files:
        raise InputError(f"{empty[0]}: the file is empty" if len(empty) == 1 else "every file given is empty")
    analysis.finish()
    formats = sorted({f.format for f in files})
    reading = ProxyLogReading(formats[0] if len(formats) == 1 else "mixed", tuple(files), tuple(samples), fast_any,
                              tuple(str(p) for p in empty))
    return analysis, reading


