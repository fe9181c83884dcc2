"""`aadc-doctor helpmsg N`: the Windows message for a Win32 error, exactly as `net helpmsg N` prints it.

The PTA article tells admins to run `net helpmsg` on the Reason code of a failed sign-in; this does
the same on any machine, offline, from the official message table.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aadc_doctor.commands import RunContext
from aadc_doctor.errors import ExitCode, UsageError
from aadc_doctor.pipeline import Analysis, BaseCommand

if TYPE_CHECKING:
    from aadc_doctor.results import HelpmsgResults

HELP = "print the Windows message for Win32 error N, as 'net helpmsg N' does"
_NUMBER = re.compile(r"[+-]?(?:0x[0-9a-f]+|[0-9]+)", re.IGNORECASE)  # ASCII digits: \d also takes "٣"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Print the message Windows has for Win32 error N, as 'net helpmsg N' does: a blank line, the message, "
        "a blank line; FormatMessage inserts (%1) show as *** like net does (--raw keeps them). N is decimal "
        "like net helpmsg, or hexadecimal with 0x (0x530); an HRESULT 0x8007xxxx or a logon NTSTATUS "
        "(0xC000006F) is reduced to its Win32 code, with a note on stderr. Exit 0 when N has a message, "
        "1 when it has none (net's 'is not a valid message number' text), 2 when N is not a number."
    )
    parser.add_argument("number", metavar="N", help="Win32 error number: 1328, or 0x530")
    parser.add_argument("--raw", action="store_true",
                        help="print the FormatMessage text unchanged (keep %%1 inserts instead of ***)")


def parse_number(text: str) -> int:
    """A Win32 code from decimal or 0x hex; negative int32 values become their unsigned form."""
    token = text.strip()
    if not _NUMBER.fullmatch(token):
        hint = "for AADSTS codes, names or pasted text use 'aadc-doctor explain'"
        raise UsageError(f"helpmsg: {text!r} is not a number (give a decimal like 1328 or hex like 0x530)", hint=hint)
    if len(token) > 20:  # a 32-bit code has at most 10 digits (or 0x and 8); int() refuses over 4,300 digits
        raise UsageError(f"helpmsg: {token[:20]}... ({len(token)} characters) is out of range for a Windows error "
                         "code (32 bits)")
    value = int(token, 0) if token.lower().lstrip("+-").startswith("0x") else int(token, 10)
    if not -(2**31) <= value <= 0xFFFFFFFF:
        raise UsageError(f"helpmsg: {text} is out of range for a Windows error code (32 bits)")
    return value & 0xFFFFFFFF


@dataclass(frozen=True)
class HelpmsgEvidence:
    input: str
    value: int
    raw: bool


class HelpmsgCommand(BaseCommand):
    name = "helpmsg"
    help = HELP

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> HelpmsgEvidence:
        evidence = HelpmsgEvidence(args.number, parse_number(args.number), bool(args.raw))
        if not ctx.json_mode:  # net helpmsg's own lines go to stderr on a terminal
            results = self.analyse(evidence).results
            if results.note:
                ctx.stderr.write(results.note + "\n")
            if not results.found:
                ctx.stderr.write(results.text)
        return evidence

    def analyse(self, evidence: HelpmsgEvidence) -> Analysis[HelpmsgResults]:
        from aadc_doctor.explain.netmsg import helpmsg
        from aadc_doctor.results import HelpmsgResults  # on use: the results module declares every command's shape

        value = code = evidence.value
        note = None
        if value > 0xFFFF:
            from aadc_doctor.knowledge.codes import ntstatus_to_win32  # only here: it is slower to import

            mapped = ntstatus_to_win32(value)
            if mapped is not None:
                code = mapped
                kind = "HRESULT" if value & 0xFFFF0000 == 0x80070000 else "NTSTATUS"
                note = f"note: 0x{value:08X} is an {kind}; showing its Win32 code {mapped}"
        answer = helpmsg(code, raw=evidence.raw)
        results = HelpmsgResults(input=evidence.input, code=answer.code, hex=f"0x{answer.code:X}", found=answer.found,
                                 name=answer.name, message=answer.message, text=answer.text, note=note)
        return Analysis(results, exit_code=ExitCode.OK if answer.found else ExitCode.PROBLEMS_FOUND)


COMMAND = HelpmsgCommand()
