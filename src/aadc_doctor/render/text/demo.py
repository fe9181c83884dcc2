"""`demo` on a terminal: the scenario list, or the summary table after the scenarios printed as they ran."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.results import DemoListResults, DemoResults, DemoScenarioRun

SUMMARY = False


def render(results: DemoResults | DemoListResults, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    from aadc_doctor.results import DemoListResults

    if isinstance(results, DemoListResults):
        table = Table(title="Demo scenarios", title_justify="left", show_lines=False)
        for column in ("Scenario", "What the lab sets up", "Mirrors"):
            table.add_column(column, overflow="fold")
        for s in results.scenarios:
            table.add_row(s.name, s.setup, s.mirrors)
        console.print(table)
        return
    console.print()
    table = Table(title="Demo summary", title_justify="left")
    table.add_column("Scenario", no_wrap=True)
    table.add_column("Expected", overflow="fold")
    table.add_column("Got", overflow="fold")
    table.add_column("Result", no_wrap=True)
    for run in results.scenarios:
        table.add_row(run.name, _expected_text(run), _got_text(run),
                      Text("PASS", style="bold green") if run.passed else Text("FAIL", style="bold red"))
    console.print(table)
    passed = sum(1 for s in results.scenarios if s.passed)
    style = "bold green" if passed == len(results.scenarios) else "bold red"
    console.print(Text(f"{passed} of {len(results.scenarios)} scenarios diagnosed as expected in {results.wall_s} s",
                       style=style))


def _expected_text(run: DemoScenarioRun) -> str:
    expected = run.expected
    if run.kind == "account":
        ids = sorted({fid for r in expected["runs"] for fid in r["findings"]})
        return f"{len(expected['runs'])} account runs; " + ", ".join(ids)
    parts = [f"{host}: {outcome}" for host, outcome in expected["hosts"].items()]
    parts += [f"{kind}: {outcome}" for kind, outcome in expected["kinds"].items()]
    parts.append(f"{'others' if parts else 'all'}: {expected['others']}")
    if expected["findings"]:
        parts.append(", ".join(expected["findings"]))
    return "; ".join(parts)


def _got_text(run: DemoScenarioRun) -> str:
    got = run.got
    if run.kind == "account":
        ids = sorted({fid for r in got["runs"] for fid in r["findings"]})
        return f"{len(got['runs'])} runs; " + ", ".join(ids)
    counts: dict[str, int] = {}
    for outcome in got["outcomes"].values():
        counts[outcome] = counts.get(outcome, 0) + 1
    text = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    return text + ("; " + ", ".join(got["findings"]) if got["findings"] else "")
