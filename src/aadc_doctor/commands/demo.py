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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aadc_doctor.commands import CommandResult, RunContext
from aadc_doctor.errors import ExitCode, RunIncomplete, UsageError
from aadc_doctor.model import Finding, Report, Severity

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.lab.lab import Lab
    from aadc_doctor.lab.scenarios import Scenario, Verdict

HELP = "run check and account against the built-in local lab (no internet, no root) and judge each diagnosis"
RENDER_SUMMARY = False
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

def run(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    from aadc_doctor.lab.scenarios import SCENARIOS, select

    if args.list:
        return CommandResult(Report(command="demo", results={
            "listed": True, "scenarios": [_describe(s) for s in SCENARIOS.values()]}))
    try:
        chosen = select(args.scenario)
    except ValueError as exc:
        raise UsageError(str(exc), hint="list them with 'aadc-doctor demo --list'") from None

    from aadc_doctor.lab.lab import Lab

    started = time.monotonic()
    lab = Lab()
    try:
        lab.start()
    except OSError as exc:
        lab.close()
        raise RunIncomplete(f"the lab could not start on 127.0.0.1: {exc.strerror or exc}") from None
    entries: list[dict[str, Any]] = []
    try:
        if not ctx.json_mode:
            _print_lab(lab, ctx.console)
        for number, scenario in enumerate(chosen, 1):
            if not ctx.json_mode:
                _print_header(number, len(chosen), scenario, ctx.console)
            begun = time.monotonic()
            entry = _run_account(scenario, lab, ctx) if scenario.kind == "account" else _run_check(scenario, lab, ctx)
            entry["elapsed_s"] = round(time.monotonic() - begun, 2)
            entries.append(entry)
    finally:
        lab.close()

    report = Report(command="demo")
    report.findings.extend(
        Finding(id="demo-unexpected-diagnosis", severity=Severity.ERROR,
                title=f"Scenario {e['name']}: the diagnosis is not the expected one",
                detail="; ".join(e["problems"]), subject=e["name"],
                remedy="This is a defect of aadc-doctor (or of the lab); rerun with --json and report it.")
        for e in entries if not e["passed"])
    report.results = {"scenarios": entries, "wall_s": round(time.monotonic() - started, 2)}
    passed = all(e["passed"] for e in entries)
    return CommandResult(report, exit_code=ExitCode.OK if passed else ExitCode.PROBLEMS_FOUND)


def _describe(scenario: Scenario) -> dict[str, Any]:
    return {"name": scenario.name, "title": scenario.title, "setup": scenario.setup, "mirrors": scenario.mirrors,
            "kind": scenario.kind, "expected": _expected(scenario)}


def _expected(scenario: Scenario) -> dict[str, Any]:
    if scenario.kind == "account":
        return {"runs": [{"upn": a.upn, "args": list(a.args), "exit_code": a.exit_code, "findings": list(a.findings)}
                         for a in scenario.accounts]}
    return scenario.expected.to_dict()


def _sub_context(ctx: RunContext, extra_env: dict[str, str]) -> RunContext:
    """The context `check` runs in: the demo's consoles, an environment without the machine's proxy settings."""
    env = {k: v for k, v in ctx.env.items() if k not in PROXY_ENV_VARS}
    env.update(extra_env)
    return RunContext(json_mode=ctx.json_mode, stdout=ctx.stdout, stderr=ctx.stderr, env=env, given_console=ctx.console,
                      given_err_console=ctx.err_console, debug=ctx.debug, interactive=False)


def _run_check(scenario: Scenario, lab: Lab, ctx: RunContext) -> dict[str, Any]:
    from aadc_doctor import __version__
    from aadc_doctor.cli import build_parser
    from aadc_doctor.commands import check
    from aadc_doctor.lab.scenarios import judge
    from aadc_doctor.model import utc_now
    from aadc_doctor.render.terminal import render_findings

    assert scenario.prepare is not None
    plan = scenario.prepare(lab)
    if not ctx.json_mode:
        ctx.console.print(_command_line(plan.argv, lab), style="bold", markup=False, highlight=False)
    args = build_parser().parse_args(list(plan.argv))
    result = check.run(args, _sub_context(ctx, dict(plan.env)))
    report = result.report
    report.finished_at = report.finished_at or utc_now()
    report_dict = report.to_dict(__version__)
    verdict = judge(scenario.expected, report_dict, plan.verify_lab(lab) if plan.verify_lab else None)
    if not ctx.json_mode:
        check.render(report, ctx.console)
        render_findings(report.findings, ctx.console)
        _print_verdict(verdict, ctx.console)
    return {"name": scenario.name, "title": scenario.title, "kind": scenario.kind, "argv": list(plan.argv),
            "expected": _expected(scenario), "got": verdict.got, "passed": verdict.passed,
            "problems": list(verdict.problems), "report": report_dict}


def _run_account(scenario: Scenario, lab: Lab, ctx: RunContext) -> dict[str, Any]:
    """The tenant emulator's runs against one emulator, each writing its JSON report into the lab dir."""
    import json

    from aadc_doctor.lab.scenarios import judge_account
    from aadc_doctor.lab.tenant.demo import ACCOUNT_DEMO_SCENARIOS, run_account_scenario
    from aadc_doctor.lab.tenant.server import start_tenant_emulator

    runs: list[dict[str, Any]] = []
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
            runs.append({"title": account.title, "upn": account.upn, "args": list(account.args), "got": verdict.got,
                         "passed": verdict.passed, "report": report})
    got = {"runs": [r["got"] for r in runs]}
    return {"name": scenario.name, "title": scenario.title, "kind": scenario.kind, "argv": [],
            "expected": _expected(scenario), "got": got, "passed": not problems, "problems": problems,
            "report": None, "runs": runs}


def _read_json(path: Path, json_module: Any) -> dict[str, Any] | None:
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


def render(report: Report, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    results = report.results
    scenarios = list(results.get("scenarios") or ())
    if results.get("listed"):
        table = Table(title="Demo scenarios", title_justify="left", show_lines=False)
        for column in ("Scenario", "What the lab sets up", "Mirrors"):
            table.add_column(column, overflow="fold")
        for s in scenarios:
            table.add_row(s["name"], s["setup"], s["mirrors"])
        console.print(table)
        return
    console.print()
    table = Table(title="Demo summary", title_justify="left")
    table.add_column("Scenario", no_wrap=True)
    table.add_column("Expected", overflow="fold")
    table.add_column("Got", overflow="fold")
    table.add_column("Result", no_wrap=True)
    for s in scenarios:
        table.add_row(s["name"], _expected_text(s), _got_text(s),
                      Text("PASS", style="bold green") if s["passed"] else Text("FAIL", style="bold red"))
    console.print(table)
    passed = sum(1 for s in scenarios if s["passed"])
    wall = results.get("wall_s")
    style = "bold green" if passed == len(scenarios) else "bold red"
    console.print(Text(f"{passed} of {len(scenarios)} scenarios diagnosed as expected in {wall} s", style=style))


def _expected_text(entry: dict[str, Any]) -> str:
    expected = entry["expected"]
    if entry["kind"] == "account":
        ids = sorted({fid for run in expected["runs"] for fid in run["findings"]})
        return f"{len(expected['runs'])} account runs; " + ", ".join(ids)
    parts = [f"{host}: {outcome}" for host, outcome in expected["hosts"].items()]
    parts += [f"{kind}: {outcome}" for kind, outcome in expected["kinds"].items()]
    parts.append(f"{'others' if parts else 'all'}: {expected['others']}")
    if expected["findings"]:
        parts.append(", ".join(expected["findings"]))
    return "; ".join(parts)


def _got_text(entry: dict[str, Any]) -> str:
    got = entry["got"]
    if entry["kind"] == "account":
        ids = sorted({fid for run in got["runs"] for fid in run["findings"]})
        return f"{len(got['runs'])} runs; " + ", ".join(ids)
    counts: dict[str, int] = {}
    for outcome in got["outcomes"].values():
        counts[outcome] = counts.get(outcome, 0) + 1
    text = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    return text + ("; " + ", ".join(got["findings"]) if got["findings"] else "")
