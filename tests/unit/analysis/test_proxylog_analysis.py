"""The proxy log analysis: classification, counts, handshakes vs. failing authentication, coverage, timeouts."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from aadc_doctor.analysis.proxylog import Classifier, ProxyLogAnalysis, RecordFilter, catalog_needles
from aadc_doctor.json_data import to_json_data
from aadc_doctor.knowledge import read_toml
from aadc_doctor.knowledge.communication_pattern import load_pattern
from aadc_doctor.knowledge.endpoints import load_catalog
from aadc_doctor.logs.proxy_record import ProxyRecord

CATALOG = load_catalog()
T0 = 1_700_000_000.0
CONNECT_SEQUENCE = ["login.microsoftonline.com", "adminwebservice.microsoftonline.com",
                    "bba800-anchor.microsoftonline.com", "login.microsoftonline.com",
                    "provisioningapi.microsoftonline.com", "bwsc02-relay.microsoftonline.com"]


def rec(host: str, status: int | None = 200, *, t: float = 0.0, client: str = "10.0.5.20", port: int = 443,
        action: str | None = None, elapsed_ms: int = 0, method: str = "CONNECT") -> ProxyRecord:
    if action is None:
        action = "TCP_DENIED" if status in (403, 407) else "TCP_TUNNEL"
    return ProxyRecord(time=T0 + t, client=client, host=host, port=port, method=method, status=status,
                       action=action, elapsed_ms=elapsed_ms)


def analyse(records: list[ProxyRecord], **kwargs: Any) -> tuple[ProxyLogAnalysis, dict[str, Any], dict[str, Any]]:
    analysis = ProxyLogAnalysis(CATALOG, load_pattern(), kwargs.pop("record_filter", None), kwargs or None)
    for r in records:
        analysis.add(r)
    analysis.finish()
    summary = analysis.results()
    findings = {f.id + "|" + f.subject: f for f in analysis.findings(summary)}
    return analysis, to_json_data(summary), findings  # the tests read the report as its JSON shows it


def endpoint(results: dict[str, Any], host: str, port: int = 443) -> dict[str, Any]:
    return next(e for e in results["endpoints"] if e["host"] == host and e["port"] == port)


def test_needles_cover_every_catalog_host_without_additions() -> None:
    tuned = read_toml("proxylog_findings.toml")["scan"]["needles"]
    assert catalog_needles(CATALOG) == tuned  # no catalog domain needed an automatic extra needle
    for rule in CATALOG.rules:
        example = rule.pattern.replace("*", "x")
        assert any(n in example for n in tuned), rule.pattern


def test_classification() -> None:
    c = Classifier(CATALOG)
    assert c.classify("bba800-anchor.microsoftonline.com", 443).kind == "required"
    phrases = read_toml("proxylog_findings.toml")["phrases"]
    assert "sync" in c.classify("adminwebservice.microsoftonline.com", 443).required_by_text(phrases)
    optional = c.classify("contoso.msappproxy.net", 8080)
    assert optional.kind == "optional" and not optional.port_mismatch
    mismatch = c.classify("login.microsoftonline.com", 80)
    assert mismatch.kind == "optional" and mismatch.port_mismatch
    ignorable = c.classify("dc.services.visualstudio.com", 443)
    assert ignorable.kind == "ignorable" and ignorable.ignorable is not None
    assert c.classify("login.microsoftonline.com.nsatc.net", 443).kind == "ignorable"
    assert c.classify("www.example.com", 443).kind == "unrelated"


def test_counts_per_endpoint_and_the_denial_finding_with_explains_remedy() -> None:
    records = [rec(h, t=i) for i, h in enumerate(CONNECT_SEQUENCE[:4])]
    records += [rec("provisioningapi.microsoftonline.com", 403, t=10 + i) for i in range(3)]
    records += [rec("www.example.com", t=20), rec("dc.services.visualstudio.com", 403, t=21)]
    _, results, findings = analyse(records)
    prov = endpoint(results, "provisioningapi.microsoftonline.com")
    assert (prov["requests"], prov["allowed"], prov["denied"], prov["statuses"]) == (3, 0, 3, {"403": 3})
    assert prov["first_seen"] == "2023-11-14T22:13:30Z" and prov["classification"] == "required"
    assert endpoint(results, "login.microsoftonline.com")["allowed"] == 2
    assert results["unrelated_count"] == 1
    assert results["ignorable"][0]["host"] == "dc.services.visualstudio.com"
    denied = findings["proxylog-required-denied|provisioningapi.microsoftonline.com:443"]
    assert denied.severity == "error" and "3x 403" in denied.title
    from aadc_doctor.knowledge.codes import http_entry
    from aadc_doctor.knowledge.connectivity_findings import load_connectivity_knowledge

    entry = http_entry(403)
    assert entry is not None and entry.message in denied.detail  # the text `explain 403` prints
    check_says = load_connectivity_knowledge().outcome["proxy_forbidden"].remedy  # the remedy `check` gives
    assert denied.remedy == check_says.format(allow="provisioningapi.microsoftonline.com", port=443,
                                              proxy="").replace(" :", ":")
    assert "proxylog-ignorable-denied|dc.services.visualstudio.com" in findings
    stops = findings["proxylog-phase-stops|Connect to Azure AD"]
    assert stops.severity == "error" and "provisioningapi" in stops.detail and "403" in stops.detail
    assert results["timeline"][0]["host"] == "provisioningapi.microsoftonline.com"
    assert results["timeline"][0]["points"] == [{"start": "2023-11-14T22:13:00Z", "denied": 3, "statuses": {"403": 3}}]


def test_ntlm_handshake_legs_are_not_denials_but_a_407_run_is() -> None:
    handshake = []
    for i, host in enumerate(CONNECT_SEQUENCE):  # each tunnel: one 407 challenge, then success
        handshake += [rec(host, 407, t=i * 5), rec(host, 200, t=i * 5 + 0.1)]
    _, results, findings = analyse(handshake)
    login = endpoint(results, "login.microsoftonline.com")
    assert (login["denied"], login["auth_challenges"], login["denied_unresolved_407"]) == (2, 2, 0)
    assert not [k for k in findings if k.startswith(("proxylog-required-denied", "proxylog-auth-failing"))]
    assert results["phase_summary"]["reached"] == ["connect"]

    failing = [rec("login.microsoftonline.com", 407, t=i) for i in range(6)]
    failing += [rec("login.microsoftonline.com", 407, t=10, client="10.9.9.9")]  # one leg, another client
    _, results, findings = analyse(failing)
    assert results["auth_runs"] == [{"client": "10.0.5.20", "count": 6, "first_seen": "2023-11-14T22:13:20Z",
                                     "last_seen": "2023-11-14T22:13:25Z", "hosts": ["login.microsoftonline.com:443"],
                                     "ended_with_success": False}]
    run = findings["proxylog-auth-failing|10.0.5.20"]
    assert run.severity == "error" and "6 407 answers" in run.title
    assert "7x 407" in findings["proxylog-required-denied|login.microsoftonline.com:443"].title


def test_407_legs_of_long_parallel_tunnels_are_handshakes_not_a_failing_run() -> None:
    """Squid logs a tunnel when it closes: the 407 legs of five connections opened within seconds come first in
    the log, each tunnel's 200 minutes later. They were three 'denied' findings and a '407 run' error."""
    hosts = CONNECT_SEQUENCE[1:]
    records = [rec(h, 407, t=i * 1.0) for i, h in enumerate(hosts)]
    records += [rec(h, 200, t=i * 1.0 + 120, elapsed_ms=119_900) for i, h in enumerate(hosts)]
    _, results, findings = analyse(records)
    for host in hosts:
        assert endpoint(results, host)["denied_unresolved_407"] == 0, host
    assert sum(endpoint(results, h)["auth_challenges"] for h in set(hosts)) == len(hosts)
    assert results["auth_runs"] == [] and results["auth_runs_total"] == 0
    assert not [k for k in findings if k.startswith(("proxylog-required-denied", "proxylog-auth-failing"))]


def test_a_failing_run_is_still_found_while_a_long_tunnel_is_open() -> None:
    # one tunnel works (logged when it closes), while new connections keep getting 407 and never go through
    records = [rec("login.microsoftonline.com", 407, t=0), rec("login.microsoftonline.com", 200, t=0.1)]
    records += [rec("adminwebservice.microsoftonline.com", 407, t=10 + i) for i in range(4)]
    records.append(rec("provisioningapi.microsoftonline.com", 200, t=300, elapsed_ms=295_000))
    _, results, findings = analyse(records)
    [run] = results["auth_runs"]
    assert (run["count"], run["ended_with_success"]) == (4, False)
    assert run["hosts"] == ["adminwebservice.microsoftonline.com:443"]
    assert "proxylog-auth-failing|10.0.5.20" in findings
    assert endpoint(results, "login.microsoftonline.com")["auth_challenges"] == 1


def test_phases_follow_the_order_requests_started_not_the_order_they_were_logged() -> None:
    """.NET keeps a tunnel 100 s after its last use and Squid logs it when it closes: the sign-in that opens the
    phase (its connection reused for the second sign-in) is logged after the steps that followed it. The phase
    was 'partial, 1 of 6 steps' with a 'phase stops' warning for a wizard that went through."""
    opened = [("login.microsoftonline.com", 0, 65), ("adminwebservice.microsoftonline.com", 5, 5),
              ("bba800-anchor.microsoftonline.com", 60, 60), ("provisioningapi.microsoftonline.com", 120, 120),
              ("bwsc02-relay.microsoftonline.com", 125, 125)]
    records = sorted((rec(h, 200, t=last + 100, elapsed_ms=(last + 100 - start) * 1000) for h, start, last in opened),
                     key=lambda r: r.time or 0.0)
    assert records[0].host == "adminwebservice.microsoftonline.com"  # the log's order
    _, results, findings = analyse(records)
    connect = results["phases"][0]
    assert (connect["id"], connect["status"], connect["first_seen"]) == ("connect", "complete", "2023-11-14T22:13:20Z")
    assert results["phase_summary"]["reached"] == ["connect"]
    assert "proxylog-phase-stops|Connect to Azure AD" not in findings


def test_never_seen_and_server_not_seen() -> None:
    records = [rec(h, t=i) for i, h in enumerate(CONNECT_SEQUENCE) if "provisioningapi" not in h]
    _, _, findings = analyse(records)
    missing = [f for k, f in findings.items() if k.startswith("proxylog-never-seen")]
    assert len(missing) == 1 and "provisioningapi.microsoftonline.com:443" in missing[0].title
    assert "*-relay.microsoftonline.com:443" in missing[0].detail  # the later step that did go through
    stopped = [rec(h, t=i) for i, h in enumerate(CONNECT_SEQUENCE[:4])]  # the wizard simply stopped there
    _, _, findings = analyse(stopped)
    assert not [k for k in findings if k.startswith("proxylog-never-seen")]

    browsers = [rec("login.microsoftonline.com", t=i, client=f"10.1.1.{i}") for i in range(5)]
    _, results, findings = analyse(browsers)
    assert findings == {}  # browsers signing in: a healthy log, not about Azure AD Connect
    assert results["phase_summary"]["client"] is None
    named = RecordFilter(clients=(ipaddress.ip_network("10.1.1.0/24"),))
    _, _, findings = analyse(browsers, record_filter=named)  # --client named the server: then it is worth saying
    assert list(findings) == ["proxylog-server-not-seen|"]

    _, _, findings = analyse([rec("www.example.com")])
    assert any(k.startswith("proxylog-no-azure-traffic") for k in findings)


def test_tunnels_cut_at_the_same_duration_suggest_an_idle_timeout() -> None:
    cut = [rec("bwsc02-relay.microsoftonline.com", t=i * 200, elapsed_ms=120_000 + i * 300) for i in range(4)]
    short = [rec("login.microsoftonline.com", t=i, elapsed_ms=800) for i in range(20)]
    _, results, findings = analyse(cut + short)
    assert results["tunnels"]["suspected_seconds"] == 120
    assert "120 s" in findings["proxylog-idle-timeout|proxy"].title
    long_ok = [*cut, rec("bwsc02-relay.microsoftonline.com", t=5000, elapsed_ms=400_000)]
    _, results, findings = analyse(long_ok)
    assert results["tunnels"]["suspected_seconds"] is None and "proxylog-idle-timeout|proxy" not in findings
    tagged = [rec("bwsc02-relay.microsoftonline.com", action="TCP_TUNNEL_TIMEOUT", elapsed_ms=30_000)]
    _, results, findings = analyse(tagged)
    assert results["tunnels"]["explicit_timeouts"] == 1 and "proxylog-idle-timeout|proxy" in findings


def test_tunnels_ending_at_the_clients_own_idle_close_are_no_proxy_timeout_warning() -> None:
    """.NET closes a connection unused for 100 s: tunnels used briefly last 100-101 s. That cluster was a warning
    'the proxy seems to cut tunnels after about 100 s (needs more than 5 minutes)'."""
    closed = [rec(h, t=i * 150, elapsed_ms=100_200 + i * 400) for i, h in enumerate(CONNECT_SEQUENCE)]
    _, results, findings = analyse(closed)
    assert results["tunnels"]["suspected_seconds"] == 102
    finding = findings["proxylog-idle-timeout|proxy"]
    assert finding.severity == "info" and "client's own idle close" in finding.title
    assert "100 s" in finding.detail and "proxy's idle (read) timeout" in finding.detail
    # the proxy's own timeout tag keeps it a warning
    tagged = [*closed, rec("bwsc02-relay.microsoftonline.com", action="TCP_TUNNEL_TIMEOUT", elapsed_ms=100_000)]
    assert analyse(tagged)[2]["proxylog-idle-timeout|proxy"].severity == "warning"


def test_filters() -> None:
    import ipaddress

    records = [rec("login.microsoftonline.com", t=i * 60, client=f"10.0.5.{20 + i}") for i in range(5)]
    only = RecordFilter(clients=(ipaddress.ip_network("10.0.5.21"),))
    _, results, _ = analyse(records, record_filter=only)
    assert (results["records"], results["line_counts"]["filtered_out"]) == (1, 4)
    window = RecordFilter(since=T0 + 60, until=T0 + 180)
    _, results, _ = analyse(records, record_filter=window)
    assert results["records"] == 3
    # a tunnel is logged when it closes: the window applies to when it was opened, the time the report shows
    long_tunnel = rec("login.microsoftonline.com", t=200, elapsed_ms=150_000)  # opened at T0 + 50
    assert not window.accepts(long_tunnel)
    assert RecordFilter(since=T0 + 40, until=T0 + 180).accepts(long_tunnel)
    undated = ProxyRecord(None, "10.0.5.20", "login.microsoftonline.com", 443, "CONNECT", None)
    assert not window.accepts(undated) and RecordFilter().accepts(undated)
    named = RecordFilter(client_names=("aadc01",))
    assert named.accepts(undated._replace(client="AADC01"))
    # IIS and dual-stack proxies log IPv4 clients as IPv4-mapped IPv6 addresses
    assert only.accepts(undated._replace(client="::ffff:10.0.5.21"))
    assert only.accepts(undated._replace(client="[::ffff:10.0.5.21]"))
    assert not only.accepts(undated._replace(client="::ffff:10.0.5.22"))
    assert RecordFilter(clients=(ipaddress.ip_network("::ffff:10.0.5.0/120"),)).accepts(
        undated._replace(client="::ffff:10.0.5.21"))


def test_timeline_buckets_grow_with_the_span() -> None:
    records = [rec("graph.windows.net", 403, t=i * 3600) for i in range(24 * 30)]
    _, results, _ = analyse(records)
    line = results["timeline"][0]
    assert line["bucket_seconds"] == 6 * 3600 and len(line["points"]) <= 240
    assert sum(p["denied"] for p in line["points"]) == 720


@pytest.mark.parametrize("bad", [{"no_such_threshold": 1.0}])
def test_unknown_thresholds_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ProxyLogAnalysis(CATALOG, load_pattern(), None, bad)


def test_finding_texts_agree_with_their_counts() -> None:
    """'1 request(s) from 1 client(s)': the counts now pick the singular or plural noun."""
    one = [rec("adminwebservice.microsoftonline.com", t=0, status=403, action="TCP_DENIED")]
    _, _, findings = analyse(one)
    denied = next(f for k, f in findings.items() if k.startswith("proxylog-required-denied"))
    assert "1 request from 1 client was answered 403" in denied.detail
    two = [rec("adminwebservice.microsoftonline.com", t=i, status=403, action="TCP_DENIED") for i in range(2)]
    _, _, findings = analyse(two)
    denied = next(f for k, f in findings.items() if k.startswith("proxylog-required-denied"))
    assert "2 requests from 1 client were answered 403" in denied.detail
    assert all("(s)" not in f.title + f.detail for f in findings.values())


def test_a_healthy_server_log_gives_no_finding() -> None:
    # Given: the whole Connect phase allowed, then the wizard was simply not run further; a browser's GET of a
    # login page answered 400 by the endpoint (logged as forwarded), and a 404
    records = [rec(h, t=i) for i, h in enumerate(CONNECT_SEQUENCE)]
    records += [rec("login.microsoftonline.com", 400, t=30, client="10.9.9.9", method="GET", action="TCP_MISS"),
                rec("login.microsoftonline.com", 404, t=31, client="10.9.9.9", method="GET", action="TCP_MISS")]
    # When
    _, results, findings = analyse(records)
    # Then
    assert findings == {}
    assert results["phase_summary"] == {"client": "10.0.5.20", "reached": ["connect"], "stops_at": "configure"}
    login = endpoint(results, "login.microsoftonline.com")
    assert (login["other"], login["failed"]) == (2, 0)


def test_a_proxy_failure_is_still_a_failure() -> None:
    records = [rec("login.microsoftonline.com", 503, action="TCP_MISS", method="GET"),
               rec("login.microsoftonline.com", 400, action="NONE_NONE")]  # a 4xx to a CONNECT: the proxy's
    _, _, findings = analyse(records)
    failed = findings["proxylog-required-failed|login.microsoftonline.com:443"]
    assert "1x 400, 1x 503" in failed.title


def test_decrypted_requests_and_a_parent_denial() -> None:
    records = [rec("login.microsoftonline.com", 200, method="GET", action="TCP_MISS")._replace(decrypted=True),
               rec("login.microsoftonline.com", 200, t=1, method="GET", action="TCP_MISS")._replace(decrypted=True),
               rec("provisioningapi.microsoftonline.com", 403, t=2, method="GET",
                   action="TCP_MISS PARENT_DENIED")._replace(peer="10.9.0.1")]
    _, results, findings = analyse(records)
    decrypted = findings["proxylog-tls-decrypted|login.microsoftonline.com"]
    assert decrypted.severity == "error" and "2 requests" in decrypted.detail
    denied = findings["proxylog-required-denied|provisioningapi.microsoftonline.com:443"]
    assert "parent proxy 10.9.0.1" in denied.detail and "10.9.0.1" in denied.remedy
    assert endpoint(results, "provisioningapi.microsoftonline.com")["denied_by_parent"] == {"10.9.0.1": 1}


def test_a_tunnel_squid_logged_500_after_carrying_data_is_no_failure() -> None:
    """Squid bug 5274 (logs/squid.py): the parser marks such a line; the analysis counts it as let through, keeps
    the logged status in the table, and raises no `required-failed`. A real 500 from the proxy still does."""
    spliced = rec("login.windows.net", 500)._replace(spurious_500=True)
    failed = rec("graph.windows.net", 500)
    _, results, findings = analyse([spliced, spliced, failed])
    row = endpoint(results, "login.windows.net")
    assert (row["allowed"], row["failed"], row["statuses"]) == (2, 0, {"500": 2})
    assert row["tunnels_logged_500_after_transfer"] == 2
    assert list(findings) == ["proxylog-required-failed|graph.windows.net:443"]


def test_every_proxylog_phrase_renders() -> None:
    """The texts besides title, detail and remedy ([phrases], notes, alternative titles) fill in completely: the
    catalog test renders the templates, this the rest of proxylog_findings.toml."""
    from aadc_doctor.knowledge.findings import TEXT, placeholders

    data = read_toml("proxylog_findings.toml")
    texts = list(data["phrases"].values()) + [
        text for spec in data["finding"].values() for key, text in spec.items()
        if isinstance(text, str) and key not in ("severity", "title", "detail", "remedy")]
    assert len(texts) >= 20
    for text in texts:
        rendered = TEXT.format(text, **{name: 2 for name in placeholders(text)})
        assert rendered.strip() and "{" not in rendered and "}" not in rendered, text
