"""`aadc-doctor proxylog FILE...`: what the proxy did with Azure AD Connect's requests, from the proxy's own log.

Reads Squid native access.logs, W3C extended logs (IIS, Forefront TMG, Blue Coat), tinyproxy's log, the
Apache/nginx combined format and the articles' ``connect://host:port`` listings (``.gz``, UTF-16, CRLF and CR
too), classifies every destination against the
endpoint catalog, and matches the traffic with the article's reference sequences for the wizard's pages.
Heavy modules are imported inside ``collect`` (the CLI imports this module at start-up).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aadc_doctor.commands import RunContext
from aadc_doctor.errors import UsageError
from aadc_doctor.model import Finding
from aadc_doctor.pipeline import Analysis, BaseCommand
from aadc_doctor.results import ProxylogResults

if TYPE_CHECKING:
    from aadc_doctor.analysis.proxylog import ProxyLogAnalysis, RecordFilter
    from aadc_doctor.knowledge.findings import FindingTemplate
    from aadc_doctor.logs.proxylog_reader import ProxyLogFile, ProxyLogReading

HELP = ("analyse proxy logs (Squid, W3C/TMG/Blue Coat, tinyproxy, Apache/nginx combined, connect:// listings; .gz) "
        "against the required endpoints")
MAX_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z, the last moment datetime can show
_DOTTED_NUMBERS = re.compile(r"[\d.]+|[\d.]+/\d+")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="proxy log files, in time order (.gz is fine)")
    from aadc_doctor.logs.sniff import FORMATS  # the one registry of log formats

    parser.add_argument("--format", choices=("auto", *FORMATS), default="auto",
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
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="read in N processes, this one included: with 2, a helper reads, searches and parses "
                             "the file while this process analyses (default: 2 for uncompressed files of 16 MB and "
                             "more on 2 or more CPUs, on Linux; 1 reads everything in this process)")


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


def _reading_findings(files: tuple[ProxyLogFile, ...]) -> list[Finding]:
    """What reading the files could not take in as it was: a cut .gz, bytes after it, NUL blocks."""
    t = _templates()
    out = []
    for file in files:
        path = file.path
        if file.truncated:
            out.append(t["truncated-file"].render(path, path=path, truncated=file.truncated, lines=file.lines))
        if file.ignored_tail:
            out.append(t["ignored-tail"].render(path, path=path, ignored_tail=file.ignored_tail, lines=file.lines))
        if file.nul_bytes_skipped:
            out.append(t["nul-bytes"].render(path, path=path, nul_bytes=file.nul_bytes_skipped))
    return out


def _templates() -> dict[str, FindingTemplate]:
    from aadc_doctor.knowledge.findings import load_prefixed_templates

    return load_prefixed_templates("proxylog_findings.toml", "finding", "proxylog-")


@dataclass(frozen=True)
class ProxylogEvidence:
    analysis: ProxyLogAnalysis  # the records streamed in while the files were read
    reading: ProxyLogReading


class ProxylogCommand(BaseCommand):
    name = "proxylog"
    help = HELP

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> ProxylogEvidence:
        from aadc_doctor import progress
        from aadc_doctor.logs.proxylog_reader import analyse_files

        if args.jobs is not None and args.jobs < 1:
            raise UsageError(f"--jobs {args.jobs}: give 1 or more processes")
        record_filter = build_filter(args)
        paths = [Path(p) for p in args.files]
        with progress.reading(ctx, progress.size_of(args.files), "proxylog"):
            analysis, reading = analyse_files(paths, args.format, record_filter, full_parse=args.full_parse,
                                             jobs=args.jobs)
        return ProxylogEvidence(analysis, reading)

    def analyse(self, evidence: ProxylogEvidence) -> Analysis[ProxylogResults]:
        reading = evidence.reading
        results = evidence.analysis.results()
        findings = evidence.analysis.findings(results, fast_path=reading.fast_path)
        findings.extend(_reading_findings(reading.files))
        if reading.empty_files:
            files = ", ".join(reading.empty_files)
            findings.append(_templates()["empty-files"].render(files, files=files))
        return Analysis(ProxylogResults(reading.format, reading.files, results, reading.bad_line_samples), findings)


COMMAND = ProxylogCommand()
