"""A mitmproxy addon that makes mitmdump behave like a secure web gateway that refuses with RFC 9209 Proxy-Status.

Gateways such as Envoy, Fastly or HAProxy-based appliances answer a refused CONNECT with a 5xx and a
``Proxy-Status`` header naming themselves and the error type, not with Squid's 403 page. Policy (hosts -> what to
answer) comes from the environment variable PROXY_STATUS_POLICY, one rule per line: ``HOST STATUS PROXY-STATUS``.
Runs inside mitmproxy's own interpreter (.venv-tools), so it imports mitmproxy and nothing from this repository.
"""

from __future__ import annotations

import os

from mitmproxy import http  # type: ignore[import-not-found]  # runs in .venv-tools, not in .venv


def _policy() -> dict[str, tuple[int, str]]:
    rules: dict[str, tuple[int, str]] = {}
    for line in os.environ.get("PROXY_STATUS_POLICY", "").splitlines():
        if line.strip():
            host, status, header = line.strip().split(" ", 2)
            rules[host.lower()] = (int(status), header)
    return rules


POLICY = _policy()


def http_connect(flow: http.HTTPFlow) -> None:
    rule = POLICY.get(flow.request.host.lower())
    if rule is not None:
        status, header = rule
        flow.response = http.Response.make(status, b"Request refused by policy\n",
                                           {"Proxy-Status": header, "Content-Type": "text/plain"})
