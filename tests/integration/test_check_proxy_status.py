"""`check` behind a gateway that refuses with RFC 9209 Proxy-Status instead of a 403 (issue 13, item 2).

The gateway is a real mitmproxy with a policy addon (tests/infra/mitm_addons/proxy_status_gateway.py): for the
hosts in its policy it answers CONNECT with a 5xx and a Proxy-Status header, as Envoy- or HAProxy-based secure web
gateways do. The status code alone says "proxy error"; only the header says "refused by policy", so these tests fail
if `check` reads the status code and not the header.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliRun
from tests.infra import TlsOrigin
from tests.infra.mitmproxy import MitmConfig, Mitmproxy

pytestmark = pytest.mark.integration

Runner = Callable[..., CliRun]
ADDON = Path(__file__).resolve().parents[1] / "infra" / "mitm_addons" / "proxy_status_gateway.py"
LOGIN = "login.microsoftonline.com"
GRAPH = "graph.windows.net"
PROVISIONING = "provisioningapi.microsoftonline.com"
REGISTRATION = "enterpriseregistration.windows.net"
POLICY = "\n".join((
    f'{GRAPH} 502 corp-swg; error=destination_ip_prohibited; details="category: unknown"',
    f'{PROVISIONING} 503 "edge-gw", corp-swg; error=http_request_denied',
    f"{REGISTRATION} 502 corp-swg; error=connection_refused",
))


@pytest.fixture(scope="module")
def gateway(lab_ca_file: Path) -> Iterator[Mitmproxy]:
    config = MitmConfig(lab_ca_file, ignore_hosts=[".*"], addons=[ADDON], addon_env={"PROXY_STATUS_POLICY": POLICY})
    with Mitmproxy(config) as proxy:
        yield proxy


def _check(run_cli: Runner, proxy: str, lab_ca_file: Path, *urls: str) -> dict[str, Any]:
    args = ["check", "--json", "--timeout", "5", "--proxy", proxy, "--lab-microsoft-root", str(lab_ca_file)]
    for url in urls:
        args += ["--endpoint", url]
    run = run_cli(*args)
    assert run.code in (0, 1), run.stderr
    report: dict[str, Any] = run.json()
    return report


def test_a_proxy_status_refusal_is_a_denial_naming_the_host(run_cli: Runner, gateway: Mitmproxy,
                                                            tls_origin: TlsOrigin, lab_ca_file: Path) -> None:
    report = _check(run_cli, gateway.url, lab_ca_file, tls_origin.url(LOGIN), tls_origin.url(GRAPH),
                    tls_origin.url(PROVISIONING), tls_origin.url(REGISTRATION))
    rows = {row["host"]: row for row in report["results"]["endpoints"]}
    assert {host: row["outcome"] for host, row in rows.items()} == {
        LOGIN: "ok", GRAPH: "proxy_forbidden", PROVISIONING: "proxy_forbidden", REGISTRATION: "proxy_error"}
    assert "Proxy-Status says destination_ip_prohibited" in rows[GRAPH]["error"]
    # two intermediaries: the one that refused (corp-swg) is named, not the first hop
    assert rows[PROVISIONING]["answered_by"] == "corp-swg"
    # an error type that is not a policy refusal stays a proxy error, with the header's reason in the detail
    assert "Proxy-Status says connection_refused" in rows[REGISTRATION]["error"]
    forbidden = [f for f in report["findings"] if f["id"] == "proxy-forbidden"]
    assert [f["title"] for f in forbidden] == [f"The proxy has not been opened for {GRAPH}",
                                               f"The proxy has not been opened for {PROVISIONING}"]
    # the change is needed on the gateway that refused, and the remedy says so
    assert "on port" in forbidden[1]["remedy"] and "of the proxy corp-swg" in forbidden[1]["remedy"]
