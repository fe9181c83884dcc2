"""`ad logon` against a real Samba AD DC: every account state through the CLI, asserted exactly.

Each user of tests/infra/samba.py is in one state; the bind's `data` code must come out as the Reason the PTA
agent's trace logs, with the same wording as `pta trace` (analysis.pta.reason_info).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.conftest import CliRun
from tests.infra.ad_peers import JunkListener, ResettingListener
from tests.infra.ports import spare_loopback_address
from tests.infra.samba import LOCKOUT_THRESHOLD, PLANTED_PASSWORD, WORKSTATION, SambaDC

from aadc_doctor.analysis.pta import reason_info

PW_VAR = "AADC_TEST_AD_PASSWORD"
ADMIN_VAR = "AADC_TEST_AD_ADMIN"


def logon(run_cli: Callable[..., CliRun], dc: SambaDC, user: str, password: str, *extra: str) -> CliRun:
    return run_cli("ad", "logon", dc.upn(user), "--dc", dc.address, "--password-env", PW_VAR,
                   "--ca-file", str(dc.ca_file), "--tls-name", "dc1.contoso.test", "--timeout", "10",
                   "--reader", dc.admin_upn, "--reader-password-env", ADMIN_VAR, "--json", *extra,
                   env={PW_VAR: password, ADMIN_VAR: dc.admin_password})


def ids(run: CliRun) -> list[str]:
    return [f["id"] for f in run.json()["findings"]]


# user, data code, Win32 reason, the account finding the attributes add (or None)
STATES = [
    ("disabled", "533", 1331, None),
    ("mustchange", "773", 1907, "ad-password-expired"),
    ("expired", "532", 1330, "ad-password-expired"),
    ("acctexp", "701", 1793, None),
    ("hours", "530", 1328, "ad-logon-hours-now"),
    ("wks", "531", 1329, "ad-logon-to-excludes-agent"),
]


@pytest.mark.parametrize(("user", "data", "reason", "account_finding"), STATES)
def test_account_state_maps_to_the_agents_reason(run_cli: Callable[..., CliRun], samba_dc: SambaDC, user: str,
                                                 data: str, reason: int, account_finding: str | None) -> None:
    run = logon(run_cli, samba_dc, user, samba_dc.user_password, "--agent-server", "PTA-AGENT1")
    assert run.code == 1, run.stderr
    results = run.json()["results"]
    assert (results["outcome"], results["data_code"], results["reason"]) == ("rejected", data, reason)
    expected = [f"ad-logon-reason-{reason}"] + ([account_finding] if account_finding else [])
    assert ids(run) == expected
    info = reason_info(reason)
    first = run.json()["findings"][0]
    # the same words `pta trace` prints for this Reason: title, Windows message, AADSTS, remedy
    assert first["title"] == f"{samba_dc.upn(user)}: {info.title}"
    assert f"net helpmsg {reason} ({info.name}): {info.message}" in first["detail"]
    assert first["remedy"] == info.remedy
    assert results["aadsts"] == info.aadsts and results["message"] == info.message


def test_wrong_password_is_1326(run_cli: Callable[..., CliRun], samba_dc: SambaDC) -> None:
    run = logon(run_cli, samba_dc, "wrongpw", "not-the-password")
    assert run.code == 1
    results = run.json()["results"]
    assert (results["data_code"], results["reason"], results["aadsts"]) == ("52e", 1326, 50126)
    assert ids(run) == ["ad-logon-reason-1326"]
    assert results["account"]["bad_password_count"] == 1


def test_good_password_and_account_explained(run_cli: Callable[..., CliRun], samba_dc: SambaDC) -> None:
    run = logon(run_cli, samba_dc, "alice", samba_dc.user_password)
    assert run.code == 0, run.stdout + run.stderr
    assert ids(run) == ["ad-logon-ok"]
    results = run.json()["results"]
    assert (results["outcome"], results["reason"], results["data_code"]) == ("ok", None, None)
    account = results["account"]
    assert account["uac_flags"] == ["NORMAL_ACCOUNT"]
    assert account["policy"] == {"max_password_age_days": 42, "lockout_threshold": LOCKOUT_THRESHOLD,
                                 "lockout_duration_minutes": 30, "observation_window_minutes": 30}
    assert account["logon_hours"] is None and account["workstations"] == []
    assert not account["password_expired"] and not account["locked_out"] and account["account_expires"] is None


def test_attributes_say_why(run_cli: Callable[..., CliRun], samba_dc: SambaDC) -> None:
    hours = logon(run_cli, samba_dc, "hours", samba_dc.user_password, "--utc-offset", "+01:00").json()["results"]
    assert hours["account"]["logon_hours"]["summary"] == "no hour at all"
    assert hours["account"]["logon_hours"]["zone"] == "UTC+01:00"
    assert hours["account"]["logon_hours"]["week"]["Mon"] == "." * 24
    wks = logon(run_cli, samba_dc, "wks", samba_dc.user_password, "--agent-server", "pta1.contoso.test",
                "--agent-server", WORKSTATION).json()["results"]["account"]
    assert wks["workstations"] == [WORKSTATION]
    assert wks["agent_servers_allowed"] is False  # pta1 is not in the list
    expired = logon(run_cli, samba_dc, "expired", samba_dc.user_password).json()["results"]["account"]
    assert expired["pwd_last_set"].startswith("2020-01-01T00:00:0")
    assert expired["password_expires"].startswith("2020-02-12T")
    assert expired["password_expired"] is True and "PASSWORD_EXPIRED" in expired["uac_flags"]
    acctexp = logon(run_cli, samba_dc, "acctexp", samba_dc.user_password).json()["results"]["account"]
    assert acctexp["account_expired"] is True
    disabled = logon(run_cli, samba_dc, "disabled", samba_dc.user_password).json()["results"]["account"]
    assert disabled["uac_flags"] == ["ACCOUNTDISABLE", "NORMAL_ACCOUNT"]


def test_without_reader_the_account_is_not_read(run_cli: Callable[..., CliRun], samba_dc: SambaDC) -> None:
    run = run_cli("ad", "logon", samba_dc.upn("disabled"), "--dc", samba_dc.address, "--password-env", PW_VAR,
                  "--insecure-tls", "--json", env={PW_VAR: samba_dc.user_password})
    assert run.code == 1
    assert ids(run) == ["ad-logon-reason-1331", "ad-account-unreadable"]
    assert run.json()["results"]["account"] is None


def test_locked_out_after_the_threshold(run_cli: Callable[..., CliRun], samba_dc: SambaDC) -> None:
    for _ in range(LOCKOUT_THRESHOLD):
        wrong = logon(run_cli, samba_dc, "lockme", "wrong-password")
        assert wrong.json()["results"]["reason"] == 1326
    run = logon(run_cli, samba_dc, "lockme", samba_dc.user_password)
    assert run.code == 1
    results = run.json()["results"]
    assert (results["data_code"], results["reason"]) == ("775", 1909)
    assert ids(run) == ["ad-logon-reason-1909", "ad-account-locked"]
    assert results["account"]["locked_out"] is True
    assert results["account"]["lockout_time"] is not None
    locked = run.json()["findings"][1]
    assert "3 bad password(s) within 30 minutes lock the account for 30 minutes" in locked["detail"]
    samba_dc.unlock("lockme")
    assert logon(run_cli, samba_dc, "lockme", samba_dc.user_password).code == 0


def test_human_output(run_cli: Callable[..., CliRun], samba_dc: SambaDC) -> None:
    run = run_cli("ad", "logon", samba_dc.upn("hours"), "--dc", samba_dc.address, "--password-env", PW_VAR,
                  "--insecure-tls", "--reader", samba_dc.admin_upn, "--reader-password-env", ADMIN_VAR,
                  env={PW_VAR: samba_dc.user_password, ADMIN_VAR: samba_dc.admin_password})
    assert run.code == 1
    assert "data 530 -> Reason 1328" in run.stdout
    assert "logon hours (UTC): no hour at all" in run.stdout
    assert "Sun ........................" in run.stdout
    assert "ad-logon-reason-1328" in run.stdout


# ---- transports and TLS ---------------------------------------------------------------------------------------


def test_strong_auth_dc_refuses_plain_ldap(run_cli: Callable[..., CliRun], samba_dc_strong: SambaDC) -> None:
    dc = samba_dc_strong
    plain = run_cli("ad", "logon", dc.upn("alice"), "--dc", dc.address, "--password-env", PW_VAR,
                    "--transport", "ldap", "--json", env={PW_VAR: dc.user_password})
    assert plain.code == 1
    assert ids(plain) == ["ad-logon-strong-auth-required"]
    assert plain.json()["results"]["outcome"] == "strong_auth_required"
    starttls = run_cli("ad", "logon", dc.upn("alice"), "--dc", dc.address, "--password-env", PW_VAR,
                       "--starttls", "--ca-file", str(dc.ca_file), "--tls-name", "dc1.contoso.test", "--json",
                       env={PW_VAR: dc.user_password})
    assert starttls.code == 0, starttls.stdout
    assert ids(starttls) == ["ad-logon-ok"]
    assert starttls.json()["results"]["transport"] == "starttls"


def test_plain_ldap_when_asked_on_a_lenient_dc(run_cli: Callable[..., CliRun], samba_dc: SambaDC) -> None:
    run = run_cli("ad", "logon", samba_dc.upn("disabled"), "--dc", samba_dc.address, "--password-env", PW_VAR,
                  "--transport", "ldap", "--json", env={PW_VAR: samba_dc.user_password})
    assert run.json()["results"]["reason"] == 1331


def test_untrusted_ldaps_names_the_issuer(run_cli: Callable[..., CliRun], samba_dc: SambaDC) -> None:
    run = run_cli("ad", "logon", samba_dc.upn("alice"), "--dc", samba_dc.address, "--password-env", PW_VAR,
                  "--json", env={PW_VAR: samba_dc.user_password})
    assert run.code == 1
    assert ids(run) == ["ad-logon-tls-untrusted"]
    finding = run.json()["findings"][0]
    issuer = "CN=DC1.contoso.test,OU=Samba - temporary autogenerated CA certificate,O=Samba Administration"
    assert finding["title"].endswith(f"(issuer {issuer})")
    assert run.json()["results"]["outcome"] == "tls_untrusted"


def test_certificate_name_must_match(run_cli: Callable[..., CliRun], samba_dc: SambaDC) -> None:
    run = run_cli("ad", "logon", samba_dc.upn("alice"), "--dc", samba_dc.address, "--password-env", PW_VAR,
                  "--ca-file", str(samba_dc.ca_file), "--tls-name", "other.contoso.test", "--json",
                  env={PW_VAR: samba_dc.user_password})
    assert ids(run) == ["ad-logon-tls-untrusted"]


def test_unreachable_dc(run_cli: Callable[..., CliRun]) -> None:
    address = spare_loopback_address(tcp_ports=(636, 389))
    run = run_cli("ad", "logon", "alice@contoso.test", "--dc", address, "--password-env", PW_VAR, "--json",
                  "--timeout", "3", env={PW_VAR: "x-password"})
    assert run.code == 1
    assert ids(run) == ["ad-logon-transport-failed"]
    assert run.json()["results"]["outcome"] == "refused"


def test_tls_reset_during_handshake(run_cli: Callable[..., CliRun]) -> None:
    address = spare_loopback_address(tcp_ports=(636,))
    with ResettingListener(address, 636):
        run = run_cli("ad", "logon", "alice@contoso.test", "--dc", address, "--password-env", PW_VAR, "--json",
                      "--timeout", "3", env={PW_VAR: "x-password"})
    assert run.code == 1
    assert ids(run) == ["ad-logon-transport-failed"]
    assert run.json()["results"]["outcome"] == "tls_reset"


def test_not_a_dc(run_cli: Callable[..., CliRun]) -> None:
    address = spare_loopback_address(tcp_ports=(389,))
    with JunkListener(address, 389):
        run = run_cli("ad", "logon", "alice@contoso.test", "--dc", address, "--password-env", PW_VAR,
                      "--transport", "ldap", "--json", "--timeout", "3", env={PW_VAR: "x-password"})
    assert run.code == 1
    assert ids(run) == ["ad-logon-transport-failed"]
    assert "Traceback" not in run.stderr


# ---- the password never shows --------------------------------------------------------------------------------


def _all_text(run: CliRun) -> str:
    return run.stdout + run.stderr


@pytest.mark.parametrize("extra", [(), ("--json",), ("--debug",), ("--json", "--debug")])
def test_password_never_printed(run_cli: Callable[..., CliRun], samba_dc: SambaDC, tmp_path: Any,
                                extra: tuple[str, ...]) -> None:
    report = tmp_path / ("report.html" if "--debug" in extra else "report.json")  # both report formats
    run = run_cli("ad", "logon", samba_dc.upn("planted"), "--dc", samba_dc.address, "--password-env", PW_VAR,
                  "--insecure-tls", "--output", str(report), *extra, env={PW_VAR: PLANTED_PASSWORD})
    assert run.code == 1
    assert "Reason" in _all_text(run) or "1326" in _all_text(run)
    assert PLANTED_PASSWORD not in _all_text(run)
    assert PLANTED_PASSWORD not in report.read_text()
    samba_dc.unlock("planted")


def test_password_never_in_errors(run_cli: Callable[..., CliRun]) -> None:
    address = spare_loopback_address(tcp_ports=(636,))
    with ResettingListener(address, 636):
        run = run_cli("ad", "logon", "alice@contoso.test", "--dc", address, "--password-env", PW_VAR, "--debug",
                      "--timeout", "3", env={PW_VAR: PLANTED_PASSWORD})
    assert PLANTED_PASSWORD not in _all_text(run)
    missing = run_cli("ad", "logon", "alice@contoso.test", "--dc", address, "--password-env", "NOT_SET_VAR")
    assert missing.code == 2 and missing.stderr.count("\n") <= 2 and "NOT_SET_VAR" in missing.stderr


def test_stalled_ldaps_times_out(run_cli: Callable[..., CliRun]) -> None:
    import time

    from tests.infra.ports import StalledProxy

    address = spare_loopback_address(tcp_ports=(636,))
    with StalledProxy(address, 636):
        start = time.monotonic()
        run = run_cli("ad", "logon", "alice@contoso.test", "--dc", address, "--password-env", PW_VAR, "--json",
                      "--timeout", "1", env={PW_VAR: "x-password"})
        elapsed = time.monotonic() - start
    assert run.code == 1 and elapsed < 4
    assert ids(run) == ["ad-logon-transport-failed"]
    assert run.json()["results"]["outcome"] == "timeout"
