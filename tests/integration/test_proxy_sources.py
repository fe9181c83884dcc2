"""The proxy a source names is the proxy that really carries the request: real Squid, a real PAC download.

Each test reads a proxy source the way `check` does (select_proxy), asks it for the proxy of a URL and
sends the request through what it answered; Squid's own access.log (or its 407) is the evidence.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from tests.infra import HttpOrigin, Route, SquidProxy, TlsOrigin

from aadc_doctor.cli import main
from aadc_doctor.errors import InputError
from aadc_doctor.proxyconfig.pac import PAC_TIMEOUT_S
from aadc_doctor.proxyconfig.select import select_proxy

LOGIN = "login.microsoftonline.com"


def _get(url: str, proxy: str | None, ca_file: Path) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        proxies = {"https": proxy, "http": proxy} if proxy else {}
        return session.get(url, proxies=proxies, verify=str(ca_file), timeout=10, headers={"Connection": "close"})


def _machine_config(tmp_path: Path, proxy_url: str, bypass: str) -> Path:
    path = tmp_path / "machine.config"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8" ?>
<configuration>
    <system.net>
        <defaultProxy>
            <proxy usesystemdefault="true" proxyaddress="{proxy_url}" bypassonlocal="true" />
            <bypasslist><add address="{bypass}" /></bypasslist>
        </defaultProxy>
    </system.net>
</configuration>
""", encoding="utf-8")
    return path


def test_machine_config_proxy_carries_the_request_through_squid(
        squid: SquidProxy, tls_origin: TlsOrigin, lab_ca_file: Path, tmp_path: Path) -> None:
    machine = _machine_config(tmp_path, squid.url("open"), r"^https://allowed\.example\.com")
    chosen = select_proxy(proxy=None, direct=False, pac=None, machine_config=str(machine), env={}, windows=False)
    target = tls_origin.url(LOGIN, "/common/userrealm")
    proxy = chosen.proxy_for(target)
    assert proxy == squid.url("open")
    assert chosen.proxy_for(tls_origin.url("allowed.example.com")) is None  # the bypass regex
    offset = squid.log_offset()
    response = _get(target, proxy, lab_ca_file)
    assert response.status_code == 200
    squid.wait_for_log(rf"CONNECT {LOGIN}:{tls_origin.port}", since=offset)


def test_pac_downloaded_over_http_selects_squid(
        squid: SquidProxy, tls_origin: TlsOrigin, lab_ca_file: Path,
        http_origin_factory: Callable[..., HttpOrigin]) -> None:
    pac_js = f"""function FindProxyForURL(url, host) {{
        if (dnsDomainIs(host, ".microsoftonline.com")) return "PROXY 127.0.0.1:{squid.open_port}; DIRECT";
        return "DIRECT";
    }}""".encode()
    wpad = http_origin_factory({"/wpad.dat": Route(200, pac_js, {"Content-Type": "application/x-ns-proxy-autoconfig"})})
    pac_url = wpad.url("127.0.0.1", "/wpad.dat")
    chosen = select_proxy(proxy=None, direct=False, pac=pac_url, machine_config=None, env={}, windows=False)
    assert chosen.source == f"pac:{pac_url}"
    target = tls_origin.url(LOGIN)
    proxy = chosen.proxy_for(target)
    assert proxy == f"http://127.0.0.1:{squid.open_port}"
    assert chosen.proxy_for("https://www.fabrikam.local/") is None
    offset = squid.log_offset()
    assert _get(target, proxy, lab_ca_file).status_code == 200
    squid.wait_for_log(rf"CONNECT {LOGIN}:{tls_origin.port}", since=offset)
    assert [r.path for r in wpad.requests] == ["/wpad.dat"]


def test_environment_credentials_reach_squid_basic_auth_and_never_the_report(
        squid: SquidProxy, tls_origin: TlsOrigin, lab_ca_file: Path) -> None:
    env = {"HTTPS_PROXY": squid.url("basic", "alice", "s3cret")}
    chosen = select_proxy(proxy=None, direct=False, pac=None, machine_config=None, env=env, windows=False)
    assert chosen.source == "environment" and chosen.has_credentials_in_url
    target = tls_origin.url(LOGIN)
    assert _get(target, chosen.proxy_for(target), lab_ca_file).status_code == 200
    with pytest.raises(requests.exceptions.ProxyError, match="407"):
        _get(target, squid.url("basic"), lab_ca_file)

    out, err = io.StringIO(), io.StringIO()
    code = main(["proxy", "--json"], stdout=out, stderr=err, env={**env, "NO_COLOR": "1"})
    assert code == 0
    assert "s3cret" not in out.getvalue() + err.getvalue()
    assert f"alice:***@127.0.0.1:{squid.basic_port}" in out.getvalue()


def test_check_probes_through_the_proxy_the_pac_file_chooses(
        squid: SquidProxy, tls_origin: TlsOrigin, lab_ca_file: Path, tmp_path: Path) -> None:
    """`check --pac` asks the PAC worker for every URL and probes through what it answered (Squid's log shows it)."""
    pac = tmp_path / "proxy.pac"
    pac.write_text(f"""function FindProxyForURL(url, host) {{
        if (dnsDomainIs(host, ".microsoftonline.com")) return "PROXY 127.0.0.1:{squid.open_port}";
        return "DIRECT";
    }}""", encoding="utf-8")
    target = tls_origin.url(LOGIN, "/common/userrealm")
    offset = squid.log_offset()
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", "--json", "--pac", str(pac), "--endpoint", target, "--lab-microsoft-root",
                 str(lab_ca_file)],
                stdout=out, stderr=err, env={"NO_COLOR": "1"})
    assert code == 0, err.getvalue()
    endpoint = json.loads(out.getvalue())["results"]["endpoints"][0]
    assert endpoint["outcome"] == "ok"
    assert endpoint["via_proxy"] == f"http://127.0.0.1:{squid.open_port}"
    squid.wait_for_log(rf"CONNECT {LOGIN}:{tls_origin.port}", since=offset)


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def test_endless_pac_stops_the_real_cli_at_the_default_limit_and_leaves_no_process() -> None:
    """The real command line, the real default time limit: exit 2 in about PAC_TIMEOUT_S, worker gone."""
    pac = Path(__file__).resolve().parents[1] / "fixtures" / "pac" / "endless-loop.pac"
    started = time.monotonic()
    cli = subprocess.Popen([sys.executable, "-m", "aadc_doctor", "check", "--pac", str(pac),
                            "--endpoint", "https://login.microsoftonline.com/"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    workers: set[int] = set()
    while cli.poll() is None and time.monotonic() - started < PAC_TIMEOUT_S + 20:
        workers |= _children(cli.pid)
        time.sleep(0.1)
    _, stderr = cli.communicate(timeout=5)
    elapsed = time.monotonic() - started
    assert cli.returncode == 2, stderr
    assert PAC_TIMEOUT_S <= elapsed < PAC_TIMEOUT_S + 5
    assert stderr.decode().strip() == (
        f"aadc-doctor: error: {pac}: the PAC script did not answer FindProxyForURL for "
        f"https://login.microsoftonline.com/ within {PAC_TIMEOUT_S:g} s "
        "(an endless loop, or slow DNS in dnsResolve/isInNet/isResolvable)")
    assert workers, "the PAC worker process was never seen"
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_pac_url_errors_from_a_real_web_server(http_origin_factory: Callable[..., HttpOrigin]) -> None:
    """A 404 and a login page served instead of wpad.dat: one short line each, before any script runs."""
    web = http_origin_factory({"/portal": Route(200, b"<!DOCTYPE html><html><body>Sign in</body></html>",
                                                {"Content-Type": "text/html"}),
                               "/missing.dat": Route(404, b"not here", {})})
    with pytest.raises(InputError) as info:
        select_proxy(proxy=None, direct=False, pac=web.url("127.0.0.1", "/missing.dat"), machine_config=None,
                     env={}, windows=False)
    assert info.value.message.endswith("cannot download the PAC file: HTTP 404 Not Found")
    with pytest.raises(InputError, match="not a PAC file: it starts with '<' \\(an HTML page"):
        select_proxy(proxy=None, direct=False, pac=web.url("127.0.0.1", "/portal"), machine_config=None,
                     env={}, windows=False)
