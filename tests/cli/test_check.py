"""`aadc-doctor check` at the command line: usage errors in one line, the JSON contract, no secret in output."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.conftest import CliRun

from aadc_doctor.errors import ExitCode

if TYPE_CHECKING:
    from aadc_doctor.net.outcome import EndpointResult

Runner = Callable[..., CliRun]


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port bound but not listening on 127.0.0.1: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("args, message", [
    (["--resolve", "login.microsoftonline.com:443"], "--resolve"),
    (["--dns-server", "dns.contoso.com"], "--dns-server"),
    (["--endpoint", "ftp://login.microsoftonline.com/"], "--endpoint"),
    (["--timeout", "0"], "--timeout"),
    (["--timeout", "-1"], "--timeout -1: expected seconds, more than 0"),
    (["--timeout", "nan"], "--timeout nan: expected seconds"),
    (["--timeout", "inf"], "at most 600"),
    (["--timeout", "1e300"], "at most 600"),
    (["--timeout", "ten"], "invalid float value"),
    (["--concurrency", "0"], "--concurrency"),
    (["--proxy-password-env", "PW"], "needs --proxy-user"),
    (["--proxy", "http://proxy.contoso.com:8080", "--proxy-user", "alice"], "no password given"),
    (["--proxy", "http://proxy.contoso.com:8080", "--proxy-user", "alice", "--proxy-password-env", "UNSET_VAR_X"],
     "not set"),
    (["--ca-file", "/nonexistent/ca.pem"], "--ca-file"),
    (["--profile", "everything"], "invalid choice"),
    (["--tenant-id", "contoso.evil.com"], "--tenant-id"),
    (["--tenant-id", "contoso"], "expected the tenant id (a GUID"),
    (["--tenant-id", "contoso.onmicrosoft.com"], "expected the tenant id (a GUID"),
    (["--connect-to", "login.microsoftonline.com:443"], "--connect-to"),
    (["--proxy", ""], "--proxy: the value is empty"),
    (["--proxy", "  "], "--proxy: the value is empty"),
    (["--pac", ""], "--pac: the value is empty"),
    (["--machine-config", ""], "--machine-config: the value is empty"),
    (["--ca-file", ""], "--ca-file: the value is empty"),
    (["--dns-server", ""], "--dns-server: the value is empty"),
    (["--proxy-user", ""], "--proxy-user: the value is empty"),
    (["--endpoint", "https://login.microsoftonline.com:99999/"], "port 99999 is out of range"),
    (["--endpoint", "https://login.microsoftonline.com:0/"], "port 0 is out of range"),
    (["--endpoint", "https://login.microsoftonline.com:https/"], "'https' is not a port number"),
    (["--endpoint", "https://exa mple.com/"], "'exa mple.com' is not a valid host name"),
    (["--endpoint", "https://login..microsoftonline.com/"], "is not a valid host name"),
    (["--connect-to", "login.microsoftonline.com:443:127.0.0.1:https"], "is not a port number"),
])
def test_usage_errors_are_one_line_exit_2(run_cli: Runner, args: list[str], message: str) -> None:
    run = run_cli("check", *args)
    assert run.code == ExitCode.USAGE_OR_INPUT, run.stderr
    assert run.stderr.startswith("aadc-doctor: error: ") and message in run.stderr.splitlines()[0]
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_json_contract_for_a_refused_endpoint(run_cli: Runner, refused_port: int) -> None:
    run = run_cli("check", "--json", "--direct", "--endpoint", f"https://127.0.0.1:{refused_port}/")
    assert run.code == ExitCode.PROBLEMS_FOUND
    report = run.json()
    assert (report["schema_version"], report["command"]) == (1, "check")
    assert report["results"]["proxy"]["source"] == "--direct" and report["results"]["proxy"]["url"] is None
    [row] = report["results"]["endpoints"]
    for key in ("url", "host", "port", "profile", "outcome", "http_status", "connect_status", "phases", "tls", "error",
                "rule", "proxy_authenticate", "crl"):
        assert key in row
    assert set(row["phases"]) == {"dns_ms", "tcp_ms", "connect_ms", "tls_ms", "http_ms"}
    assert (row["outcome"], row["profile"], row["phases"]["tls_ms"]) == ("tcp_refused", "custom", None)
    assert report["findings"][0]["id"] == "tcp-refused"


def test_proxy_password_never_reaches_the_output(run_cli: Runner, refused_port: int) -> None:
    proxy = f"http://alice:hunter2-secret@127.0.0.1:{refused_port}"
    for extra in ([], ["--json"]):
        run = run_cli("check", *extra, "--proxy", proxy, "--endpoint", "https://login.microsoftonline.com/")
        assert run.code == ExitCode.PROBLEMS_FOUND
        assert "hunter2-secret" not in run.stdout + run.stderr
    report = run.json()
    assert report["results"]["proxy"]["url"] == f"http://alice:***@127.0.0.1:{refused_port}"
    assert report["results"]["auth"]["user"] == "alice"


def test_environment_proxy_is_used_and_named(run_cli: Runner, refused_port: int) -> None:
    run = run_cli("check", "--json", "--endpoint", "https://login.microsoftonline.com/",
                  env={"HTTPS_PROXY": f"http://127.0.0.1:{refused_port}"})
    report = run.json()
    assert report["results"]["proxy"]["source"] == "environment"
    assert report["results"]["endpoints"][0]["outcome"] == "proxy_unreachable"


def test_text_output_has_proxy_table_and_findings(run_cli: Runner, refused_port: int) -> None:
    run = run_cli("check", "--direct", "--endpoint", f"https://127.0.0.1:{refused_port}/", "--endpoint",
                  f"http://127.0.0.1:{refused_port}/x.crl")
    assert run.code == ExitCode.PROBLEMS_FOUND
    out = run.stdout
    assert out.startswith("Proxy: direct (--direct)")
    assert "tcp_refused" in out and "0 of 2 endpoints ok" in out
    assert "Unable to connect to the remote server" in out and "no-direct-connectivity" in out


def test_profile_and_endpoint_together(run_cli: Runner, refused_port: int) -> None:
    """--endpoint adds to the profile; a stale seed row is listed as not probed."""
    run = run_cli("check", "--json", "--proxy", f"http://127.0.0.1:{refused_port}", "--profile", "sync",
                  "--endpoint", "https://contoso.example/", "--timeout", "2")
    report = run.json()
    hosts = {e["host"] for e in report["results"]["endpoints"]}
    assert "contoso.example" in hosts and "adminwebservice.microsoftonline.com" in hosts
    assert {e["outcome"] for e in report["results"]["endpoints"]} == {"proxy_unreachable"}
    assert [f["id"] for f in report["findings"]] == ["proxy-unreachable"]
    assert any(s["rule"] == "crl-entrust-com" for s in report["results"]["not_probed"])


@pytest.mark.parametrize("typed, meant", [
    ("login.microsoftonline.com", "https://login.microsoftonline.com/"),
    ("login.microsoftonline.com:443", "https://login.microsoftonline.com:443/"),
    ("crl.microsoft.com/pki/mscorp/crl/x.crl", "http://crl.microsoft.com/pki/mscorp/crl/x.crl"),
    ("ocsp.msocsp.com:80", "http://ocsp.msocsp.com:80/"),
])
def test_endpoint_without_scheme_suggests_the_url(run_cli: Runner, typed: str, meant: str) -> None:
    """Admins type host names; the error shows the exact URL to pass instead."""
    run = run_cli("check", "--direct", "--endpoint", typed)
    assert run.code == ExitCode.USAGE_OR_INPUT and "Traceback" not in run.stderr
    assert f"--endpoint {meant}" in run.stderr


def test_table_legend_comes_before_the_rows_and_names_every_layer(run_cli: Runner, refused_port: int) -> None:
    """A first-time reader meets '0/2/-/-/-' right under the header: the legend must be above it, not at the end."""
    run = run_cli("check", "--direct", "--endpoint", f"https://127.0.0.1:{refused_port}/")
    lines = run.stdout.splitlines()
    legend = next(i for i, line in enumerate(lines) if line.startswith("ms: "))
    header = next(i for i, line in enumerate(lines) if line.startswith("Endpoint"))
    assert legend < header
    assert "dns/tcp/CONNECT/tls/http" in lines[legend] and "not used" in lines[legend]
    assert any(line.startswith("CONNECT/HTTP: the proxy's answer to CONNECT") for line in lines[:header])


def _row(host: str, outcome: str, *, pattern: str | None = None, phases: dict[str, float] | None = None,
         tls: dict[str, str] | None = None, **fields: object) -> EndpointResult:
    """An endpoint result as the probes make it, for the renderer tests."""
    from aadc_doctor.net.outcome import EndpointResult, EndpointTarget, Outcome, PhaseTimings, TlsInfo

    target = EndpointTarget(f"https://{host}/", host, 443, "https", "/", "https", ("sync",),
                            "row" if pattern else None, pattern)
    return EndpointResult(target, Outcome(outcome), phases=PhaseTimings(**(phases or {})),
                          tls=TlsInfo(**tls) if tls else None, **fields)  # type: ignore[arg-type]


def test_ok_row_detail_labels_the_issuer() -> None:
    from aadc_doctor.render.text.check import _detail

    row = _row("login.microsoftonline.com", "ok", tls={"version": "TLSv1.3", "issuer_organization": "DigiCert Inc"},
               proxy_auth_scheme="NTLM", http_status=200)
    assert _detail(row) == "TLSv1.3, issuer DigiCert Inc, proxy sign-in NTLM"


def test_a_long_tenant_host_does_not_push_the_detail_off_the_table() -> None:
    """--profile pta --tenant-id makes 70-character host names; the Detail column must still show at 120 columns."""
    import io

    from aadc_doctor.render.terminal import make_console
    from aadc_doctor.render.text.check import build_table

    host = "72f988bf-86f1-41af-91ab-2d7cd011db47.pta.bootstrap.his.msappproxy.net"
    row = _row(host, "tls_failure", pattern="*.msappproxy.net", connect_status=200,
               phases={"dns_ms": 0, "tcp_ms": 5}, error="TLS handshake with the endpoint failed: unexpected eof")
    out = io.StringIO()
    make_console(out, {"COLUMNS": "120"}).print(build_table([row]))
    text = out.getvalue()
    assert "TLS handshake" in text and "unexpected eof" in text.replace("\n", " ")
    assert max(len(line) for line in text.splitlines()) <= 120


def test_an_empty_proxy_never_falls_back_to_another_source(run_cli: Runner, refused_port: int) -> None:
    """`--proxy "$PROXY"` with PROXY unset used to probe through the environment's proxy (or directly)."""
    run = run_cli("check", "--proxy", "", "--endpoint", "https://login.microsoftonline.com/",
                  env={"HTTPS_PROXY": f"http://127.0.0.1:{refused_port}"})
    assert run.code == ExitCode.USAGE_OR_INPUT and run.stdout == ""
    assert "--direct" in run.stderr


def test_endpoint_labels_stay_whole_next_to_long_details() -> None:
    import io

    from aadc_doctor.render.terminal import make_console
    from aadc_doctor.render.text.check import build_table

    host = "secure.aadcdn.microsoftonline-p.com"
    row = _row(host, "proxy_auth_required", connect_status=407,
               error="Basic needs --proxy-user and a password: the proxy answered CONNECT with 407 Proxy "
                     "Authentication Required (ERR_CACHE_ACCESS_DENIED 0); it offers Basic")
    out = io.StringIO()
    make_console(out, {"COLUMNS": "120"}).print(build_table([row]))
    assert f"{host}:443" in out.getvalue()


def test_an_80_column_console_still_shows_every_detail(run_cli: Runner, refused_port: int) -> None:
    """At 80 columns the table had no room for Detail and rich cut it off: the cause vanished."""
    run = run_cli("check", "--direct", "--endpoint", f"https://secure.aadcdn.microsoftonline-p.com:{refused_port}/",
                  "--resolve", f"secure.aadcdn.microsoftonline-p.com:{refused_port}:127.0.0.1", env={"COLUMNS": "80"})
    out = run.stdout
    assert f"secure.aadcdn.microsoftonline-p.com:{refused_port}  tcp_refused" in out
    assert f"127.0.0.1:{refused_port} refused the connection" in out.split("Findings")[0]
    assert max(len(line) for line in out.splitlines()) <= 80


def test_no_detail_character_is_cropped() -> None:
    """With a min_width on the Endpoint column rich wrapped Detail one character wider than its column and the
    console cropped it: 'NXDOMAIN' showed as 'NXDOMAI'."""
    import io

    from aadc_doctor.render.terminal import make_console
    from aadc_doctor.render.text.check import build_table

    hosts = ["mscrl.microsoft.com", "management.core.windows.net", "secure.aadcdn.microsoftonline-p.com",
             "login.windows.net"]
    rows = [_row(h, "dns_failure", pattern="*.core.windows.net" if "core" in h else None, phases={"dns_ms": 15},
                 error=f"{h}: NXDOMAIN (the name does not exist) from 127.0.0.1:50234") for h in hosts]
    out = io.StringIO()
    make_console(out, {"COLUMNS": "120"}).print(build_table(rows))
    text = out.getvalue()
    assert text.count("NXDOMAIN") == 4 and not re.search(r"NXDOMAI(?!N)|\bnam(?!e)|\bexis(?!t)", text), text


def test_wide_columns_at_120_still_leave_the_detail_visible() -> None:
    """A 47-character host, proxy_auth_required and 4-digit layer times left rich no room for Detail at 120 columns
    (the piped default): the list layout takes over instead of dropping the cause."""
    import io

    from aadc_doctor.render.terminal import make_console
    from aadc_doctor.render.text.check import build_view

    row = _row("policykeyservice.aadconnecthealth.azure.com", "proxy_auth_required", connect_status=407,
               phases={"dns_ms": 5519, "tcp_ms": 1000, "connect_ms": 1000, "tls_ms": 1000, "http_ms": 1000},
               error="Basic needs --proxy-user and a password: the proxy answered CONNECT with 407")
    out = io.StringIO()
    make_console(out, {"COLUMNS": "120"}).print(build_view([row], width=120))
    assert "Basic needs --proxy-user" in out.getvalue()


def test_pac_run_says_which_route_the_script_chose(run_cli: Runner, refused_port: int, tmp_path: Path) -> None:
    pac = tmp_path / "wpad.dat"
    pac.write_text('function FindProxyForURL(url, host) { if (shExpMatch(host, "*.microsoftonline.com")) '
                   f'return "PROXY 127.0.0.1:{refused_port}"; return "DIRECT"; }}', encoding="utf-8")
    run = run_cli("check", "--pac", str(pac), "--timeout", "2", "--endpoint", "https://login.microsoftonline.com/",
                  "--endpoint", f"https://127.0.0.1:{refused_port}/")
    assert f"PAC chose: http://127.0.0.1:{refused_port} (1 endpoint), DIRECT (1 endpoint)" in run.stdout


def test_a_check_without_connect_to_does_not_load_requests(refused_port: int) -> None:
    """The --connect-to parser lives with the requests-based client; loading it costs ~0.1 s per run."""
    import subprocess
    import sys

    code = ("import sys, contextlib, io\nfrom aadc_doctor.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main(['check', '--direct', '--endpoint', 'https://127.0.0.1:{refused_port}/'])\n"
            "print('requests' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stdout + done.stderr


def test_not_probed_rows_are_listed_one_per_line(run_cli: Runner, refused_port: int) -> None:
    """One run-on line of nested parentheses was hard to read: 'Not probed: *.entrust.com:80 (seed-only row (2016
    article); today: ...), ...'."""
    run = run_cli("check", "--proxy", f"http://127.0.0.1:{refused_port}", "--profile", "sync", "--timeout", "1")
    lines = run.stdout.splitlines()
    start = lines.index("Not probed:")
    assert "  *.entrust.com:80  listed only in the 2016 article; today: *.entrust.net" in lines[start + 1:]


def test_no_proxy_bypass_shows_the_mixed_routes(run_cli: Runner, refused_port: int) -> None:
    """HTTPS_PROXY with NO_PROXY sends some endpoints direct: the output must say so, not only 'Proxy: ...'."""
    run = run_cli("check", "--timeout", "2", "--endpoint", "https://login.microsoftonline.com/",
                  "--endpoint", f"https://127.0.0.1:{refused_port}/",
                  env={"HTTPS_PROXY": f"http://127.0.0.1:{refused_port}", "NO_PROXY": "127.0.0.1"})
    assert f"Routes: http://127.0.0.1:{refused_port} (1 endpoint), DIRECT (1 endpoint)" in run.stdout


def test_help_says_what_a_bare_or_https_proxy_url_means() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "aadc_doctor", "check", "--help"], capture_output=True, text=True,
                          timeout=60)
    text = " ".join(done.stdout.split())
    assert "proxy:8080 alone means http://" in text and "https:// means TLS to the proxy itself" in text


def test_an_empty_password_variable_is_a_usage_error(run_cli: Runner) -> None:
    """`set PW=` (or an export that failed) left the variable empty: signing in with an empty password only earns a
    confusing 407."""
    run = run_cli("check", "--proxy", "http://proxy.contoso.com:8080", "--proxy-user", "alice",
                  "--proxy-password-env", "PW", env={"PW": ""})
    assert run.code == ExitCode.USAGE_OR_INPUT and "--proxy-password-env PW: that variable is empty" in run.stderr


def test_a_tenant_guid_in_braces_or_upper_case_is_accepted(run_cli: Runner, refused_port: int) -> None:
    run = run_cli("check", "--json", "--proxy", f"http://127.0.0.1:{refused_port}", "--profile", "pta",
                  "--timeout", "1", "--tenant-id", "{72F988BF-86F1-41AF-91AB-2D7CD011DB47}")
    hosts = {e["host"] for e in run.json()["results"]["endpoints"]}
    assert "72f988bf-86f1-41af-91ab-2d7cd011db47.registration.msappproxy.net" in hosts


def test_the_same_endpoint_typed_twice_is_probed_once(run_cli: Runner, refused_port: int) -> None:
    run = run_cli("check", "--json", "--direct", "--endpoint", f"https://127.0.0.1:{refused_port}/",
                  "--endpoint", f"HTTPS://127.0.0.1:{refused_port}", "--endpoint", f"https://127.0.0.1:{refused_port}/")
    assert len(run.json()["results"]["endpoints"]) == 1


def test_an_endpoint_a_current_row_probes_is_reported_under_that_row(run_cli: Runner, refused_port: int) -> None:
    """--endpoint https://graph.windows.net/ was filed under the 2016 seed row *.windows.net (its remedy then said
    'Allow *.windows.net'), though the profile run files the same URL under today's *.graph.windows.net."""
    run = run_cli("check", "--json", "--proxy", f"http://127.0.0.1:{refused_port}", "--timeout", "1",
                  "--endpoint", "https://graph.windows.net/")
    [row] = run.json()["results"]["endpoints"]
    assert row["rule"]["pattern"] == "*.graph.windows.net"


def test_a_run_under_a_second_reports_milliseconds_not_zero_seconds() -> None:
    """'19 of 19 endpoints ok in 0.0 s' read as if nothing was measured."""
    import io

    from aadc_doctor.proxyconfig.model import ProxyConfig
    from aadc_doctor.render.terminal import make_console
    from aadc_doctor.render.text.check import render
    from aadc_doctor.results import CheckAuth, CheckProxy, CheckResults

    buf = io.StringIO()
    results = CheckResults(CheckProxy(ProxyConfig(source="none")), CheckAuth("auto", None), ("sync",), 10.0, 32,
                           42.4, (), (), (), ())
    render(results, make_console(buf, {"NO_COLOR": "1"}))
    assert " in 42 ms" in buf.getvalue()
    assert "0.0 s" not in buf.getvalue()


@pytest.mark.parametrize("address, problem", [("127.0.0.1:{port}", "has no http:// prefix"),
                                              ("https://127.0.0.1:{port}", "uses https://")])
def test_a_machine_config_proxy_dotnet_cannot_use_is_an_error_even_when_probed(
        run_cli: Runner, refused_port: int, tmp_path: Path, address: str, problem: str) -> None:
    """The probe reads 'host:port' as http://host:port; .NET Framework does not, so the sync engine fails."""
    machine_config = tmp_path / "machine.config"
    machine_config.write_text(
        "<configuration><system.net><defaultProxy>"
        f'<proxy proxyaddress="{address.format(port=refused_port)}" /></defaultProxy></system.net></configuration>',
        encoding="utf-8")
    run = run_cli("check", "--json", "--machine-config", str(machine_config),
                  "--endpoint", "https://login.microsoftonline.com/")
    [finding] = [f for f in run.json()["findings"] if f["id"] == "machine-config-proxy-address-invalid"]
    assert finding["severity"] == "error" and problem in finding["title"]
    assert finding["subject"] == f"{machine_config}:1"


def test_a_machine_config_dotnet_rejects_is_named_by_check(run_cli: Runner, refused_port: int,
                                                           tmp_path: Path) -> None:
    machine_config = tmp_path / "machine.config"
    machine_config.write_text(
        "<configuration><system.net><defaultProxy>\n"
        f'<proxy proxyaddress="http://127.0.0.1:{refused_port}" bypassOnLocal="true" />\n'
        "</defaultProxy></system.net></configuration>", encoding="utf-8")
    run = run_cli("check", "--json", "--machine-config", str(machine_config),
                  "--endpoint", "https://login.microsoftonline.com/")
    ids = [f["id"] for f in run.json()["findings"]]
    assert "config-unrecognized-attribute" in ids


@pytest.mark.parametrize("value", ["http://alice:s3cr3t-pw@[::1", "http://alice:s3cr3t-pw@proxy.contoso.com:abc"])
def test_a_malformed_environment_proxy_is_one_line_naming_the_variable(run_cli: Runner, value: str) -> None:
    run = run_cli("check", "--endpoint", "https://login.microsoftonline.com/", env={"HTTPS_PROXY": value})
    assert run.code == ExitCode.USAGE_OR_INPUT, run.stderr
    assert run.stderr.startswith("aadc-doctor: error: HTTPS_PROXY http://alice:***@") and "not a valid host:port" \
        in run.stderr.splitlines()[0]
    assert "s3cr3t-pw" not in run.stdout + run.stderr


def test_the_live_table_fills_in_on_a_terminal(refused_port: int) -> None:
    """On a terminal the endpoint table is drawn while the probes run (render/text/check.LiveTable)."""
    import io

    from rich.console import Console

    from aadc_doctor.commands import RunContext
    from aadc_doctor.pipeline import run_argv

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    ctx = RunContext(json_mode=False, stdout=screen, stderr=io.StringIO(), env={}, given_console=console,
                     interactive=True)
    run = run_argv(["check", "--direct", "--endpoint", f"https://127.0.0.1:{refused_port}/"], ctx)
    [endpoint] = run.report.results.endpoints
    assert endpoint.outcome == "tcp_refused"
    assert "tcp_refused" in screen.getvalue()  # the row as the live table drew it
