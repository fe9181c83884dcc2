"""`aadc-doctor proxylog FILE...`: what the proxy did with Azure AD Connect's requests, from the proxy's own log.

Reads Squid native access.logs, W3C extended logs (IIS, Forefront TMG, Blue Coat), tinyproxy's log, the
Apache/nginx combined format and the articles' ``connect://host:port`` listings (``.gz``, UTF-16, CRLF and CR
too), classifies every destination against the
endpoint catalog, and matches the traffic with the article's reference sequences for the wizard's pages.
Heavy modules are imported inside ``run`` (the CLI imports this module at start-up).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aadc_doctor.commands import CommandResult, RunContext
from aadc_doctor.errors import InputError, UsageError
from aadc_doctor.model import Report

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.analysis.proxylog import ProxyLogAnalysis, RecordFilter

HELP = ("analyse proxy logs (Squid, W3C/TMG/Blue Coat, tinyproxy, Apache/nginx combined, connect:// listings; .gz) "
        "against the required endpoints")
FORMAT_CHOICES = ("auto", "squid", "w3c", "tinyproxy", "combined", "listing")
MAX_BAD_SAMPLES = 10
MAX_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z, the last moment datetime can show
_DOTTED_NUMBERS = re.compile(r"[\d.]+|[\d.]+/\d+")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="proxy log files, in time order (.gz is fine)")
    parser.add_argument("--format", choices=FORMAT_CHOICES, default="auto",
                        help="the log format (default: detected from the first lines of each file)")
    parser.add_argument("--client", action="append", default=[], metavar="IP",
                        help="only requests from this client: the Azure AD Connect server's address, a network "
                             "(10.1.2.0/24) or the client name the log shows (repeatable)")
    parser.add_argument("--since", metavar="TIME", help="only requests started at or after TIME (ISO 8601, UTC "
                                                       "unless an offset is given, or epoch seconds)")
    parser.add_argument("--until", metavar="TIME", help="only requests started at or before TIME")
    parser.add_argument("--full-parse", action="store_true",
                        help="parse every line, not only those naming an Azure AD domain (slower; finds bad lines "
                             "anywhere in the file)")


def parse_time(text: str, option: str) -> float:
    """ISO 8601 (``2016-01-11``, ``2016-01-11T08:31``, ``...Z``, ``...+01:00``) or epoch seconds -> epoch."""
    value = text.strip()
    hint = "use ISO 8601, e.g. 2024-05-01T08:30 (UTC) or 2024-05-01T08:30+02:00, or epoch seconds"
    try:
        epoch = float(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            epoch = moment.timestamp()
        except (ValueError, OverflowError):
            raise UsageError(f"{option} {text!r}: not a date/time", hint=hint) from None
    if not 0 <= epoch <= MAX_EPOCH:  # also NaN and infinity, which float() accepts
        raise UsageError(f"{option} {text!r}: not a time between 1970 and 9999", hint=hint)
    return epoch


def build_filter(args: argparse.Namespace) -> RecordFilter:
    import ipaddress

    from aadc_doctor.analysis.proxylog import RecordFilter

    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    names: list[str] = []
    for value in args.client:
        try:
            networks.append(ipaddress.ip_network(value.strip().strip("[]"), strict=False))
        except ValueError as exc:
            if not value.strip():
                raise UsageError("--client needs an address, a network or a client name") from None
            if _DOTTED_NUMBERS.fullmatch(value.strip()):  # meant as an address: a typo, not a client name
                raise UsageError(f"--client {value.strip()!r}: {exc}") from None
            names.append(value.strip().lower())
    since = parse_time(args.since, "--since") if args.since else None
    until = parse_time(args.until, "--until") if args.until else None
    if since is not None and until is not None and since > until:
        raise UsageError("--since is later than --until")
    return RecordFilter(tuple(networks), tuple(names), since, until)


def _needles() -> list[bytes]:
    from aadc_doctor.analysis.proxylog import catalog_needles
    from aadc_doctor.knowledge.endpoints import load_catalog

    domains = catalog_needles(load_catalog())
    # Squid writes host names in lower case; formats that keep the client's spelling are searched case-blind
    # (LogFormat.fold_case). Upper case is kept for the others: the spelling seen in the wild besides lower case.
    return [d.encode("ascii") for d in domains] + [d.upper().encode("ascii") for d in domains]


def analyse_files(paths: list[Path], format_name: str, record_filter: RecordFilter, *, full_parse: bool = False,
                  thresholds: Mapping[str, float] | None = None) -> tuple[ProxyLogAnalysis, dict[str, Any]]:
    """Stream every file through sniffing, the candidate scan, its parser and the analysis."""
    from aadc_doctor.analysis.proxylog import ProxyLogAnalysis
    from aadc_doctor.knowledge.communication_pattern import load_pattern
    from aadc_doctor.knowledge.endpoints import load_catalog
    from aadc_doctor.logs.chunked_reader import ChunkedLog, Scanner, all_lines_scanner, make_scanner, scan_chunks
    from aadc_doctor.logs.proxy_record import BadLine
    from aadc_doctor.logs.sniff import FORMATS, detect_format, finish_parser
    from aadc_doctor.progress import advance_path

    analysis = ProxyLogAnalysis(load_catalog(), load_pattern(), record_filter, thresholds)
    counts = analysis.counts
    needles = _needles()
    files: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    fast_any = False
    empty: list[Path] = []
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
                    samples.append({"file": str(path), "line": base, "reason": "line longer than the 1 MiB limit: "
                                    "counted, not read", "text": ""})
                continue
            for index, raw in chunk.candidates:
                text = raw.decode("utf-8", "replace")
                if text.endswith("\r"):
                    text = text[:-1]
                line_no = base + index + 1
                try:
                    record = parser.parse(text, line_no)
                except BadLine as exc:
                    counts.bad += 1
                    if len(samples) < MAX_BAD_SAMPLES:
                        samples.append({"file": str(path), "line": line_no, "reason": str(exc), "text": text[:200]})
                    continue
                if record is None:
                    counts.no_request += 1
                else:
                    analysis.add(record)
            counts.lines += chunk.lines
            counts.not_candidate += chunk.lines - len(chunk.candidates)
            base += chunk.lines
        for record in finish_parser(parser):
            counts.no_request -= 1  # counted as a line that was no request when it was read
            analysis.add(record)
        stats = log.stats
        advance_path(path)
        files.append({"path": str(path), "format": fmt.name, "format_description": fmt.description,
                      "encoding": stats.encoding, "compressed": stats.compressed,
                      "lines": counts.lines - lines_before, "bad_lines": counts.bad - bad_before,
                      "fast_path": fast, "truncated": stats.truncated or None,
                      "ignored_tail": stats.ignored_tail or None, "nul_bytes_skipped": stats.nul_bytes,
                      "cr_line_ends": stats.cr_line_ends})
    if not files:
        raise InputError(f"{empty[0]}: the file is empty" if len(empty) == 1 else "every file given is empty")
    analysis.finish()
    formats = sorted({f["format"] for f in files})
    extra = {"format": formats[0] if len(formats) == 1 else "mixed", "files": files, "bad_line_samples": samples,
             "fast_path": fast_any, "empty_files": [str(p) for p in empty]}
    return analysis, extra


def _reading_findings(files: list[dict[str, Any]]) -> list[Any]:
    """What reading the files could not take in as it was: a cut .gz, bytes after it, NUL blocks."""
    from aadc_doctor.model import Finding, Severity

    out = []
    for file in files:
        path = file["path"]
        if file["truncated"]:
            out.append(Finding("proxylog-truncated-file", Severity.WARNING, "The compressed log ends early",
                               detail=f"{path}: {file['truncated']} ({file['lines']:,} lines read).",
                               subject=path))
        if file["ignored_tail"]:
            out.append(Finding("proxylog-ignored-tail", Severity.INFO, "Bytes after the compressed log were ignored",
                               detail=f"{path}: {file['ignored_tail']} ({file['lines']:,} lines read).",
                               subject=path))
        if file["nul_bytes_skipped"]:
            out.append(Finding("proxylog-nul-bytes", Severity.INFO, "NUL bytes in the log were skipped",
                               detail=f"{path}: {file['nul_bytes_skipped']:,} NUL bytes (what a crash or power loss "
                                      "leaves in a file being written) were skipped; the lines around them were read.",
                               subject=path))
    return out


def _bad_line_hint(fast: bool) -> str:
    if fast:
        return ("Only lines naming an Azure AD domain are parsed in full (the rest are counted), so a damaged line "
                "elsewhere in the file is not noticed; --full-parse checks every line.")
    return "Every line was parsed."


def run(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    record_filter = build_filter(args)
    paths = [Path(p) for p in args.files]
    from aadc_doctor import progress

    with progress.reading(ctx, progress.size_of(args.files), "proxylog"):
        analysis, extra = analyse_files(paths, args.format, record_filter, full_parse=args.full_parse)
    results = analysis.results()
    findings = analysis.findings(results, lines_hint=_bad_line_hint(extra["fast_path"]))
    findings.extend(_reading_findings(extra["files"]))
    if extra["empty_files"]:
        from aadc_doctor.model import Finding, Severity

        findings.append(Finding("proxylog-empty-files", Severity.INFO, "Empty files were skipped",
                                detail="Nothing to read in: " + ", ".join(extra["empty_files"]) + ".",
                                subject=", ".join(extra["empty_files"])))
    ordered: dict[str, Any] = {"format": extra["format"], "files": extra["files"]}
    ordered.update(results)
    ordered["bad_line_samples"] = extra["bad_line_samples"]
    return CommandResult(Report(command="proxylog", findings=findings, results=ordered))


def _when(value: str | None) -> str:
    return value.replace("T", " ").removesuffix("Z") if value else "-"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _span(first: str | None, last: str | None) -> str:
    """``2016-01-11 08:31:00 .. 08:49:00`` (the date once when both are on the same day)."""
    if not first:
        return "-"
    start, end = _when(first), _when(last)
    if end == start:
        return start
    if end[:10] == start[:10]:
        end = end[11:]
    return f"{start} .. {end}"


def _line_summary(r: Mapping[str, Any]) -> str:
    """What became of the lines: lines naming no Azure AD domain are only counted (unless --full-parse)."""
    counts = r["line_counts"]
    parts = []
    if counts["not_candidate"]:
        parts.append(f"{counts['not_candidate']:,} naming no Azure AD domain (counted, not parsed)")
    parts.append(f"{counts['records'] + counts['filtered_out']:,} parsed in full, {r['records']:,} analysed")
    if counts["filtered_out"]:
        parts.append(f"{counts['filtered_out']:,} outside the filters")
    if counts["bad"] + counts["overlong"]:
        parts.append(f"{counts['bad'] + counts['overlong']:,} bad")
    if r["unrelated_count"]:
        parts.append(f"{r['unrelated_count']:,} of them to unrelated hosts")
    return f"{r['lines']:,} lines: " + ", ".join(parts) + " (times in UTC)"


def render(report: Report, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    r = report.results
    counts = r["line_counts"]
    names = ", ".join(f"{Path(f['path']).name} ({f['format']})" for f in r["files"])
    console.print(Text(f"Proxy log: {names}", style="bold"))
    console.print(_line_summary(r))
    endpoints = [e for e in r["endpoints"] if e["classification"] in ("required", "optional")]
    if endpoints:
        table = Table(title="Azure AD endpoints", title_justify="left", box=None, padding=(0, 1), pad_edge=False,
                      header_style="bold")
        # On a narrow console the counts must survive: the host folds, the time span and profiles wrap.
        table.add_column("endpoint", no_wrap=True)
        for column in ("req", "ok", "denied", "other"):
            table.add_column(column, justify="right", no_wrap=True)
        table.add_column("seen (UTC)")
        table.add_column("needed by")
        notes: list[str] = []
        for e in endpoints:
            profiles = sorted({p for rule in e["required_by"] for p in rule["profiles"]})
            needed = ", ".join(profiles) + ("" if e["classification"] == "required" else " (optional)")
            denied = Text(str(e["denied"]), style="bold red" if e["denied"] else "")
            counts = [str(e["allowed"]), denied, str(e["other"])]
            if e["no_status"] == e["requests"]:
                counts = ["-", Text("-"), "-"]  # a listing records no answers
            table.add_row(f"{e['host']}:{e['port']}", str(e["requests"]), *counts,
                          _span(e["first_seen"], e["last_seen"]), needed)
            if e["denied"] or e["other"]:
                statuses = ", ".join(f"{n}x {s}" for s, n in e["statuses"].items())
                notes.append(f"  {e['host']}:{e['port']}: {statuses}"
                             + (f" ({_n(e['auth_challenges'], '407 answer')} before a successful retry)"
                                if e["auth_challenges"] else ""))
        console.print(table)
        if notes:
            console.print(Text("Statuses of endpoints with denials or failures:", style="bold"))
            for note in notes:
                console.print(note)
    for item in r["ignorable"]:
        console.print(Text(f"Ignorable: {item['host']} ({_n(item['requests'], 'request')}, {item['denied']} "
                           f"denied): {item['reason']}", style="dim"))
    if r["phases"]:
        client = r["phase_summary"]["client"]
        console.print(Text("Wizard phases (the article's reference sequences)"
                           + (f", client {client}" if client else ""), style="bold"))
        for phase in r["phases"]:
            mark = {"complete": Text("reached  ", style="green"), "partial": Text("partial  ", style="yellow"),
                    "not_seen": Text("not seen ", style="dim")}[phase["status"]]
            line = Text("  ") + mark + Text(f"{phase['name']}: {phase['matched_steps']}/{phase['total_steps']} steps")
            if phase["first_seen"]:
                line.append(f", {_span(phase['first_seen'], phase['last_seen'])}")
            if phase["status"] != "complete" and phase["matched_steps"]:
                line.append(f"; next would be {phase['next_step']['expects']}")
                if phase["blocked"]:
                    line.append(f" (denied: {phase['blocked']['status']})", style="red")
            console.print(line)
