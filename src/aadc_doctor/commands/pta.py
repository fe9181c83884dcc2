"""`aadc-doctor pta trace|events|dc-query`: the PTA agent's trace logs, event logs and sign-in query.

Collect on Windows, analyse anywhere: a copied Trace folder (or its .zip), exported .evtx files or Event
Viewer XML exports. Failures are reported by Win32 reason with the Windows message (as `net helpmsg`
prints it), the AADSTS code the user most likely saw, and the remedy.

Results (``--json``), beyond DESIGN.md's ``requests`` and ``by_reason``: a busy agent server logs millions of
sign-ins, so ``requests`` lists only the agent's FAILED requests, the latest 1000 (oldest first), and the
agent's successes are only counted. Every count (``by_reason``, ``by_hour``, ``by_status``, ``bursts``,
``summary``) covers all failures, listed or not. Memory does not grow with successes; each failure costs one
compact row (about 50 bytes), which keeps those counts, bursts and the trace/event correlation exact.

- ``requests_total``: how many failed PTA requests there were; ``requests_truncated``: true when ``requests``
  lists fewer than that.
- ``correlated``: the trace/event pairs among the listed requests; ``correlated_total``: all pairs.
- ``successes``: the agent's successful sign-ins, ``{"count", "first_seen", "last_seen", "by_hour":
  [{"hour", "count"}]}``.
- ``other_failures``: failures by other processes, ``{"count", "latest"}`` (the latest 20).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aadc_doctor.commands import RunContext
from aadc_doctor.errors import UsageError
from aadc_doctor.pipeline import Analysis, BaseCommand
from aadc_doctor.results import PtaAgentGeneration, PtaDcQueryResults, PtaResults

if TYPE_CHECKING:
    from aadc_doctor.analysis.pta import PtaEvidence
    from aadc_doctor.knowledge.pta_events import AgentGeneration

HELP = "PTA agent: analyse trace logs (trace) and event logs (events), print the sign-in event query (dc-query)"

DC_QUERY_WHERE = (
    "Run this query on every server where a PTA Authentication Agent runs: Event Viewer > Create Custom View > "
    "XML > Edit query manually, or Get-WinEvent -FilterXml. The 2017 article files it under 'Domain Controller "
    "logs', but the agent validates passwords with LogonUser on its own server, so the Security events naming "
    "its process are logged there, not on the domain controllers (which log 4776/4771 for the same sign-ins, "
    "without a process name). Logon auditing (success and failure) must be enabled."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from aadc_doctor.options import add_global_options

    sub = parser.add_subparsers(dest="pta_command", metavar="SUBCOMMAND", parser_class=type(parser))
    sub.required = True
    trace = sub.add_parser(
        "trace", help="analyse agent trace logs (files, folders, a .zip of the Trace folder)",
        description="Failed PTA sign-ins from the agent's trace logs (both agent generations, UTF-8 or UTF-16, "
                    "rotated files in time order): RequestId, Reason with its Windows message, the AADSTS code the "
                    "user most likely saw, the remedy; counts by reason and hour; the agent's other errors.")
    trace.add_argument("paths", nargs="+", metavar="PATH",
                       help=r"trace files, the Trace folder (%%ProgramData%%\Microsoft\Azure AD Connect "
                            r"Authentication Agent\Trace) or a .zip of it")
    trace.add_argument("--events", action="append", default=[], metavar="FILE",
                       help="also read this .evtx/XML event log and correlate its failures with the trace (repeatable)")
    _matcher_options(trace)
    add_global_options(trace, suppress_defaults=True)
    events = sub.add_parser(
        "events", help="analyse exported event logs (.evtx or Event Viewer XML)",
        description="The agent's Admin log (current and legacy channels) with known event IDs explained, and "
                    "Security logs: events whose ProcessName is the PTA agent, and 4624/4625/4648/4768/4771/4776 with "
                    "Status and SubStatus decoded to the Win32 reasons the trace log uses.")
    events.add_argument("files", nargs="+", metavar="FILE",
                        help=".evtx files or Event Viewer XML exports, or folders of them")
    events.add_argument("--trace", action="append", default=[], metavar="PATH",
                        help="also read these trace logs and correlate failures by time and reason (repeatable)")
    _matcher_options(events)
    add_global_options(events, suppress_defaults=True)
    query = sub.add_parser("dc-query", help="print the Event Viewer query for the agent's sign-in events",
                           description="Print the article's Event Viewer QueryList XML that selects the Security "
                                       "events of the PTA agent process (both agent generations, or --process). "
                                       + DC_QUERY_WHERE)
    query.add_argument("--process", action="append", default=[], metavar="PATH",
                       help="the agent executable's full path, for a non-default install (repeatable)")
    add_global_options(query, suppress_defaults=True)


def _matcher_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--process", action="append", default=[], metavar="PATH",
                        help="treat this executable as the PTA agent too (non-default install path; repeatable)")
    parser.add_argument("--agent-host", action="append", default=[], metavar="NAME_OR_IP",
                        help="an agent server's name or address, to attribute domain-controller events "
                             "(4776 Workstation, 4768/4771 client address) to the agent (repeatable)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="read event logs in N processes, this one included (default: as many as there are "
                             "CPUs, for logs of 8 MB and more; 1 reads everything in this process). Large .evtx "
                             "files are split by chunk, so one big Security log uses every CPU too")


@dataclass(frozen=True)
class PtaReadEvidence:
    subcommand: str  # "trace" or "events"
    evidence: PtaEvidence
    expect_agent: bool


@dataclass(frozen=True)
class DcQueryEvidence:
    processes: tuple[str, ...]
    generations: tuple[AgentGeneration, ...]


class PtaCommand(BaseCommand):
    name = "pta"
    help = HELP

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def report_name(self, args: argparse.Namespace) -> str:
        return f"pta {args.pta_command}"

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> PtaReadEvidence | DcQueryEvidence:
        command = args.pta_command
        if command == "dc-query":
            return _dc_query_evidence(args, ctx)
        from aadc_doctor import progress

        inputs = args.paths + args.events if command == "trace" else args.files + args.trace
        with progress.reading(ctx, progress.size_of(inputs), f"pta {command}"):
            return _read(args, command)

    def analyse(self, evidence: PtaReadEvidence | DcQueryEvidence) -> Analysis[PtaResults | PtaDcQueryResults]:
        if isinstance(evidence, DcQueryEvidence):
            return Analysis(PtaDcQueryResults(
                query_xml=query_xml(list(evidence.processes)), processes=evidence.processes,
                generations=tuple(PtaAgentGeneration(g.generation, g.name, g.process) for g in evidence.generations),
                run_on="each PTA agent server (Security log), not the domain controllers", note=DC_QUERY_WHERE))
        from aadc_doctor.analysis.pta import analyse

        findings, results = analyse(evidence.evidence, expect_agent=evidence.expect_agent)
        return Analysis(results, findings)


COMMAND = PtaCommand()


def _read(args: argparse.Namespace, command: str) -> PtaReadEvidence:
    from aadc_doctor import progress
    from aadc_doctor.logs.pta_event_logs import collect_events
    from aadc_doctor.logs.pta_trace_reader import collect_trace

    agent = _agent_options(args)
    if command == "trace":
        from aadc_doctor.analysis.pta import PtaEvidence

        evidence = PtaEvidence()
        collect_trace(args.paths, evidence)
        if args.events:
            collect_events(args.events, agent, args.jobs, evidence)
            progress.advance(progress.size_of(args.events))
        return PtaReadEvidence(command, evidence, expect_agent=bool(args.events))
    # the event logs first: their helper processes start before the analysis modules are loaded here
    evidence = collect_events(args.files, agent, args.jobs)
    progress.advance(progress.size_of(args.files))
    collect_trace(args.trace, evidence)
    return PtaReadEvidence(command, evidence, expect_agent=True)


def _agent_options(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """--process and --agent-host, checked, as plain data (the matcher is built where the logs are read)."""
    for option, values in (("--process", args.process), ("--agent-host", args.agent_host)):
        if any(not value.strip() for value in values):
            raise UsageError(f"{option}: empty value")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: give 1 or more processes")
    return tuple(p.strip() for p in args.process), tuple(h.strip() for h in args.agent_host)


# ---- dc-query ---------------------------------------------------------------------------------


def query_xml(processes: list[str]) -> str:
    """The article's QueryList, with one Data alternative per agent executable, correctly escaped."""
    literals = []
    for process in processes:
        if "'" in process and '"' in process:
            raise UsageError(f"--process {process}: a path with both ' and \" cannot be written in an XPath query")
        quote = '"' if "'" in process else "'"
        literals.append(f"Data={quote}{process}{quote}")
    select = ("*[EventData[Data[@Name='ProcessName'] and (" + " or ".join(literals) + ")]]")
    return "\n".join([
        "<QueryList>",
        '  <Query Id="0" Path="Security">',
        f'    <Select Path="Security">{_xml_text(select)}</Select>',
        "  </Query>",
        "</QueryList>",
    ])


def _xml_text(text: str) -> str:
    """Element text escaped for XML (xml.sax.saxutils.escape would pull in urllib: 20 ms of start-up)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _check_process_path(process: str) -> None:
    """The query compares the whole ProcessName, so anything but a full Windows path would never match."""
    if not process.strip():
        raise UsageError("--process: empty path")
    if any(ord(c) < 32 for c in process):
        raise UsageError(f"--process {process!r}: the path holds a control character (a pasted line break?)")
    if "/" in process and "\\" not in process:
        raise UsageError(f"--process {process}: write the path with backslashes, as the Security log records it")
    if not (process[1:3] == ":\\" and process[0].isalpha()) and not process.startswith("\\"):
        raise UsageError(f"--process {process}: give the executable's full path as the Security log records it "
                         r"(for example C:\Program Files\...\AzureADConnectAuthenticationAgentService.exe); the "
                         "query compares the whole ProcessName, so a bare file name would match nothing")


def _dc_query_evidence(args: argparse.Namespace, ctx: RunContext) -> DcQueryEvidence:
    from aadc_doctor.knowledge.pta_events import agent_generations

    generations = agent_generations()
    processes = list(args.process) or [g.process for g in generations]
    for process in processes:
        _check_process_path(process)
    query_xml(processes)  # a path it cannot write is a usage error before anything is printed
    if not ctx.json_mode:
        ctx.err_console.print(DC_QUERY_WHERE, markup=False, highlight=False, soft_wrap=True)
    return DcQueryEvidence(tuple(processes), tuple(generations))
