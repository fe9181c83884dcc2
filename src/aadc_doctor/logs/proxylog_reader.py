"""Reading proxy logs for `proxylog`: every file sniffed, scanned in chunks for lines naming an Azure AD domain,
parsed and streamed into the analysis (the I/O half of the command; analysis/proxylog.py is the other half).

Reading, the search and parsing take about as long as the analysis, so on two CPUs a large file is read by a forked
helper process (``parallel.forked_stream``) that sends each chunk's records back in file order while this process
analyses them; the report is the one a single process gives (tests/cli/test_proxylog.py compares them).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from aadc_doctor.errors import InputError, RunIncomplete
from aadc_doctor.logs.chunked_reader import ChunkedLog, ReadStats, ScannedChunk, Scanner
from aadc_doctor.logs.proxy_record import ProxyRecord

if TYPE_CHECKING:
    from aadc_doctor.analysis.proxylog import ProxyLogAnalysis, RecordFilter
    from aadc_doctor.logs.sniff import LineParser

MAX_BAD_SAMPLES = 10
COLLECT_EVERY_CHUNKS = 32  # 256 MiB of 8 MiB chunks
PARALLEL_MIN_BYTES = 16 * 1024 * 1024  # below this a helper process saves less than it costs (two chunks)
_OVERLONG = "line longer than the 1 MiB limit: counted, not read"


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


@dataclass(frozen=True)
class _ParsedChunk:
    """One chunk, parsed: what the analysis takes in order (from this process or from the reading helper)."""

    lines: int
    candidates: int
    # ProxyRecords; from the helper their fields as plain tuples (``plain``): pickled and rebuilt 3x faster
    records: Sequence[tuple[Any, ...]]
    no_request: int = 0
    bad: int = 0
    samples: tuple[tuple[int, str, str], ...] = ()  # (line number, reason, text) of the first bad lines
    overlong: bool = False
    plain: bool = False


@dataclass(frozen=True)
class _FileEnd:
    """After a file's last chunk: how it was read, and the records a multi-line format still held."""

    stats: ReadStats
    records: list[ProxyRecord]


def _parse_chunk(chunk: ScannedChunk, base: int, parser: LineParser) -> _ParsedChunk:
    """Parse a chunk's candidate lines; bad lines are counted and the first few sampled with their number."""
    from aadc_doctor.logs.proxy_record import BadLine

    records: list[ProxyRecord] = []
    append = records.append
    no_request = bad = 0
    samples: list[tuple[int, str, str]] = []
    numbered = chunk.data is None  # else a line's number is counted only if it is bad (ScannedChunk)
    parse = parser.parse
    for position, raw in chunk.candidates:
        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]
        line_no = base + position + 1 if numbered else 0
        try:
            record = parse(text, line_no)
        except BadLine as exc:
            bad += 1
            if len(samples) < MAX_BAD_SAMPLES:
                samples.append((line_no or base + chunk.line_index(position) + 1, str(exc), text[:200]))
            continue
        if record is None:
            no_request += 1
        else:
            append(record)
    return _ParsedChunk(chunk.lines, len(chunk.candidates), records, no_request, bad, tuple(samples))


def _parsed_chunks(chunks: Iterable[ScannedChunk], parser: LineParser) -> Iterator[_ParsedChunk]:
    base = 0  # lines before the chunk
    for chunk in chunks:
        if chunk.overlong:
            base += 1
            yield _ParsedChunk(1, 0, [], samples=((base, _OVERLONG, ""),), overlong=True)
            continue
        yield _parse_chunk(chunk, base, parser)
        base += chunk.lines


_Items = Generator["_ParsedChunk | _FileEnd", None, None]


def _read_here(log: ChunkedLog, scanner: Scanner, parser: LineParser) -> _Items:
    """The file read in this process (a thread reads and searches ahead)."""
    from aadc_doctor.logs.chunked_reader import scan_chunks
    from aadc_doctor.logs.sniff import finish_parser

    yield from _parsed_chunks(scan_chunks(log, scanner), parser)
    yield _FileEnd(log.stats, finish_parser(parser))


def _read_in_helper(log: ChunkedLog, scanner: Scanner, parser: LineParser) -> _Items:
    """The file read, searched and parsed by a forked helper while this process analyses what it sent: the two
    halves of the work take about as long (bench/proxylog.py), so on two CPUs the run takes about half."""
    from aadc_doctor.logs.sniff import finish_parser
    from aadc_doctor.parallel import forked_stream

    new = tuple.__new__

    def produce(send: Callable[[_ParsedChunk | _FileEnd], None]) -> None:
        scanned = (ScannedChunk(1, [], overlong=True) if overlong else scanner(data, start, end)
                   for data, start, end, overlong in log.spans())
        for number, parsed in enumerate(_parsed_chunks(scanned, parser), 1):
            send(replace(parsed, records=[tuple(record) for record in parsed.records], plain=True))
            if number % COLLECT_EVERY_CHUNKS == 0:
                gc.collect(1)  # the safety net of analyse_files: the helper inherited a disabled collector
        send(_FileEnd(log.stats, finish_parser(parser)))

    from aadc_doctor.parallel import HelperLost

    stream = forked_stream(produce)
    try:
        for item in stream:
            log.close()  # the helper has its own copy of the open file (and its position); this one is not read
            if isinstance(item, _ParsedChunk) and item.plain:
                item = replace(item, records=[new(ProxyRecord, fields) for fields in item.records], plain=False)
            yield item
    except HelperLost:
        raise RunIncomplete(f"{log.path}: the helper process reading the file ended before it was done (killed, "
                            "or out of memory?)", hint="run again; --jobs 1 reads in one process") from None
    finally:
        stream.close()
        log.close()


def _take(parsed: _ParsedChunk, analysis: ProxyLogAnalysis, path: str, samples: list[BadLineSample]) -> None:
    """A parsed chunk into the analysis and the counts, in file order."""
    counts = analysis.counts
    counts.lines += parsed.lines
    if parsed.overlong:
        counts.overlong += 1
    else:
        counts.not_candidate += parsed.lines - parsed.candidates
    counts.bad += parsed.bad
    counts.no_request += parsed.no_request
    for line_no, reason, text in parsed.samples[:MAX_BAD_SAMPLES - len(samples)]:
        samples.append(BadLineSample(path, line_no, reason, text))
    add = analysis.add
    for record in cast("Sequence[ProxyRecord]", parsed.records):
        add(record)


def _use_helper(log: ChunkedLog, jobs: int | None) -> bool:
    """Whether a helper process reads the file: ``--jobs`` 2 or more, or by default an uncompressed file of
    PARALLEL_MIN_BYTES or more on two CPUs; only where a helper starts in a millisecond (a fork: Linux, no thread
    running). A .gz stays here by default: zlib releases the GIL, so the reading thread already decompresses beside
    the analysis, and a helper that had to decompress, search and parse alone was the slower half (measured 1.75 s
    against 1.65 on the 2M-line bench log gzipped)."""
    from aadc_doctor.parallel import cheap_start_available, usable_cpus

    if jobs == 1:
        return False
    if jobs is None:
        try:
            if usable_cpus() < 2 or log.stats.compressed or log.path.stat().st_size < PARALLEL_MIN_BYTES:
                return False
        except OSError:
            return False
    return cheap_start_available()


def analyse_files(paths: list[Path], format_name: str, record_filter: RecordFilter, *, full_parse: bool = False,
                  thresholds: Mapping[str, float] | None = None,
                  jobs: int | None = None) -> tuple[ProxyLogAnalysis, ProxyLogReading]:
    """Stream every file through sniffing, the candidate scan, its parser and the analysis.

    ``jobs``: 1 reads in this process alone; 2 or more has a forked helper read, search and parse while this process
    analyses (where a fork is safe); None chooses by file size and CPUs (``_use_helper``). The report is the same.
    """
    from aadc_doctor.analysis.proxylog import ProxyLogAnalysis
    from aadc_doctor.knowledge.communication_pattern import load_pattern
    from aadc_doctor.knowledge.endpoints import load_catalog
    from aadc_doctor.logs.chunked_reader import all_lines_scanner, make_scanner
    from aadc_doctor.logs.sniff import FORMATS, detect_format
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
            lines_before, bad_before = counts.lines, counts.bad
            read = _read_in_helper if _use_helper(log, jobs) else _read_here
            stats = ReadStats()
            items = read(log, scanner, parser)
            try:  # closed here, not when a traceback lets go of it: Ctrl-C stops the helper at once
                for item in items:
                    if isinstance(item, _FileEnd):
                        stats = item.stats
                        for record in item.records:
                            counts.no_request -= 1  # counted as a line that was no request when it was read
                            analysis.add(record)
                        continue
                    _take(item, analysis, str(path), samples)
                    chunks_read += 1
                    if collecting and chunks_read % COLLECT_EVERY_CHUNKS == 0:
                        gc.collect(1)
            finally:
                items.close()
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


