"""`aadc-doctor explain TEXT...`: what an error code, an error name or a pasted log line means, offline.

Accepts AADSTS codes, Win32 codes (decimal or 0x hex), NTSTATUS (0xC000006F, C000006F, negative
int32), Kerberos failure codes, WinHTTP/WinINet 12xxx, HTTP 403/407, wizard/ADAL/PTA error names,
or whole pasted text: every code in it is explained, the likeliest reading of an ambiguous number
first. Text without any code is matched by relevance.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aadc_doctor.commands import RunContext
from aadc_doctor.errors import ExitCode, InputError
from aadc_doctor.pipeline import Analysis, BaseCommand

if TYPE_CHECKING:
    from aadc_doctor.results import ExplainResults

HELP = "explain AADSTS, Win32, NTSTATUS, Kerberos, HTTP codes, wizard/ADAL/PTA errors, or pasted log text"
MAX_STDIN_BYTES = 4 * 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Explain error codes and error names offline: AADSTS80001, 80001, 1328, 0x530, 0xC000006F, C000006F, "
        "-1073741681, 407, 'Proxy Authentication Required', InvalidGrant, 'invalid grant', AzureRoleMissing, "
        "or a whole pasted line (a PTA trace line with Reason: '1328', an Invoke-WebRequest error, an AADSTS "
        "message with its trace and correlation ids). Each argument is read on its own; '-' reads text from "
        "standard input. Prefix a number with its table to force one reading (win32:403, http:403, "
        "aadsts:50126, kerberos:0x18). Exit 0 when something matched, 1 when nothing did (with suggestions), "
        "2 when the input is empty."
    )
    parser.add_argument("text", nargs="*", metavar="TEXT", help="codes, error names or pasted text ('-' = stdin)")


def _read_stdin() -> str:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return sys.stdin.read(MAX_STDIN_BYTES)
    data: bytes = stream.read(MAX_STDIN_BYTES)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def gather_texts(args: list[str]) -> list[str]:
    """The texts to explain: each argument, or standard input for '-'; NULs (binary junk) become spaces."""
    texts = [_read_stdin() if arg == "-" else arg for arg in args]
    cleaned = [t.replace("\x00", " ") for t in texts]
    if not any(t.strip() for t in cleaned):
        raise InputError("explain: nothing to explain", hint="give a code (1328, AADSTS80001, 0xC000006F), "
                         "an error name (InvalidGrant) or pasted text; '-' reads standard input")
    return [t for t in cleaned if t.strip()]


@dataclass(frozen=True)
class ExplainEvidence:
    texts: tuple[str, ...]


class ExplainCommand(BaseCommand):
    name = "explain"
    help = HELP

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> ExplainEvidence:  # noqa: ARG002 (Command)
        return ExplainEvidence(tuple(gather_texts(list(args.text))))

    def analyse(self, evidence: ExplainEvidence) -> Analysis[ExplainResults]:
        from aadc_doctor.explain.lookup import explain_all
        from aadc_doctor.explain.request_ids import find_request_ids
        from aadc_doctor.results import ExplainResults  # on use: the results module declares every command's shape

        answer = explain_all(list(evidence.texts))
        results = ExplainResults(
            entries=answer.readings,
            matched_by="relevance" if answer.by_relevance else ("code" if answer.matched else "none"),
            unknown=tuple(answer.unknown), suggestions=tuple(answer.suggestions),
            request_ids=tuple(ids for ids in map(find_request_ids, evidence.texts) if ids))
        return Analysis(results, exit_code=ExitCode.OK if answer.matched else ExitCode.PROBLEMS_FOUND)


COMMAND = ExplainCommand()
