"""`aadc-doctor proxy` end to end: the machine.config variants, exit codes, JSON shape, no secrets."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MC = FIXTURES / "machine_config"
EXE = MC / "exe_config"

Run = Callable[..., Any]


def finding_ids(result: Any) -> list[str]:
    return [f["id"] for f in result.json()["findings"]]


def test_valid_machine_config(run_cli: Run) -> None:
    result = run_cli("proxy", "--machine-config", str(MC / "valid.config"))
    assert result.code == 0, result.stderr
    assert "Proxy sources" in result.stdout and "Effective proxy per component" in result.stdout
    assert "http://fabrikamproxy:8080" in result.stdout
    assert "Restart the ADSync service after any edit of machine.config" in result.stdout
    assert "adsync-restart-needed" in result.stdout


def test_valid_json_shape(run_cli: Run) -> None:
    result = run_cli("proxy", "--machine-config", str(MC / "valid.config"), "--json")
    assert result.code == 0
    report = result.json()
    assert report["command"] == "proxy" and report["schema_version"] == 1
    sources = report["results"]["sources"]
    assert sources == [{
        "kind": "machine.config", "path": str(MC / "valid.config"), "declared": True, "line": 36, "enabled": True,
        "proxy": "http://fabrikamproxy:8080", "use_system_default": True, "bypass_on_local": True, "bypass": [],
        "use_default_credentials": False, "script_location": None, "auto_detect": False, "problems": [],
    }]
    effective = report["results"]["effective"]
    assert list(effective) == ["wizard", "sync", "pta-agent", "health-agent"]
    assert effective["sync"]["origin"] == "machine.config"
    assert effective["sync"]["proxy"]["url"] == "http://fabrikamproxy:8080"
    assert effective["health-agent"]["origin"] == "own" and effective["health-agent"]["proxy"] is None
    assert effective["pta-agent"]["runs_as"] == "NETWORK SERVICE"
    assert effective["pta-agent"]["reads"] == ["exe.config", "machine.config", "system"]
    assert finding_ids(result) == ["adsync-restart-needed", "health-agent-proxy-separate"]


def test_disabled(run_cli: Run) -> None:
    result = run_cli("proxy", "--machine-config", str(MC / "disabled.config"), "--json")
    assert result.code == 0  # a warning: exit 1 only with --fail-on warning
    assert "machine-config-proxy-disabled" in finding_ids(result)
    assert result.json()["results"]["effective"]["sync"]["proxy"]["url"] is None
    strict = run_cli("proxy", "--machine-config", str(MC / "disabled.config"), "--fail-on", "warning")
    assert strict.code == 1


def test_authenticated(run_cli: Run) -> None:
    result = run_cli("proxy", "--machine-config", str(MC / "authenticated.config"), "--json")
    ids = finding_ids(result)
    assert "machine-config-authenticated-proxy" in ids
    assert "pta-agent-behind-authenticating-proxy" in ids
    assert result.json()["results"]["effective"]["pta-agent"]["proxy"]["use_default_credentials"] is True


def test_bypass_list_covers_required_endpoints(run_cli: Run) -> None:
    result = run_cli("proxy", "--machine-config", str(MC / "bypass-list.config"), "--json")
    covers = [f for f in result.json()["findings"] if f["id"] == "bypass-covers-required-endpoint"]
    assert covers, finding_ids(result)
    assert all("microsoftonline\\.com" in f["title"] for f in covers)
    assert any("login.microsoftonline.com" in f["detail"] for f in covers)


def test_bypass_wildcard_is_an_error_exit_1(run_cli: Run) -> None:
    result = run_cli("proxy", "--machine-config", str(MC / "bypass-wildcard.config"))
    assert result.code == 1
    assert 'Bypass entry "*.fabrikam.local" is not a regular expression' in result.stdout


@pytest.mark.parametrize(("name", "message"), [
    ("malformed.config", "malformed XML at line 36, column 5: junk after document element"),
    ("truncated.config", "malformed XML at line"),
    ("billion-laughs.config", "refused at line 2: the file declares a DTD or entities"),
    ("external-entity.config", "refused at line 2: the file declares a DTD or entities"),
])
def test_bad_machine_configs_exit_2_with_one_line(run_cli: Run, name: str, message: str) -> None:
    result = run_cli("proxy", "--machine-config", str(MC / name))
    assert result.code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aadc-doctor: error: ")
    assert str(MC / name) in lines[0] and message in lines[0]
    assert "Traceback" not in result.stderr


def test_external_entity_content_never_appears(run_cli: Run) -> None:
    result = run_cli("proxy", "--machine-config", str(MC / "external-entity.config"), "--json")
    assert result.code == 2 and "root:" not in result.stdout + result.stderr


def test_exe_configs_and_winhttp(run_cli: Run) -> None:
    result = run_cli("proxy", "--machine-config", str(MC / "stock-no-proxy.config"),
                     "--exe-config", str(EXE / "miiserver.exe.config"),
                     "--exe-config", str(EXE / "AzureADConnectAuthenticationAgentService.exe.config"),
                     "--exe-config", str(EXE / "ApplicationProxyConnectorService.exe.config"),
                     "--winhttp", str(FIXTURES / "winhttp" / "proxy-bypass-utf16.txt"), "--json")
    assert result.code == 1  # winhttp-only-proxy is an error
    ids = finding_ids(result)
    for expected in ("machine-config-no-default-proxy", "proxy-only-in-miiserver-config",
                     "pta-agent-behind-authenticating-proxy", "exe-config-proxy-bypassed", "winhttp-only-proxy"):
        assert expected in ids
    effective = result.json()["results"]["effective"]
    assert effective["sync"]["origin"] == "exe.config"
    assert effective["wizard"]["origin"] == "system"  # the wizard never reads miiserver.exe.config
    assert effective["pta-agent"]["origin"] == "exe.config"
    assert effective["pta-agent"]["proxy"]["url"] == "http://contosoproxy.com:8080"
    assert effective["connector"]["proxy"]["url"] is None
    kinds = [s["kind"] for s in result.json()["results"]["sources"]]
    assert kinds == ["machine.config", "exe.config", "exe.config", "exe.config", "winhttp"]


def test_pac(run_cli: Run) -> None:
    result = run_cli("proxy", "--pac", str(FIXTURES / "pac" / "direct-microsoft.pac"), "--json")
    assert result.code == 0
    pac = result.json()["results"]["sources"][0]
    assert pac["kind"] == "pac"
    assert pac["samples"]["https://login.microsoftonline.com/"] is None
    assert pac["samples"]["http://mscrl.microsoft.com/"] == "http://fabrikamproxy:8080"
    assert "bypass-covers-required-endpoint" in finding_ids(result)
    broken = run_cli("proxy", "--pac", str(FIXTURES / "pac" / "broken.pac"))
    assert broken.code == 2 and "not a valid PAC file" in broken.stderr


def test_winhttp_advproxy_output(run_cli: Run) -> None:
    result = run_cli("proxy", "--winhttp", str(FIXTURES / "winhttp" / "advproxy-autoconfig-utf16.txt"), "--json")
    assert result.code == 0, result.stderr
    assert result.json()["results"]["sources"] == [{
        "kind": "winhttp", "path": str(FIXTURES / "winhttp" / "advproxy-autoconfig-utf16.txt"), "direct": True,
        "proxy": None, "bypass": [], "auto_config_url": "http://wpad.contoso.com/wpad.dat", "auto_detect": True}]
    text = run_cli("proxy", "--winhttp", str(FIXTURES / "winhttp" / "advproxy.txt"), env={"COLUMNS": "200"})
    assert "proxy.contoso.com:8080, bypass: <local>; *.contoso.com" in text.stdout
    auto = run_cli("proxy", "--winhttp", str(FIXTURES / "winhttp" / "advproxy-autoconfig-utf16.txt"),
                   env={"COLUMNS": "200"})
    assert "Direct access (no proxy server), PAC http://wpad.contoso.com/wpad.dat, auto-detect (WPAD)" in auto.stdout


def test_script_location_is_shown_as_the_pac_it_is(run_cli: Run) -> None:
    """Regression: scriptLocation with no proxyaddress showed 'IE settings of the account' and the effective proxy
    'direct'; .NET asks that PAC script first."""
    path = MC / "script-location.config"
    result = run_cli("proxy", "--machine-config", str(path), "--json")
    assert result.code == 0, result.stderr
    source = result.json()["results"]["sources"][0]
    assert (source["script_location"], source["auto_detect"]) == ("http://wpad.contoso.com/wpad.dat", False)
    sync = result.json()["results"]["effective"]["sync"]
    assert (sync["script_location"], sync["auto_detect"]) == ("http://wpad.contoso.com/wpad.dat", False)
    text = run_cli("proxy", "--machine-config", str(path), env={"COLUMNS": "250"}).stdout
    assert "scriptLocation http://wpad.contoso.com/wpad.dat (PAC), useDefaultCredentials" in text
    assert "IE settings" not in text and "direct" not in text
    rows = [line.split("│") for line in text.splitlines() if line.count("│") == 6]
    assert {r[1].strip(): r[4].strip() for r in rows}["Sync engine (ADSync)"] == "PAC http://wpad.contoso.com/wpad.dat"


def test_auto_detect_with_a_static_proxy(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "machine.config"
    path.write_text('<configuration><system.net><defaultProxy><proxy autoDetect="True" usesystemdefault="False" '
                    'proxyaddress="http://proxy:8080"/></defaultProxy></system.net></configuration>')
    text = run_cli("proxy", "--machine-config", str(path), env={"COLUMNS": "250"}).stdout
    assert "autoDetect (WPAD), http://proxy:8080" in text
    rows = [line.split("│") for line in text.splitlines() if line.count("│") == 6]
    assert {r[1].strip(): r[4].strip() for r in rows}["Sync engine (ADSync)"] == "WPAD (auto-detect), else http://proxy:8080"


def test_two_exe_configs_for_one_component_is_a_usage_error(run_cli: Run) -> None:
    """Regression: the second silently won, and the first one's findings were still reported."""
    first, second = EXE / "miiserver.exe.config", MC / "valid.config"
    result = run_cli("proxy", "--exe-config", str(first), "--exe-config", f"sync={second}")
    assert result.code == 2
    assert result.stderr.splitlines()[0] == (f"aadc-doctor: error: --exe-config: two files for the Sync engine "
                                             f"(ADSync) ({first} and {second}); a component reads one .exe.config")


def test_proxy_auth_column_says_what_the_setting_offers(run_cli: Run) -> None:
    """Regression: the table said 'sends credentials' for useDefaultCredentials (it only answers a 407) and showed
    raw tokens ('unsupported', 'no-basic')."""
    result = run_cli("proxy", "--machine-config", str(MC / "authenticated.config"), "--exe-config",
                     str(EXE / "AzureADConnectAuthenticationAgentService.exe.config"), env={"COLUMNS": "250"})
    assert result.code == 0, result.stderr
    assert "sends credentials" not in result.stdout and "no-basic" not in result.stdout
    rows = {line.split("│")[1].strip(): line.split("│")[5].strip() for line in result.stdout.splitlines()
            if line.count("│") == 6}
    assert rows["Sync engine (ADSync)"] == "supported; useDefaultCredentials"
    assert rows["PTA agent"] == "not supported; useDefaultCredentials"
    assert rows["Health agent"] == "not HTTP Basic"


def test_bypass_finding_names_the_file_and_line_that_adds_the_entry(run_cli: Run, tmp_path: Path) -> None:
    """Regression: the subject was the internal source label ('machine.config:<path>', even for an entry the PTA
    agent inherits from machine.config), and the title read 'the wizard and PowerShell and the Sync engine'."""
    machine = tmp_path / "machine.config"
    machine.write_text("""<?xml version="1.0" encoding="UTF-8" ?>\r
<configuration>\r
    <system.net>\r
        <defaultProxy enabled="true" useDefaultCredentials="true">\r
            <proxy usesystemdefault="true" proxyaddress="http://proxy.contoso.com:8080" bypassonlocal="true" />\r
            <bypasslist>\r
                <add address=".*\\.contoso\\.com" />\r
                <add address=".*\\.microsoftonline\\.com" />\r
            </bypasslist>\r
        </defaultProxy>\r
    </system.net>\r
</configuration>\r
""", encoding="utf-8")
    pta = EXE / "AzureADConnectAuthenticationAgentService.exe.config"
    result = run_cli("proxy", "--machine-config", str(machine), "--exe-config", str(pta), "--json")
    covers = [f for f in result.json()["findings"] if f["id"] == "bypass-covers-required-endpoint"]
    assert [(f["title"], f["subject"]) for f in covers] == [
        ('Bypass entry ".*\\.microsoftonline\\.com" sends required URLs direct for the Installation wizard and '
         "PowerShell, and the Sync engine (ADSync)", f"{machine}:8"),
        ('Bypass entry ".*\\.microsoftonline\\.com" sends required URLs direct for the PTA agent', f"{machine}:8"),
    ]


PAC_LIMIT_S = 1.0
# the PAC worker's start-up: a new interpreter importing dukpy; spawning Windows CPython (under Wine in the Windows
# lane, measured 1.5-3.5 s on a loaded 2-CPU runner) is slower than a Linux start
WORKER_START_S = 6.0 if sys.platform == "win32" else 1.5


@pytest.fixture
def short_pac_limit(monkeypatch: pytest.MonkeyPatch) -> float:
    from aadc_doctor.proxyconfig import pac

    monkeypatch.setattr(pac, "PAC_TIMEOUT_S", PAC_LIMIT_S)
    return PAC_LIMIT_S


@pytest.mark.parametrize("command", [
    ("proxy",),
    ("check", "--endpoint", "https://login.microsoftonline.com/", "--timeout", "2"),
])
def test_endless_pac_exits_2_within_the_limit(run_cli: Run, short_pac_limit: float, command: tuple[str, ...]) -> None:
    pac = FIXTURES / "pac" / "endless-loop.pac"
    started = time.monotonic()
    result = run_cli(*command, "--pac", str(pac))
    assert time.monotonic() - started < short_pac_limit + WORKER_START_S  # the limit plus the worker's start-up
    assert result.code == 2
    assert result.stderr.strip() == (
        f"aadc-doctor: error: {pac}: the PAC script did not answer FindProxyForURL for "
        "https://login.microsoftonline.com/ within 1 s "
        "(an endless loop, or slow DNS in dnsResolve/isInNet/isResolvable)")


def test_pac_endless_at_load_exits_2(run_cli: Run, short_pac_limit: float) -> None:
    result = run_cli("proxy", "--pac", str(FIXTURES / "pac" / "endless-loop-at-load.pac"))
    assert result.code == 2
    assert "did not load and answer a first FindProxyForURL call within 1 s" in result.stderr


@pytest.mark.parametrize("command", [
    ("proxy",),
    ("check", "--endpoint", "https://login.microsoftonline.com/", "--timeout", "2"),
])
def test_throwing_pac_exits_2_with_the_script_message(run_cli: Run, command: tuple[str, ...]) -> None:
    pac = FIXTURES / "pac" / "throws.pac"
    result = run_cli(*command, "--pac", str(pac))
    assert result.code == 2
    assert result.stderr.strip() == (
        f"aadc-doctor: error: {pac}: FindProxyForURL failed for https://login.microsoftonline.com/: "
        "Error: no proxy rule for login.microsoftonline.com")


def test_environment_password_is_never_printed(run_cli: Run) -> None:
    env = {"HTTPS_PROXY": "http://alice:TopSecret42@envproxy:3128", "NO_PROXY": ".fabrikam.local"}
    for extra in ((), ("--json",)):
        result = run_cli("proxy", *extra, env=env)
        assert result.code == 0
        assert "TopSecret42" not in result.stdout + result.stderr
        assert "envproxy:3128" in result.stdout


def test_nothing_to_audit_is_a_usage_error(run_cli: Run) -> None:
    result = run_cli("proxy")
    assert result.code == 2
    assert "nothing to audit" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--exe-config", "web.config"), "cannot tell which component reads this file"),
    (("--winhttp", str(FIXTURES / "winhttp" / "not-netsh.txt")), "not recognised as 'netsh winhttp show proxy'"),
    (("--machine-config", "/nonexistent/machine.config"), "cannot read"),
])
def test_bad_arguments(run_cli: Run, args: tuple[str, ...], message: str) -> None:
    result = run_cli("proxy", *args)
    assert result.code == 2 and message in result.stderr


def test_renamed_exe_config_with_component_prefix(run_cli: Run, tmp_path: Path) -> None:
    copy = tmp_path / "pta-agent-copy.config"
    copy.write_bytes((EXE / "AzureADConnectAuthenticationAgentService.exe.config").read_bytes())
    result = run_cli("proxy", "--exe-config", f"pta-agent={copy}", "--json")
    assert result.code == 0
    assert result.json()["results"]["sources"][0]["component"] == "pta-agent"


def test_on_windows_the_servers_own_files_are_read(run_cli: Run, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = tmp_path / "Microsoft.NET" / "Framework64" / "v4.0.30319" / "Config"
    config_dir.mkdir(parents=True)
    (config_dir / "machine.config").write_bytes((MC / "authenticated.config").read_bytes())
    monkeypatch.setattr("sys.platform", "win32")
    monkeypatch.setenv("WINDIR", str(tmp_path))
    monkeypatch.setattr("aadc_doctor.proxyconfig.winhttp.NETSH_COMMAND", ("aadc-doctor-no-such-netsh",))
    result = run_cli("proxy", "--json")
    assert result.code == 0, result.stderr
    sources = result.json()["results"]["sources"]
    assert sources[0]["path"] == str(config_dir / "machine.config")
    assert sources[0]["use_default_credentials"] is True
    assert sources[1]["kind"] == "winhttp" and "cannot run 'netsh winhttp show proxy'" in sources[1]["error"]
    human = run_cli("proxy")
    assert "not read: cannot run 'netsh winhttp show proxy'" in human.stdout


def test_malformed_proxy_address_in_machine_config(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "machine.config"
    path.write_text('<configuration><system.net><defaultProxy><proxy proxyaddress="http://u:Pw123456@[bad:8080"/>'
                    "</defaultProxy></system.net></configuration>", encoding="utf-8")
    result = run_cli("proxy", "--machine-config", str(path), "--json")
    assert result.code == 1, result.stderr
    assert "machine-config-proxy-address-invalid" in finding_ids(result)
    assert "Pw123456" not in result.stdout + result.stderr
