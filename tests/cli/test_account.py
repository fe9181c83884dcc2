"""`aadc-doctor account` at the command line: help, usage errors, and a light import."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest


def test_help_lists_the_options(run_cli: Callable[..., Any], capsys: Any) -> None:
    result = run_cli("account", "--help")
    assert result.code == 0
    shown = result.stdout + capsys.readouterr().out  # argparse prints help to sys.stdout
    for option in ("--password-env", "--no-sign-in", "--this-server", "--proxy", "--resolve", "--connect-to",
                   "--ca-file", "--timeout"):
        assert option in shown


def test_upn_is_required(run_cli: Callable[..., Any]) -> None:
    result = run_cli("account")
    assert result.code == 2
    assert "Traceback" not in result.stderr


def test_malformed_resolve_is_one_line(run_cli: Callable[..., Any]) -> None:
    result = run_cli("account", "admin@contoso.com", "--direct", "--resolve", "login.microsoftonline.com:443")
    assert result.code == 2
    assert result.stderr.startswith("aadc-doctor: error: --resolve")


def test_unreadable_ca_file_is_a_usage_error(run_cli: Callable[..., Any], tmp_path: Any) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    result = run_cli("account", "admin@contoso.com", "--direct", "--ca-file", str(bad))
    assert result.code == 2
    assert "--ca-file" in result.stderr


def test_proxy_password_variable_must_exist(run_cli: Callable[..., Any]) -> None:
    result = run_cli("account", "admin@contoso.com", "--proxy", "http://127.0.0.1:3128", "--proxy-user", "u",
                     "--proxy-password-env", "NOT_SET_ANYWHERE_Q")
    assert result.code == 2


def test_proxy_user_without_password_is_refused_when_not_interactive(run_cli: Callable[..., Any]) -> None:
    result = run_cli("account", "admin@contoso.com", "--proxy", "http://127.0.0.1:3128", "--proxy-user", "u")
    assert result.code == 2
    assert "--proxy-password-env" in result.stderr


def test_command_module_imports_no_network_library() -> None:
    code = ("import sys, aadc_doctor.commands.account; "
            "print(sorted(m for m in ('requests', 'msal', 'urllib3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_upn_whose_domain_is_not_a_dns_name_is_refused(run_cli: Callable[..., Any]) -> None:
    """'admin@contoso.com/../x' was accepted and sent to the user realm endpoint."""
    for upn in ("admin@contoso.com/../x", "admin@contoso.com?x=1", "admin@contoso..com", "admin@.com",
                "admin@contoso.com:443"):
        result = run_cli("account", upn, "--direct", "--no-sign-in", "--timeout", "1")
        assert result.code == 2, upn
        assert result.stderr.startswith("aadc-doctor: error: ") and "not a user principal name" in result.stderr


def test_timeouts_must_be_finite_numbers_of_seconds(run_cli: Callable[..., Any]) -> None:
    """float() accepts nan and inf; they passed the 'positive' check and reached the sockets and MSAL's loop."""
    for option, value in (("--timeout", "nan"), ("--timeout", "inf"), ("--device-code-timeout", "nan"),
                          ("--device-code-timeout", "1e300"), ("--timeout", "0")):
        result = run_cli("account", "admin@contoso.com", "--direct", option, value)
        assert result.code == 2, (option, value)
        assert result.stderr.startswith(f"aadc-doctor: error: {option} "), result.stderr


def test_a_pac_file_names_the_proxy_it_picks_for_the_realm_lookup(run_cli: Callable[..., Any], tmp_path: Any) -> None:
    """With --pac the Proxy line said 'direct (pac:FILE)' while the PAC sent the requests to a proxy."""
    pac = tmp_path / "proxy.pac"
    pac.write_text('function FindProxyForURL(url, host) { return "PROXY 127.0.0.1:9"; }\n')
    result = run_cli("account", "admin@contoso.com", "--pac", str(pac), "--timeout", "2", "--no-sign-in",
                     env={"COLUMNS": "400"})
    assert f"Proxy         http://127.0.0.1:9 for login.microsoftonline.com (PAC {pac})" in result.stdout
    assert "direct" not in result.stdout.splitlines()[1]
    doc = run_cli("account", "admin@contoso.com", "--pac", str(pac), "--timeout", "2", "--json").json()
    assert doc["results"]["proxy"]["login_proxy"] == "http://127.0.0.1:9"


def test_a_malformed_environment_proxy_is_one_line_naming_the_variable(run_cli: Callable[..., Any]) -> None:
    result = run_cli("account", "admin@contoso.com", "--no-sign-in",
                     env={"HTTPS_PROXY": "http://alice:s3cr3t-pw@proxy.contoso.com:abc"})
    assert result.code == 2, result.stderr
    assert result.stderr.startswith("aadc-doctor: error: HTTPS_PROXY http://alice:***@proxy.contoso.com:abc: "
                                    "not a valid host:port")
    assert "s3cr3t-pw" not in result.stdout + result.stderr


@pytest.mark.parametrize("address, problem", [("fabrikamproxy:8080", "has no http:// prefix"),
                                              ("http://[bad", "is not an http://host:port URL")])
def test_a_machine_config_proxy_dotnet_cannot_use_is_named_before_the_wizard_runs(
        run_cli: Callable[..., Any], tmp_path: Any, address: str, problem: str) -> None:
    machine_config = tmp_path / "machine.config"
    machine_config.write_text("<configuration><system.net><defaultProxy>"
                              f'<proxy proxyaddress="{address}" /></defaultProxy></system.net></configuration>',
                              encoding="utf-8")
    result = run_cli("account", "admin@contoso.com", "--no-sign-in", "--timeout", "2", "--json",
                     "--machine-config", str(machine_config))
    assert result.code == 1, result.stderr
    findings = result.json()["findings"]
    assert findings[0]["id"] == "machine-config-proxy-address-invalid" and problem in findings[0]["title"]


@pytest.fixture
def refused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_an_empty_proxy_never_falls_back_to_the_environment(run_cli: Callable[..., Any], refused_port: int) -> None:
    """Regression (issue 16): `account --proxy "$PROXY"` with PROXY unset silently used HTTPS_PROXY, which `check`
    refuses; both now refuse the empty value."""
    for command in (["account", "admin@contoso.com", "--no-sign-in"], ["check"]):
        result = run_cli(*command, "--proxy", "", "--timeout", "1",
                         env={"HTTPS_PROXY": f"http://127.0.0.1:{refused_port}"})
        assert result.code == 2 and result.stdout == ""
        assert result.stderr.startswith("aadc-doctor: error: --proxy: the value is empty")
        assert "--direct" in result.stderr


@pytest.mark.parametrize("command", [["account", "admin@contoso.com", "--no-sign-in"], ["check"]])
def test_one_password_rule_a_terminal_is_asked_even_for_json(command: list[str], refused_port: int) -> None:
    """Regression (issue 16): `account` asked for the proxy password only when stdout was a terminal and --json was
    not given, `check` whenever stdin was a terminal. Both now ask when there is a terminal to ask on."""
    import io

    from aadc_doctor.commands import RunContext
    from aadc_doctor.pipeline import run_argv
    from aadc_doctor.render.json_report import report_to_json

    asked: list[str] = []

    def terminal(prompt: str) -> str:
        asked.append(prompt)
        return "s3cret-Proxy-pw"

    ctx = RunContext(json_mode=True, stdout=io.StringIO(), stderr=io.StringIO(), env={}, ask_password=terminal)
    run = run_argv([*command, "--proxy", f"http://127.0.0.1:{refused_port}", "--proxy-user", "alice",
                    "--timeout", "1", "--json"], ctx)
    assert asked == ["Proxy password for alice: "]
    assert "s3cret-Proxy-pw" not in report_to_json(run.report)


@pytest.mark.parametrize("command", [["account", "admin@contoso.com", "--no-sign-in"], ["check"]])
def test_one_password_rule_the_variable_must_be_set_not_empty_and_need_a_user(
        run_cli: Callable[..., Any], command: list[str], refused_port: int) -> None:
    """Regression (issue 16): `account` took an empty --proxy-password-env and ignored one without --proxy-user."""
    proxy = ["--proxy", f"http://127.0.0.1:{refused_port}", "--timeout", "1"]
    empty = run_cli(*command, *proxy, "--proxy-user", "alice", "--proxy-password-env", "PW", env={"PW": ""})
    assert empty.code == 2 and "--proxy-password-env PW: that variable is empty" in empty.stderr
    no_user = run_cli(*command, *proxy, "--proxy-password-env", "PW", env={"PW": "x"})
    assert no_user.code == 2 and "--proxy-password-env needs --proxy-user" in no_user.stderr
    unset = run_cli(*command, *proxy, "--proxy-user", "alice", "--proxy-password-env", "NOT_SET_ANYWHERE_Q")
    assert unset.code == 2 and "NOT_SET_ANYWHERE_Q: that variable is not set" in unset.stderr
