"""PTA analysis: Status/SubStatus to Win32 reasons, findings and remedies, bursts, correlation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aadc_doctor.analysis.pta import OTHER_SAMPLE, REQUESTS_KEPT, PtaEvidence, analyse, find_burst
from aadc_doctor.analysis.security_events import AgentMatcher, SignInAttempt, attempt_from_event, logon_reason
from aadc_doctor.json_data import to_json_data
from aadc_doctor.logs.event_xml import EventRecord
from aadc_doctor.model import Severity

T0 = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
AGENT = r"C:\Program Files\Microsoft Azure AD Connect Authentication Agent\AzureADConnectAuthenticationAgentService.exe"
LEGACY = r"C:\Program Files\Microsoft AAD App Proxy Connector\ApplicationProxyConnectorService.exe"


@pytest.mark.parametrize(("status", "substatus", "reason"), [
    (0xC000006D, 0xC000006A, 1326),  # wrong password
    (0xC000006D, 0xC0000064, 1326),  # unknown user: LogonUser still reports 1326
    (0xC0000234, 0x0, 1909),  # locked out
    (0xC000006E, 0xC000006F, 1328),  # logon hours
    (0xC000006E, 0xC0000070, 1329),  # "Log On To" workstations
    (0xC000006E, 0xC0000071, 1330),  # password expired
    (0xC000006E, 0xC0000072, 1331),  # disabled
    (0xC000006E, 0xC0000193, 1793),  # account expired
    (0xC000006E, 0x0, 1327),
    (0xC0000224, 0x0, 1907),
    (0xC000015B, 0x0, 1385),
    (0xC0000133, 0x0, 1398),  # clock skew
    (0xC000005E, 0x0, 1311),  # no logon servers
    (0xC0000413, 0x0, 1935),
])
def test_4625_status_maps_to_the_trace_logs_reason(status, substatus, reason):
    assert logon_reason(status, substatus)[0] == reason


def _event(eid: int, data: dict[str, str], t: datetime = T0, record_id: int = 1) -> EventRecord:
    return EventRecord(event_id=eid, time=t.isoformat().replace("+00:00", "Z"), channel="Security",
                       provider="Microsoft-Windows-Security-Auditing", computer="PTA01", record_id=record_id,
                       data=data)


def test_agent_process_is_recognised_for_both_generations_and_custom_paths():
    matcher = AgentMatcher([AGENT, LEGACY, r"D:\Agents\AzureADConnectAuthenticationAgentService.exe"])
    for process in (AGENT, LEGACY.upper(), r"D:\Agents\AzureADConnectAuthenticationAgentService.exe"):
        attempt = attempt_from_event(_event(4625, {"ProcessName": process, "Status": "0xc000006d",
                                                   "SubStatus": "0xc000006a", "TargetUserName": "ann",
                                                   "TargetDomainName": "CONTOSO"}), matcher)
        assert attempt is not None and attempt.from_agent and attempt.account == "CONTOSO\\ann"
    other = attempt_from_event(_event(4625, {"ProcessName": r"C:\Windows\System32\winlogon.exe",
                                             "Status": "0xc000006d", "SubStatus": "0xc000006a"}), matcher)
    assert other is not None and not other.from_agent
    # a success from another process is not a PTA request; the agent's own success is
    assert attempt_from_event(_event(4624, {"ProcessName": r"C:\Windows\System32\lsass.exe"}), matcher) is None
    assert attempt_from_event(_event(4624, {"ProcessName": AGENT, "TargetUserName": "ann"}), matcher) is not None


def test_dc_events_decode_kerberos_and_ntlm_statuses():
    matcher = AgentMatcher([AGENT], ["PTA01"])
    kerberos = attempt_from_event(_event(4771, {"Status": "0x25", "TargetUserName": "bob",
                                                "IpAddress": "::ffff:10.0.0.5"}), matcher)
    assert kerberos is not None and kerberos.reason == 1398 and not kerberos.from_agent
    ntlm = attempt_from_event(_event(4776, {"Status": "0xc0000234", "TargetUserName": "bob",
                                            "Workstation": "PTA01"}), matcher)
    assert ntlm is not None and ntlm.reason == 1909 and ntlm.from_agent
    assert attempt_from_event(_event(4776, {"Status": "0x0", "Workstation": "PTA01"}), matcher) is None
    # a refused ticket request: an account the KDC does not know (what Kerberos user enumeration leaves)
    unknown = attempt_from_event(_event(4768, {"Status": "0x6", "TargetUserName": "test1",
                                               "IpAddress": "::ffff:10.0.0.5"}), matcher)
    assert unknown is not None and unknown.failed and unknown.reason == 1317 and unknown.account == "test1"
    assert attempt_from_event(_event(4768, {"Status": "0x0", "TargetUserName": "bob"}), matcher) is None


def _trace(reason: int, t: datetime | None, n: int = 1) -> SignInAttempt:
    return SignInAttempt(time=t, failed=True, reason=reason, origin="trace", from_agent=True,
                         request_id=f"req-{n}", agent="AzureADConnectAuthenticationAgentService.exe")


def _security(reason: int, t: datetime, account: str, from_agent: bool = True) -> SignInAttempt:
    return SignInAttempt(time=t, failed=True, reason=reason, origin="security", from_agent=from_agent,
                         account=account, event_id=4625)


def _finding(findings, finding_id):
    matches = [f for f in findings if f.id == finding_id]
    assert matches, [f.id for f in findings]
    return matches[0]


@pytest.mark.parametrize(("reason", "aadsts", "severity", "words"), [
    (1328, "AADSTS80012", Severity.WARNING, "Logon Hours"),
    (1329, "AADSTS50126", Severity.WARNING, "Log On To"),
    (1311, "AADSTS80007", Severity.ERROR, "domain controller"),
    (1722, "AADSTS80007", Severity.ERROR, "domain controller"),
    (1398, "AADSTS80013", Severity.ERROR, "time"),
])
def test_reason_findings_name_the_windows_message_the_user_code_and_the_remedy(reason, aadsts, severity, words):
    evidence = PtaEvidence()
    evidence.add_attempt(_trace(reason, T0))
    findings, results = analyse(evidence, expect_agent=False)
    finding = _finding(findings, f"pta-reason-{reason}")
    assert finding.severity is severity
    assert aadsts in finding.detail
    assert words.lower() in finding.remedy.lower()
    assert f"net helpmsg {reason}" in finding.detail
    [row] = results.by_reason
    assert row.reason == reason and row.count == 1 and row.message


def test_a_lockout_burst_counts_accounts_and_time():
    evidence = PtaEvidence()
    for i in range(30):
        evidence.add_attempt(_security(1909, T0 + timedelta(seconds=10 * i), f"CONTOSO\\user{i % 12}"))
    evidence.add_attempt(_security(1909, T0 + timedelta(hours=3), "CONTOSO\\late"))
    findings, results = analyse(evidence, expect_agent=False)
    burst = _finding(findings, "pta-lockout-burst")
    assert "30 failures within 4.8 minutes" in burst.detail
    assert "12 distinct account(s)" in burst.detail
    assert results.bursts[0].accounts == 12
    assert "All of them by the PTA agent." in burst.detail and results.bursts[0].by_agent == 30


def test_a_burst_says_how_much_of_it_the_agent_made():
    evidence = PtaEvidence()
    for i in range(30):
        evidence.add_attempt(_security(1909, T0 + timedelta(seconds=10 * i), f"CONTOSO\\user{i}", from_agent=i < 10))
    findings, results = analyse(evidence, expect_agent=False)
    assert "10 of them by the PTA agent" in _finding(findings, "pta-lockout-burst").detail
    others = PtaEvidence()
    for i in range(30):
        others.add_attempt(_security(1909, T0 + timedelta(seconds=10 * i), "CONTOSO\\svc", from_agent=False))
    findings, results = analyse(others, expect_agent=False)
    assert "None by the PTA agent" in _finding(findings, "pta-lockout-burst").detail
    assert results.bursts[0].by_agent == 0


def test_one_locked_out_account_retried_is_not_called_spraying():
    """30 lockout failures of one account (a phone with the old password) were 'possibly password spraying'."""
    evidence = PtaEvidence()
    for i in range(30):
        evidence.add_attempt(_security(1909, T0 + timedelta(seconds=10 * i), "CONTOSO\\svc"))
    findings, _ = analyse(evidence, expect_agent=False)
    burst = _finding(findings, "pta-lockout-burst")
    assert "spraying" not in burst.title and "contoso\\svc" in burst.title.lower()
    assert "old password" in burst.remedy


def test_no_burst_below_the_threshold():
    failures = [_security(1909, T0 + timedelta(minutes=3 * i), "CONTOSO\\a") for i in range(12)]
    assert find_burst(failures, 1909, timedelta(minutes=10), 10) is None


def test_spraying_many_accounts_few_tries_each():
    evidence = PtaEvidence()
    for i in range(40):
        evidence.add_attempt(_security(1326, T0 + timedelta(seconds=5 * i), f"CONTOSO\\u{i}"))
    findings, _ = analyse(evidence, expect_agent=False)
    assert _finding(findings, "password-spray-suspected").severity is Severity.WARNING


def test_trace_failures_are_correlated_with_the_agents_4625_by_time_and_reason():
    attempts = [_trace(1328, T0, 1), _trace(1326, T0 + timedelta(seconds=30), 2), _trace(1328, None, 3),
                _security(1328, T0 + timedelta(seconds=1), "CONTOSO\\ann"),
                _security(1326, T0 + timedelta(seconds=31), "CONTOSO\\bob"),
                _security(1326, T0 + timedelta(seconds=31), "CONTOSO\\eve", from_agent=False)]
    evidence = PtaEvidence()
    for attempt in attempts:
        evidence.add_attempt(attempt)
    _, results = analyse(evidence, expect_agent=True)
    pairs = results.correlated
    assert [(p.request_id, p.account) for p in pairs] == [("req-1", "CONTOSO\\ann"), ("req-2", "CONTOSO\\bob")]
    assert results.correlated_total == 2
    # the agent's failed requests: the two merged pairs (with the event's account) and the undated trace line
    traced = [r.attempt for r in results.requests if r.attempt.request_id]
    assert sorted(r.account for r in traced) == ["", "CONTOSO\\ann", "CONTOSO\\bob"]
    assert results.other_failures.count == 1  # the other process's event is not merged with the trace


def test_trace_problems_and_agent_events_become_findings():
    evidence = PtaEvidence()
    evidence.add_trace_problem("bootstrap", "Error", "Bootstrap failed", T0)
    evidence.add_agent_event("Microsoft-AadApplicationProxy-Connector/Admin", 1000, "Error",
                             "Connector re-registration failed: The Connector trust certificate expired.", T0)
    evidence.add_agent_event("Microsoft-AzureADConnect-AuthenticationAgent/Admin", 12345, "Error", "Something", T0)
    findings, results = analyse(evidence, expect_agent=False)
    assert "msappproxy.net" in _finding(findings, "pta-trace-bootstrap").remedy
    assert "Register" in _finding(findings, "pta-agent-event-1000").remedy
    assert "12345" in _finding(findings, "pta-agent-log-errors").detail
    assert results.agent_events[0].explained


@pytest.mark.parametrize(("message", "category"), [
    ("Failed to download the bootstrap configuration.", "bootstrap"),
    ("Certificate renewal failed: renewTrust returned 500", "trust-renewal"),
    ("Token validation failed: clock skew of 612 seconds", "time-skew"),
    ("Unable to connect to the remote server (servicebus)", "connectivity"),
    ("Something else entirely", None),
])
def test_trace_messages_are_grouped(message, category):
    from aadc_doctor.knowledge.pta_events import categorize_trace_message

    found = categorize_trace_message(message)
    assert (found.id if found else None) == category


def test_the_agent_process_is_found_whatever_the_case():
    matcher = AgentMatcher([AGENT, LEGACY])
    for value in (AGENT, AGENT.lower(), LEGACY.upper(), r"D:\Other\AzureADConnectAuthenticationAgentService.EXE"):
        assert matcher.is_agent_process(value)
    assert not matcher.is_agent_process("C:\\Windows\\System32\\lsass.exe")
    assert not matcher.is_agent_process("-")
    # the .evtx reader's cheap test compares lower-case executable names against the ProcessName's tail
    assert matcher.exe_names == {"azureadconnectauthenticationagentservice.exe", "applicationproxyconnectorservice.exe"}


def _success(t: datetime, account: str) -> SignInAttempt:
    return SignInAttempt(time=t, failed=False, reason=None, origin="security", from_agent=True, account=account,
                         event_id=4624, process=AGENT)


def _busy_server() -> list[SignInAttempt]:
    """200,000 successes by the agent, 3,000 of its failures (the first 100 also in the trace log), 500 others."""
    attempts = [_success(T0 + timedelta(milliseconds=50 * i), f"CONTOSO\\user{i % 997}") for i in range(200_000)]
    attempts += [_security(1326, T0 + timedelta(seconds=10 * i), f"CONTOSO\\user{i % 50}") for i in range(3000)]
    attempts += [_trace(1326, T0 + timedelta(seconds=10 * i + 1), i) for i in range(100)]
    attempts += [_security(1909, T0 + timedelta(hours=2, seconds=i), "CONTOSO\\svc", from_agent=False)
                 for i in range(500)]
    return attempts


def test_a_busy_servers_successes_are_counted_and_its_failures_listed_up_to_a_bound():
    """Every 4624 of the agent was kept and listed in requests: memory and output grew with the log."""
    evidence = PtaEvidence()
    for attempt in _busy_server():
        evidence.add_attempt(attempt)
    # stored: one compact row per failure, no success, and a bounded number of whole attempts
    assert len(evidence.failures) == 3000 + 100 + 500
    assert len(evidence.latest_requests) <= 2 * REQUESTS_KEPT and len(evidence.latest_others) == OTHER_SAMPLE
    findings, results = analyse(evidence, expect_agent=True)

    requests = to_json_data(results.requests)
    assert len(requests) == REQUESTS_KEPT and all(r["outcome"] == "failure" for r in requests)
    # the latest 1000 by time, oldest first: events 2000..2999 (the 100 trace failures merged into their events)
    assert requests[0]["time"] == "2024-03-05T13:33:20Z" and requests[-1]["time"] == "2024-03-05T16:19:50Z"
    assert results.requests_total == 3000 and results.requests_truncated is True
    # the correlation is exact although no correlated request is listed
    assert results.correlated_total == 100 and results.correlated == ()
    [wrong_password, locked] = results.by_reason
    assert (wrong_password.reason, wrong_password.count, wrong_password.pta_agent_count) == (1326, 3000, 3000)
    assert wrong_password.first_seen == "2024-03-05T08:00:01Z"  # event 0 was merged into trace failure 0
    assert wrong_password.last_seen == "2024-03-05T16:19:50Z"
    assert (locked.reason, locked.count) == (1909, 500)
    assert results.summary.failed == 3500 and results.summary.failed_by_agent == 3000
    assert results.other_failures.count == 500 and len(results.other_failures.latest) == OTHER_SAMPLE
    successes = results.successes
    assert successes.count == results.summary.succeeded_by_agent == 200_000
    assert sum(h.count for h in successes.by_hour) == 200_000 and len(successes.by_hour) == 3
    assert successes.first_seen == "2024-03-05T08:00:00Z" and successes.last_seen == "2024-03-05T10:46:39.950000Z"
    bursts = {b.reason: b for b in results.bursts}
    assert (bursts[1326].count, bursts[1326].accounts, bursts[1326].by_agent) == (3000, 50, 3000)
    assert (bursts[1909].count, bursts[1909].accounts, bursts[1909].by_agent) == (500, 1, 0)
    # the heat map's cells add up to the failures counted by hour
    assert sum(c.count for c in results.by_hour_reason) == sum(h.count for h in results.by_hour) == 3500
    assert "3000 PTA sign-in(s) failed" in _finding(findings, "pta-reason-1326").title
    assert "50 account(s)" in _finding(findings, "pta-reason-1326").detail
    assert not any(f.id == "pta-no-agent-events" for f in findings)


def test_evidence_read_in_parts_and_merged_gives_the_same_results():
    """Worker processes each read some files; their rows are renumbered into one evidence."""
    attempts = _busy_server()[::40]  # every 40th: 5,090 attempts, all kinds
    whole = PtaEvidence()
    for attempt in attempts:
        whole.add_attempt(attempt)
    merged = PtaEvidence()
    for part in (attempts[:1000], attempts[1000:4000], attempts[4000:]):
        evidence = PtaEvidence()
        for attempt in part:
            evidence.add_attempt(attempt)
        merged.merge(evidence)
    assert analyse(merged, expect_agent=True) == analyse(whole, expect_agent=True)
    _, results = analyse(whole, expect_agent=True)
    assert results.requests_total > 0 and results.successes.count == 5000


def test_listed_correlated_requests_carry_the_events_account():
    evidence = PtaEvidence()
    evidence.add_attempt(_trace(1328, T0, 1))
    evidence.add_attempt(_security(1328, T0 + timedelta(seconds=2), "CONTOSO\\ann"))
    evidence.add_attempt(_success(T0 + timedelta(seconds=3), "CONTOSO\\bob"))
    _, results = analyse(evidence, expect_agent=True)
    [request] = results.requests
    assert (request.attempt.request_id, request.attempt.account, request.attempt.event_id) == ("req-1", "CONTOSO\\ann",
                                                                                              4625)
    assert results.requests_total == 1 and results.requests_truncated is False
    assert [c.account for c in results.correlated] == ["CONTOSO\\ann"] and results.correlated_total == 1
    assert results.successes.count == 1
    # as JSON: the merged request carries the AADSTS code the user most likely saw, the undated keys left out
    data = to_json_data(request)
    assert data["aadsts"] == 80012 and data["account"] == "CONTOSO\\ann" and "client" not in data


def test_an_attempt_as_json_lists_the_fixed_keys_then_only_what_is_known() -> None:
    attempt = SignInAttempt(time=T0, failed=True, reason=1326, origin="security", from_agent=False,
                            account="CONTOSO\\ann", event_id=4625, status="0xc000006d", position=0)
    assert to_json_data(attempt) == {"time": "2024-03-05T08:00:00Z", "origin": "security", "outcome": "failure",
                                     "reason": 1326, "from_agent": False, "account": "CONTOSO\\ann",
                                     "event_id": 4625, "status": "0xc000006d", "position": 0}
    assert list(to_json_data(attempt))[:5] == ["time", "origin", "outcome", "reason", "from_agent"]
