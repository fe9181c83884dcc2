"""The command pipeline: `analyse` is pure (a test builds the evidence, no probe runs), `run_command` wraps it."""

from __future__ import annotations

import argparse
import io

from aadc_doctor.commands import RunContext
from aadc_doctor.commands.check import COMMAND as CHECK
from aadc_doctor.commands.check import CheckEvidence
from aadc_doctor.knowledge.connectivity_findings import load_connectivity_knowledge
from aadc_doctor.knowledge.endpoints import load_catalog
from aadc_doctor.net.outcome import EndpointResult, EndpointTarget, Outcome, Phase
from aadc_doctor.net.proxy_auth import ProxyAuthSettings
from aadc_doctor.pipeline import Analysis, BaseCommand, run_command
from aadc_doctor.proxyconfig.model import ProxyConfig


def test_check_analyses_built_evidence_without_any_io() -> None:
    target = EndpointTarget("https://login.microsoftonline.com/", "login.microsoftonline.com", 443, "https", "/",
                            "https", ("sync",))
    denied = EndpointResult(target, Outcome.PROXY_FORBIDDEN, Phase.CONNECT, via_proxy="http://proxy:8080",
                            connect_status=403, error="the proxy answered CONNECT with 403 Forbidden")
    evidence = CheckEvidence(
        proxy=ProxyConfig(source="--proxy", url="http://proxy:8080"), auth=ProxyAuthSettings(mode="auto"),
        profiles=("sync",), timeout_s=10.0, concurrency=32, catalog=load_catalog(),
        knowledge=load_connectivity_knowledge(), machine_config=None, configured_elsewhere=(), endpoints=(denied,),
        not_probed=(), connect_to=(), connect_to_unused=(), wall_ms=12.0)
    analysis = CHECK.analyse(evidence)
    assert [f.id for f in analysis.findings] == ["proxy-forbidden"]
    assert analysis.results.endpoints == (denied,) and analysis.results.proxy.description.startswith("http://proxy")


class _Echo(BaseCommand):
    name = "echo"

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> str:
        return str(args.word)

    def analyse(self, evidence: str) -> Analysis[str]:
        return Analysis(evidence.upper())


def test_run_command_wraps_the_analysis_in_the_report() -> None:
    ctx = RunContext(json_mode=True, stdout=io.StringIO(), stderr=io.StringIO(), env={})
    run = run_command(_Echo(), argparse.Namespace(word="hi"), ctx)
    assert (run.report.command, run.report.results, run.report.findings, run.exit_code) == ("echo", "HI", [], None)
    assert run.report.finished_at >= run.report.started_at
