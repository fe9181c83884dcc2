"""`aadc-doctor demo`: start the built-in lab and run the real `check` (and `account`) through its scenarios.

The lab impersonates the Microsoft endpoints on 127.0.0.1 with real TLS, puts a Squid-like proxy (allow/deny,
Basic sign-in, TLS inspection) and an internal DNS in front of them, and each scenario reproduces one situation
of the articles. `check` runs in-process with a command line built by the real parser, so what the demo shows
is exactly what the command prints. Exit 0 when every diagnosis is the expected one, 1 otherwise.
"""

from __future__ import annotations

import argparse
import io
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aadc_doctor.commands import RunContext
from aadc_doctor.errors import ExitCode, RunIncomplete, UsageError
from aadc_doctor.pipeline import Analysis, BaseCommand, run_argv
from aadc_doctor.results import (
    DemoAccountRun,
    DemoListResults,
    DemoResults,
    DemoScenario,
    DemoScenarioRun,
    JsonObject,
)

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.lab.lab import Lab
    from aadc_doctor.lab.scenarios import Scenario, Verdict

HELP = "run check and account against the built-in local lab (no internet, no root) and judge each diagnosis"
PROXY_ENV_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
                  "all_proxy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Start a local lab on 127.0.0.1 (the Microsoft endpoints impersonated with certificates from a lab CA, a "
        "forward proxy with allow/deny rules, Basic sign-in and TLS inspection, an internal DNS server) and run "
        "`check` through each scenario: healthy, a URL not opened, proxy sign-in required, a direct call without "
        "proxy, TLS inspection, plus the `account` checks against a tenant emulator. Prints each diagnosis and "
        "whether it is the expected one. Needs no internet and no administrator rights."
    )
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help="run only this scenario (repeatable); see --list")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")


# -- run ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoEvidence:
    listed: tuple[Scenario, ...] | None  # --list: the scenarios, not run
    runs: tuple[DemoScenarioRun, ...] = ()
    wall_s: float = 0.0


class DemoCommand(BaseCommand):
    name = "demo"
    help = HELP

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> DemoEvidence:
        from aadc_doctor.lab.scenarios import SCENARIOS, select

        if args.list:
            return DemoEvidence(tuple(SCENARIOS.values()))
        try:
            chosen = select(args.scenario)
        except ValueError as exc:
            raise UsageError(str(exc), hint="list them with 'aadc-doctor demo --list'") from None
        return _run_scenarios(chosen, ctx)

    def analyse(self, evidence: DemoEvidence) -> Analysis[DemoResults | DemoListResults]:
        if evidence.listed is not None:
            return Analysis(DemoListResults(tuple(_describe(s) for s in evidence.listed)))
        from aadc_doctor.knowledge.findings import run_findings

        unexpected = run_findings()["demo-unexpected-diagnosis"]
        findings = [unexpected.render(e.name, name=e.name, problems="; ".join(e.problems))
                    for e in evidence.runs if not e.passed]
        passed = all(e.passed for e in evidence.runs)
        return Analysis(DemoResults(evidence.runs, round(evidence.wall_s, 2)), findings,
                        exit_code=ExitCode.OK if passed else ExitCode.PROBLEMS_FOUND)


COMMAND = DemoCommand()


def _run_scenarios(chosen: Sequence[Scenario], ctx: RunContext) -> DemoEvidence:
    from aadc_doctor.lab.lab import Lab

    started = time.monotonic()
    lab = Lab()
    try:
        lab.start()
    except OSError as exc:
        lab.close()
        raise RunIncomplete(f"the lab could not start on 127.0.0.1: {exc.strerror or exc}") from None
    entries: list[DemoScenarioRun] = []
    try:
        if not ctx.json_mode:
            _print_lab(lab, ctx.console)
        for number, scenario in enumerate(chosen, 1):
            if not ctx.json_mode:
                _print_header(number, len(chosen), scenario, ctx.console)
            begun = time.monotonic()
            entry = _run_account(scenario, lab, ctx) if scenario.kind == "account" else _run_check(scenario, lab, ctx)
            entries.append(replace(entry, elapsed_s=round(time.monotonic() - begun, 2)))
    finally:
        lab.close()
    return DemoEvidence(None, tuple(entries), time.monotonic() - started)


def _describe(scenario: Scenario) -> DemoScenario:
    return DemoScenario(scenario.name, scenario.title, scenario.setup, scenario.mirrors, scenario.kind,
                        _expected(scenario))


def _expected(scenario: Scenario) -> JsonObject:
    if scenario.kind == "account":
        return {"runs": [{"upn": a.upn, "args": list(a.args), "exit_code": a.exit_code, "findings": list(a.findings)}
                         for a in scenario.accounts]}
    from aadc_doctor.json_data import to_json_data

    data: JsonObject = to_json_data(scenario.expected)
    return data


def _sub_context(ctx: RunContext, extra_env: dict[str, str]) -> RunContext:
    """The context `check` runs in: the demo's consoles, an environment without the machine's proxy settings."""
    env = {k: v for k, v in ctx.env.items() if k not in PROXY_ENV_VARS}
    env.update(extra_env)
    return RunContext(json_mode=ctx.json_mode, stdout=ctx.stdout, stderr=ctx.stderr, env=env, given_console=ctx.console,
                      given_err_console=ctx.err_console, debug=ctx.debug, interactive=False)


def _run_check(scenario: Scenario, lab: Lab, ctx: RunContext) -> DemoScenarioRun:
    from aadc_doctor.lab.scenarios import judge
    from aadc_doctor.render.json_report import report_data

    assert scenario.prepare is not None
    plan = scenario.prepare(lab)
    if not ctx.json_mode:
        ctx.console.print(_command_line(plan.argv, lab), style="bold", markup=False, highlight=False)
    report = run_argv(plan.argv, _sub_context(ctx, dict(plan.env))).report
    report_dict = report_data(report)
    verdict = judge(scenario.expected, report_dict, plan.verify_lab(lab) if plan.verify_lab else None)
    if not ctx.json_mode:
        from aadc_doctor.render.terminal import render_findings
        from aadc_doctor.render.text import render_results

        render_results(report, ctx.console)
        render_findings(report.findings, ctx.console)
        _print_verdict(verdict, ctx.console)
    return DemoScenarioRun(name=scenario.name, title=scenario.title, kind=scenario.kind, argv=tuple(plan.argv),
                           expected=_expected(scenario), got=verdict.got, passed=verdict.passed,
                           problems=tuple(verdict.problems), report=report_dict)


def _run_account(scenario: Scenario, lab: Lab, ctx: RunContext) -> DemoScenarioRun:
    """The tenant emulator's runs against one emulator, each writing its JSON report into the lab dir."""
    import json

    from aadc_doctor.lab.scenarios import judge_account
    from aadc_doctor.lab.tenant.demo import ACCOUNT_DEMO_SCENARIOS, run_account_scenario
    from aadc_doctor.lab.tenant.server import start_tenant_emulator

    runs: list[DemoAccountRun] = []
    problems: list[str] = []
    env = _sub_context(ctx, {}).env
    with start_tenant_emulator() as emulator:
        for index, account in enumerate(ACCOUNT_DEMO_SCENARIOS):
            output = lab.workdir / f"account-{index}.json"
            sink = io.StringIO()
            stdout = sink if ctx.json_mode else ctx.stdout
            stderr = sink if ctx.json_mode else ctx.stderr
            exit_code = run_account_scenario(emulator, account, stdout=stdout, stderr=stderr, env=env,
                                             extra_args=["--output", str(output)])
            report = _read_json(output, json)
            expectation = next((a for a in scenario.accounts if a.upn == account.upn and a.args == account.args),
                               None)
            verdict = judge_account(expectation, exit_code, report, account.upn)
            if not ctx.json_mode:
                _print_verdict(verdict, ctx.console)
            problems += verdict.problems
            runs.append(DemoAccountRun(account.title, account.upn, tuple(account.args), verdict.got, verdict.passed,
                                       report))
    return DemoScenarioRun(name=scenario.name, title=scenario.title, kind=scenario.kind, argv=(),
                           expected=_expected(scenario), got={"runs": [r.got for r in runs]}, passed=not problems,
                           problems=tuple(problems), report=None, runs=tuple(runs))


def _read_json(path: Path, json_module: Any) -> JsonObject | None:
    """A report `account` saved with --output, read back: JSON by nature (the verdict compares JSON reports)."""
    try:
        data = json_module.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# -- human output -------------------------------------------------------------------------------------------

def _lab_variable(platform: str = sys.platform) -> str:
    """How the lab folder is named in a printed command line: a variable of the admin's shell."""
    return "%LAB%" if platform == "win32" else "$LAB"


def _command_line(argv: Sequence[str], lab: Lab, platform: str = sys.platform) -> str:
    """The command as its user would type it: cmd's quoting and launcher on Windows, a POSIX shell's elsewhere."""
    if platform == "win32":
        text = "> aadc-doctor.cmd " + subprocess.list2cmdline(list(argv))
    else:
        text = "$ aadc-doctor " + " ".join(shlex.quote(a) for a in argv)
    return text.replace(str(lab.workdir), _lab_variable(platform))


def _print_lab(lab: Lab, console: Console) -> None:
    from rich.text import Text

    console.print(Text("aadc-doctor lab", style="bold"))
    console.print(Text(f"  origin: the Microsoft endpoints on https://127.0.0.1:{lab.origin.https_port} and "
                       f"http://127.0.0.1:{lab.origin.http_port} (certificates from 'aadc-doctor Lab Root CA')"))
    console.print(Text(f"  DNS:    127.0.0.1:{lab.dns.port} (internal DNS: no internet names)"))
    console.print(Text(f"  files:  {_lab_variable()} = {lab.workdir} (CA bundle lab-root-ca.pem, proxy access.log)"))


def _print_header(number: int, total: int, scenario: Scenario, console: Console) -> None:
    from rich.rule import Rule
    from rich.text import Text

    console.print()
    console.print(Rule(Text(f"{number}/{total} {scenario.name}: {scenario.title}", style="bold"), align="left"))
    console.print(Text("Lab:     ", style="bold") + Text(scenario.setup))
    console.print(Text("Mirrors: ", style="bold") + Text(scenario.mirrors))


def _print_verdict(verdict: Verdict, console: Console) -> None:
    from rich.text import Text

    if verdict.passed:
        console.print(Text("Diagnosis as expected: ", style="bold green") + Text(verdict.describe()))
    else:
        console.print(Text("Diagnosis NOT as expected: ", style="bold red") + Text("; ".join(verdict.problems)))
