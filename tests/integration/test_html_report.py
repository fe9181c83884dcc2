"""`--output report.html` opened in real headless Chromium (issue 15 item 4): for check through a real Squid,
proxylog on a corpus log, pta trace and pta events on corpus files, analyze on a collected fixture server, explain,
and a report of hostile input. Each page renders with no console message, asks the network for nothing, shows every
finding id as an element id, and paints; a planted proxy password appears nowhere in the HTML."""

from __future__ import annotations

import argparse
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CORPUS, REPO_ROOT, CliRun
from tests.infra import SquidProxy, TlsOrigin
from tests.infra.chromium import ChromiumPage, open_in_chromium
from tests.infra.secret_scan import Planted, assert_no_secret

pytestmark = pytest.mark.integration

Runner = Callable[..., CliRun]
LOGIN = "login.microsoftonline.com"
PLANTED_PW = "HtmlCanary-pr0xy-Pw-2026"
PLANTED = [Planted(PLANTED_PW, ("canaryuser",), "proxy URL password")]
TODAY = "2026-12-05"


def _render(run_cli: Runner, tmp_path: Path, *args: str, codes: tuple[int, ...] = (0, 1),
            env: dict[str, str] | None = None) -> tuple[Path, dict[str, Any]]:
    """Run the command with --output report.html and --json; the page and the JSON report of the same run."""
    page = tmp_path / "report.html"
    run = run_cli(*args, "--output", str(page), "--json", env=env)
    assert run.code in codes, run.stderr
    return page, run.json()


def _assert_sound(page: Path, report: dict[str, Any]) -> ChromiumPage:
    opened = open_in_chromium(page)
    assert opened.console_messages == []
    assert opened.page_requests == []
    assert not opened.screenshot_is_blank
    ids = [f["id"] for f in report["findings"]]
    for finding_id in ids:
        assert f'id="{finding_id}"' in opened.dom, finding_id
        assert f'<code class="fid">{finding_id}</code>' in opened.dom
    assert "<script" not in page.read_text("utf-8")
    return opened


def test_check_through_squid_403_and_ok(run_cli: Runner, squid: SquidProxy, tls_origin: TlsOrigin,
                                        lab_ca_file: Path, tmp_path: Path) -> None:
    proxy = squid.url("open", "canaryuser", PLANTED_PW)
    page, report = _render(run_cli, tmp_path, "check", "--proxy", proxy, "--lab-microsoft-root", str(lab_ca_file),
                           "--endpoint", tls_origin.url(LOGIN, "/common/oauth2/token"),
                           "--endpoint", tls_origin.url("denied.example.com"))
    assert [f["id"] for f in report["findings"]] == ["proxy-forbidden"]
    opened = _assert_sound(page, report)
    dom = opened.dom
    rows = re.findall(r"<tr>(.*?)</tr>", dom.split('class="data matrix"', 1)[1], flags=re.S)
    login = next(r for r in rows if f"{LOGIN}:" in r)
    denied = next(r for r in rows if "denied.example.com:" in r)
    assert 'class="badge ok">ok<' in login and login.count('class="layer pass"') == 5
    assert '<a href="#proxy-forbidden"><span class="badge fail">proxy_forbidden</span></a>' in denied  # to its fix
    assert re.search(r'class="layer fail">403 \d+ ms<', denied) and denied.count('class="layer unreached"') == 2
    assert "canaryuser:***@127.0.0.1" in dom
    assert_no_secret(PLANTED, [page])


def test_proxylog_on_the_corpus_reference_log(run_cli: Runner, tmp_path: Path) -> None:
    """The documentation's reference proxy log of a wizard run: every phase reached, nothing denied."""
    page, report = _render(run_cli, tmp_path, "proxylog",
                           str(CORPUS / "logs" / "aadconnect" / "msdocs_reference_proxy_log.tsv"))
    dom = _assert_sound(page, report).dom
    phases = dom.split("Phases of the wizard", 1)[1].split("</table>", 1)[0]
    assert phases.count('class="badge ok">complete<') == 3
    assert "No denial was logged." in dom and "bba800-anchor.microsoftonline.com:443" in dom


def test_proxylog_with_denials(run_cli: Runner, tmp_path: Path) -> None:
    log = REPO_ROOT / "tests" / "fixtures" / "proxylog" / "tmg_w3c_webproxy.log"
    page, report = _render(run_cli, tmp_path, "proxylog", str(log))
    assert report["findings"]
    dom = _assert_sound(page, report).dom
    timeline = dom.split("Denial timeline", 1)[1].split("</svg>", 1)[0]
    assert timeline.count("<rect") == 2 and "provisioningapi.microsoftonline.com:443 (1)" in timeline
    assert "Connect to Microsoft Entra ID" in dom and 'class="badge warn">partial<' in dom


def test_pta_trace_on_corpus_traces(run_cli: Runner, tmp_path: Path) -> None:
    traces = sorted((CORPUS / "logs" / "pta").glob("*.log"))
    page, report = _render(run_cli, tmp_path, "pta", "trace", *map(str, traces))
    dom = _assert_sound(page, report).dom
    assert "No dated failure to draw" in dom  # the documentation's trace lines carry no time
    reasons = dom.split("Failures by reason", 1)[1].split("</table>", 1)[0]
    assert "ERROR_INVALID_LOGON_HOURS" in reasons and "80012" in reasons


def test_pta_events_on_corpus_evtx(run_cli: Runner, tmp_path: Path) -> None:
    evtx = CORPUS / "evtx" / "e2m_ID4625_bruteforce_valid_users.evtx"
    page, report = _render(run_cli, tmp_path, "pta", "events", str(evtx))
    dom = _assert_sound(page, report).dom
    heat = dom.split("Failures by hour and reason", 1)[1].split("</svg>", 1)[0]
    assert "1326 Wrong user name or password (5)" in heat and "5 failures" in heat


def test_analyze_on_a_collected_fixture_server(run_cli: Runner, tmp_path: Path) -> None:
    from tests.fixtures.server import fake_server

    from aadc_doctor.commands import RunContext
    from aadc_doctor.commands.collect import collect_with

    system = fake_server.build(tmp_path / "server", with_admin_log=False)
    bundle = tmp_path / "case.zip"
    collect_with(system, argparse.Namespace(out=str(bundle), since=None, max_mb=200.0, redact=False, no_check=False),
                 RunContext(json_mode=True, stdout=io.StringIO(), stderr=io.StringIO(), env={}),
                 check_args=("--proxy", "http://127.0.0.1:9", "--timeout", "2"))
    page, report = _render(run_cli, tmp_path, "analyze", str(bundle), "--today", TODAY)
    assert len(report["findings"]) > 10
    dom = _assert_sound(page, report).dom
    manifest = dom.split("Collected on the server (manifest.json)", 1)[1]
    assert "AADC01" in manifest and re.search(r"<code>[0-9a-f]{64}</code>", manifest)
    assert "collected/registry/uninstall.reg" in manifest
    assert re.search(r'<a href="#connect-version-sync-stopped">connect-version-sync-stopped</a>', dom)
    # the PTA analyser drawn as `pta` draws it: failures by hour × reason from the agent's trace logs
    pta = dom.split("pta: the analyser", 1)[1].split("</details>", 1)[0]
    heat = pta.split("Failures by hour and reason", 1)[1].split("</svg>", 1)[0]
    rows = {int(code): int(count.replace(",", "")) for code, count in
            re.findall(r'<text x="4"[^>]*>(\d+) [^<]*\(([\d,]+)\)</text>', heat)}
    results = next(a["results"] for a in report["results"]["analysers"] if a["name"] == "pta")
    assert sum(rows.values()) == sum(hour["count"] for hour in results["by_hour"]) > 0  # every dated failure drawn
    assert set(rows) <= {r["reason"] for r in results["by_reason"]} and {1326, 1328} <= set(rows)
    assert re.search(r"<rect[^>]*><title>1326 Wrong user name or password, [0-9-]+ [0-9:]+ (\(\+\d+ h\) )?UTC: "
                     r"\d+ failures?</title></rect>", heat)
    assert "Failures by reason" in pta and "Failed PTA requests, latest first" in pta


def test_analyze_on_a_plain_server_folder(run_cli: Runner, tmp_path: Path) -> None:
    from tests.fixtures.server import fake_server

    fake_server.build(tmp_path / "server", with_admin_log=False)
    page, report = _render(run_cli, tmp_path, "analyze", str(tmp_path / "server"), "--today", TODAY)
    dom = _assert_sound(page, report).dom
    assert "No manifest.json: a plain copy of the server" in dom
    analysers = dom.split("<h3>Analysers</h3>", 1)[1].split("</table>", 1)[0]
    assert analysers.count('class="badge ok">ok<') >= 3 and 'class="badge skip">skipped<' in analysers


def test_explain(run_cli: Runner, tmp_path: Path) -> None:
    page, report = _render(run_cli, tmp_path, "explain", "1328", "AADSTS80001", "407")
    dom = _assert_sound(page, report).dom
    assert "ERROR_INVALID_LOGON_HOURS" in dom and "OnPremiseStoreIsNotAvailable" in dom


def test_demo(run_cli: Runner, tmp_path: Path) -> None:
    page, report = _render(run_cli, tmp_path, "demo", "--scenario", "url-not-opened")
    dom = _assert_sound(page, report).dom
    assert "1 of 1 diagnosed as expected" in dom and 'class="badge fail">proxy_forbidden<' in dom
    assert "<code>proxy-forbidden</code>" in dom


def test_a_hostile_log_renders_as_text(run_cli: Runner, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        "1454502729.123 45 10.0.5.20 TCP_DENIED/403 3900 CONNECT login.microsoftonline.com:443 - HIER_NONE/- -\n"
        "1454502731.123 </style><script>console.error('pwned')</script><img src=http://evil.example/x.png> "
        "<style>body{display:none}</style> microsoftonline.com\n"
        "1454502732.123 45 10.0.5.20 TCP_DENIED/403 3900 CONNECT login.microsoftonline.com:443 - HIER_NONE/- -\n")
    page, report = _render(run_cli, tmp_path, "proxylog", str(log))
    opened = _assert_sound(page, report)
    assert "</style><script>console.error('pwned')</script>" in _visible_text(opened.dom)
    assert not any("pwned" in m for m in opened.console_messages)


def _visible_text(dom: str) -> str:
    """The DOM's text as a reader sees it (tags removed, entities decoded)."""
    import html

    body = dom.split("<body", 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", "", body))
