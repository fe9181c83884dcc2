"""The identity platform's error parsing, and the REST session's option parsing and failure naming."""

from __future__ import annotations

import json
import socket
import threading
from types import SimpleNamespace
from typing import Any, cast

import pytest
import requests

from aadc_doctor.account.oauth import parse_oauth_error
from aadc_doctor.errors import UsageError
from aadc_doctor.net.http_client import (
    DoctorSession,
    HttpFailure,
    HttpSettings,
    Redirect,
    classify_failure,
    make_session,
    parse_connect_to,
    parse_resolve,
)
from aadc_doctor.net.outcome import Outcome

REAL_SHAPE = {
    "error": "invalid_grant",
    "error_description": "AADSTS50126: Error validating credentials due to invalid username or password.\r\n"
                         "Trace ID: 0b1f3c4e-1111-2222-3333-444455556666\r\nCorrelation ID: "
                         "5e6f7a8b-aaaa-bbbb-cccc-ddddeeeeffff\r\nTimestamp: 2026-11-21 10:00:00Z",
    "error_codes": [50126],
    "timestamp": "2026-11-21 10:00:00Z",
    "trace_id": "0b1f3c4e-1111-2222-3333-444455556666",
    "correlation_id": "5e6f7a8b-aaaa-bbbb-cccc-ddddeeeeffff",
    "error_uri": "https://login.microsoftonline.com/error?code=50126",
}


def test_parse_real_error_shape() -> None:
    error = parse_oauth_error(REAL_SHAPE)
    assert error.error == "invalid_grant"
    assert error.code == 50126
    assert error.description == "Error validating credentials due to invalid username or password."
    assert error.correlation_id.startswith("5e6f7a8b")


def test_code_from_description_when_error_codes_missing() -> None:
    error = parse_oauth_error({"error": "authorization_declined", "error_description": "AADSTS70000: declined."})
    assert error.codes == (70000,)
    assert error.description == "declined."


def test_no_code_at_all() -> None:
    assert parse_oauth_error({"error": "expired_token"}).codes == ()


def test_parse_resolve_and_connect_to() -> None:
    assert parse_resolve("Login.microsoftonline.com:443:127.0.0.1") == \
        Redirect("login.microsoftonline.com", 443, "127.0.0.1", 443)
    assert parse_resolve("graph.microsoft.com:443:[::1]") == Redirect("graph.microsoft.com", 443, "::1", 443)
    assert parse_connect_to("graph.microsoft.com:443:127.0.0.1:8443") == \
        Redirect("graph.microsoft.com", 443, "127.0.0.1", 8443)
    assert parse_connect_to("graph.microsoft.com:443::8443") == \
        Redirect("graph.microsoft.com", 443, "graph.microsoft.com", 8443)


@pytest.mark.parametrize("spec", ["nohost", "h:notaport:1.2.3.4", "h:443", "h:70000:1.2.3.4", "[::1:443:x"])
def test_bad_resolve_is_a_usage_error(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_resolve(spec)


@pytest.mark.parametrize("spec", ["h:443:x", "h:443:x:y", "h:443"])
def test_bad_connect_to_is_a_usage_error(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_connect_to(spec)


@pytest.mark.parametrize(("answer", "outcome", "message"), [
    ("403 Forbidden", "proxy_forbidden", "the proxy answered 403 to CONNECT login.microsoftonline.com"),
    ("407 Proxy Authentication Required", "proxy_auth_required",
     "the proxy answered 407 to CONNECT login.microsoftonline.com"),
    ("502 Bad Gateway", "proxy_error", "the proxy refused CONNECT login.microsoftonline.com: 502 Bad Gateway")])
def test_proxy_tunnel_answers_are_named(answer: str, outcome: str, message: str) -> None:
    """The proxy's answer to CONNECT, from a real socket through the session: the status is read once, where
    http.client raises it, and classified by type."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"

        def answer_each() -> None:
            conn, _ = listener.accept()
            conn.recv(4096)
            conn.sendall(f"HTTP/1.1 {answer}\r\nContent-Length: 0\r\n\r\n".encode())
            conn.close()

        server = threading.Thread(target=answer_each, daemon=True)
        server.start()
        with pytest.raises(HttpFailure) as failure:
            _session_through(proxy).get("https://login.microsoftonline.com/common/userrealm/x")
        server.join(2)
    assert failure.value.outcome == outcome and failure.value.outcome is Outcome(outcome)
    assert failure.value.message == message


def test_failure_message_never_holds_the_proxy_password() -> None:
    exc = requests.exceptions.ProxyError(OSError("Cannot connect to proxy http://u:SeCrEt99@p:3128"))
    failure = classify_failure(exc, "https://login.microsoftonline.com/", "http://u:SeCrEt99@p:3128")
    assert failure.outcome == "proxy_unreachable"
    assert "SeCrEt99" not in failure.message
    assert "SeCrEt99" not in str(failure)


def _session_through(proxy: str) -> DoctorSession:
    return make_session(HttpSettings(proxy_for=lambda url: proxy, timeout=1.0))


def test_a_proxy_that_never_answers_connect_is_named_not_the_endpoint() -> None:
    """TCP to the proxy works, CONNECT gets no answer: the endpoint never had a say."""
    with socket.socket() as listener:  # listening, never accepting: the kernel completes the handshake
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(HttpFailure) as failure:
            _session_through(proxy).get("https://login.microsoftonline.com/common/userrealm/x")
    assert failure.value.outcome == "timeout"
    assert f"the proxy {proxy} did not answer CONNECT login.microsoftonline.com" in failure.value.message


def test_a_proxy_that_closes_on_connect_is_a_proxy_error() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"

        def close_each() -> None:
            conn, _ = listener.accept()
            conn.recv(4096)
            conn.close()

        closer = threading.Thread(target=close_each, daemon=True)
        closer.start()
        with pytest.raises(HttpFailure) as failure:
            _session_through(proxy).get("https://login.microsoftonline.com/common/userrealm/x")
        closer.join(2)
    assert failure.value.outcome == "proxy_error"
    assert f"the proxy {proxy} closed the connection during CONNECT login.microsoftonline.com" \
        in failure.value.message


class _PagedGraph:
    """Stands in for DoctorSession: every page answers one domain and a next link to `next_host`."""

    def __init__(self, next_host: str) -> None:
        self.next_host = next_host
        self.asked: list[str] = []

    def get(self, url: str, headers: dict[str, str]) -> Any:
        self.asked.append(url)
        body = {"value": [{"id": f"d{len(self.asked)}.contoso.com", "isVerified": True}]}
        if len(self.asked) == 1:
            body["@odata.nextLink"] = f"https://{self.next_host}/v1.0/domains?$skiptoken=x"
        return SimpleNamespace(status_code=200, text=json.dumps(body))


def test_graph_pages_are_followed_only_on_the_graph_host() -> None:
    """The bearer token goes with every page: a next link to another host must not receive it."""
    from aadc_doctor.account.graph import DOMAINS, GraphClient
    from aadc_doctor.account.signin import AccessToken

    same = _PagedGraph("graph.microsoft.com")
    pages = GraphClient(cast(DoctorSession, same), "graph.microsoft.com", AccessToken("t0ken-value")).get(DOMAINS)
    assert isinstance(pages, list) and len(pages) == 2
    elsewhere = _PagedGraph("collector.example.net")
    answer = GraphClient(cast(DoctorSession, elsewhere), "graph.microsoft.com", AccessToken("t0ken-value")).get(DOMAINS)
    assert elsewhere.asked == ["https://graph.microsoft.com/v1.0/domains"]
    assert not isinstance(answer, list) and "collector.example.net" in answer.message


def test_resolve_takes_the_same_text_as_checks() -> None:
    """`account --resolve` and `check --resolve` share one parser: an address that is not an IP is refused."""
    with pytest.raises(UsageError, match="not an IP address"):
        parse_resolve("login.microsoftonline.com:443:not-an-ip")
    assert parse_resolve("login.microsoftonline.com.:443:127.0.0.2,127.0.0.3") == \
        Redirect("login.microsoftonline.com", 443, "127.0.0.2", 443)
