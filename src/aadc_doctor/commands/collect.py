"""`aadc-doctor collect`: on the Windows server, gather everything the offline analysers read into one zip.

machine.config and the components' .exe.config files, `netsh winhttp show proxy`, the TLS/.NET registry values
and the components' Uninstall entries (as `reg export` text), the services' state and logon account, the trace
folders of both PTA generations and of the provisioning agent, the agents' event logs (`wevtutil epl`) and
`check --json` for every profile the installed components need. ``manifest.json`` lists every file with its
SHA-256 and source, and every item that is absent, unreadable or left out, with the reason.

JSON ``results``: ``{"zip": path, "manifest": {...manifest.json without "files"...}, "files": count,
"bytes": total, "redaction_map": path or null, "messages": [...]}``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aadc_doctor.commands import RunContext
from aadc_doctor.errors import UsageError
from aadc_doctor.knowledge.findings import run_findings
from aadc_doctor.pipeline import Analysis, BaseCommand, CommandRun, run_argv, run_command
from aadc_doctor.results import CollectResults, JsonObject

if TYPE_CHECKING:
    from aadc_doctor.collect.system import ServerSystem

HELP = "on the Windows server: gather configs, registry, services, traces, event logs and check results into a zip"
ON_THE_SERVER = ("collect runs on the Windows server that hosts Entra Connect or its agents; copy the zip it makes "
                 "and read it anywhere with `aadc-doctor analyze`")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="FILE.zip", help="where to write the zip (default: "
                        "aadc-doctor-collect-<host>-<UTC time>.zip in the current folder)")
    parser.add_argument("--since", type=float, metavar="DAYS",
                        help="only trace files changed and events logged in the last DAYS days")
    parser.add_argument("--max-mb", type=float, default=200.0, metavar="N",
                        help="keep the zip under N MB (default 200) by leaving out the oldest logs first")
    parser.add_argument("--redact", action="store_true",
                        help="replace UPNs, user, host and domain names and IP addresses with stable pseudonyms in "
                             "every file; the mapping is written beside the zip, never into it")
    parser.add_argument("--no-check", action="store_true", help="do not run `check` for the installed components")


@dataclass(frozen=True)
class CollectEvidence:
    out: Path
    manifest: JsonObject
    messages: tuple[str, ...]
    redaction_map: Path | None


class CollectCommand(BaseCommand):
    """`collect` on this Windows server, or (tests) on any `ServerSystem` with extra `check` options."""

    name = "collect"
    help = HELP

    def __init__(self, system: ServerSystem | None = None, check_args: tuple[str, ...] = ()) -> None:
        self.system = system
        self.check_args = check_args

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> CollectEvidence:
        system = self.system
        if system is None:
            if sys.platform != "win32":
                raise UsageError(ON_THE_SERVER)
            from aadc_doctor.collect.system import WindowsSystem

            system = WindowsSystem()
        return _gather(system, args, ctx, self.check_args)

    def analyse(self, evidence: CollectEvidence) -> Analysis[CollectResults]:
        manifest = evidence.manifest
        findings = []
        if manifest["not_collected"]:
            findings.append(run_findings()["collect-incomplete"].render(
                str(evidence.out), count=len(manifest["not_collected"]),
                items="; ".join(f"{e['source']}: {e['reason']}" for e in manifest["not_collected"][:10])))
        results = CollectResults(
            zip=str(evidence.out), files=len(manifest["files"]), bytes=sum(f["size"] for f in manifest["files"]),
            redaction_map=str(evidence.redaction_map) if evidence.redaction_map else None,
            messages=evidence.messages, manifest={k: v for k, v in manifest.items() if k != "files"})
        return Analysis(results, findings)


COMMAND = CollectCommand()


def collect_with(system: ServerSystem, args: argparse.Namespace, ctx: RunContext,
                 check_args: tuple[str, ...] = ()) -> CommandRun:
    """The command's work on any system (the test double included); ``check_args`` are added to each `check`."""
    return run_command(CollectCommand(system, check_args), args, ctx)


def _gather(system: ServerSystem, args: argparse.Namespace, ctx: RunContext,
            check_args: tuple[str, ...]) -> CollectEvidence:
    from datetime import UTC, datetime

    from aadc_doctor import __version__
    from aadc_doctor.collect.gather import CollectOptions, collect

    if args.since is not None and args.since <= 0:
        raise UsageError(f"--since {args.since:g}: give a number of days above 0")
    if args.max_mb <= 0:
        raise UsageError(f"--max-mb {args.max_mb:g}: give a size above 0")
    now = datetime.now(UTC)
    out = Path(args.out) if args.out else Path(
        f"aadc-doctor-collect-{system.host_name()}-{now.strftime('%Y%m%dT%H%M%SZ')}.zip")
    if out.suffix.lower() != ".zip":
        raise UsageError(f"--out {out}: the collection is a .zip file")
    if out.exists() and out.is_dir():
        raise UsageError(f"--out {out}: is a folder")
    runner = None if args.no_check else (lambda profile: run_check_in_process(profile, check_args))
    options = CollectOptions(since_days=args.since, max_mb=args.max_mb, redact=args.redact, now=now,
                             tool_version=__version__, check_runner=runner)
    try:
        result = collect(system, options, out)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
    map_path = None
    if args.redact:
        import json

        map_path = out.with_name(out.stem + ".redaction-map.json")
        map_path.write_text(json.dumps({"note": "original (lower case) -> pseudonym; keep this file on the server",
                                        "mapping": result.mapping}, indent=2) + "\n", encoding="utf-8")
    for message in result.messages:
        ctx.stderr.write(f"aadc-doctor: {message}\n")
    return CollectEvidence(out, result.manifest, tuple(result.messages), map_path)


def run_check_in_process(profile: str, extra: tuple[str, ...] = ()) -> JsonObject:
    """`check --profile P --json`, run by this process with the command's own code (no second Python).

    JSON by nature: the report is saved as ``check-<profile>.json`` in the zip and read back by `analyze`, exactly
    the envelope `check --json` prints (render/json_report.report_data), not a shape of ours to type again."""
    import io

    from aadc_doctor.render.json_report import report_data

    sink = io.StringIO()
    ctx = RunContext(json_mode=True, stdout=sink, stderr=sink, env={})
    return report_data(run_argv(["check", "--profile", profile, *extra], ctx).report)
