"""Account attributes explained: logon hours, FILETIMEs, password age, lockout, Log On To, UAC flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aadc_doctor.ad import logon_hours
from aadc_doctor.ad.account_state import Policy, account_findings, explain_account
from aadc_doctor.ad.ad_time import NEVER, from_filetime, from_interval
from aadc_doctor.ad.logon import win32_for_data

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)  # a Monday


def filetime(moment: datetime) -> bytes:
    return str(int((moment - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10_000_000)).encode()


def test_filetimes() -> None:
    assert from_filetime(0) is None and from_filetime(NEVER) is None
    assert from_filetime(int(filetime(NOW))) == NOW
    assert from_interval(-36288000000000) == timedelta(days=42)
    assert from_interval(-(2**63)) is None


@pytest.mark.parametrize(("data", "win32"), [("525", 1317), ("52e", 1326), ("530", 1328), ("531", 1329),
                                             ("532", 1330), ("533", 1331), ("701", 1793), ("773", 1907),
                                             ("775", 1909)])
def test_bind_data_codes(data: str, win32: int) -> None:
    assert win32_for_data(data) == win32 == int(data, 16)


def weekday_hours(first: int, last: int) -> bytes:
    raw = bytearray(21)
    for day in range(1, 6):
        for hour in range(first, last):
            h = day * 24 + hour
            raw[h // 8] |= 1 << (h % 8)
    return bytes(raw)


def test_logon_hours_in_the_dcs_zone() -> None:
    raw = weekday_hours(7, 17)  # UTC
    described = logon_hours.describe(raw, timedelta(hours=1), "UTC+01:00", NOW)
    assert described is not None
    assert described is not None and described.week["Mon"] == "." * 8 + "#" * 10 + "." * 6
    assert described.summary == "; ".join(f"{d} 08-18" for d in ("Mon", "Tue", "Wed", "Thu", "Fri"))
    assert described.allowed_now is True
    assert described.now == "Mon 10:30 UTC+01:00"
    evening = logon_hours.describe(raw, timedelta(0), "UTC", NOW.replace(hour=20))
    assert evening is not None and evening.allowed_now is False
    assert logon_hours.describe(b"\xff" * 21, timedelta(0), "UTC", NOW) is None


@pytest.mark.parametrize("text", ["CET", "+1", "+15:00", "01:00"])
def test_bad_offsets(text: str) -> None:
    with pytest.raises(ValueError):
        logon_hours.parse_utc_offset(text)


POLICY = Policy(timedelta(days=42), 3, timedelta(minutes=30), timedelta(minutes=30))


def test_everything_wrong_at_once() -> None:
    entry = {"dn": "CN=u,DC=x", "sAMAccountName": [b"u"], "userAccountControl": [b"514"],
             "logonHours": [bytes(21)], "userWorkstations": [b"WS1,WS2"],
             "accountExpires": [filetime(NOW - timedelta(days=1))],
             "pwdLastSet": [filetime(NOW - timedelta(days=50))], "lockoutTime": [filetime(NOW - timedelta(minutes=5))],
             "badPwdCount": [b"3"]}
    account = explain_account(entry, POLICY, agents=["pta1"], now=NOW, offset=timedelta(0), zone="UTC")
    assert account.uac_flags == ("ACCOUNTDISABLE", "NORMAL_ACCOUNT")
    assert account.account_expired and account.password_expired and account.locked_out
    assert account.agent_servers_allowed is False and account.workstations == ("WS1", "WS2")
    assert [f.id for f in account_findings("u@x", account, POLICY)] == [
        "ad-logon-to-excludes-agent", "ad-logon-hours-now", "ad-password-expired", "ad-account-locked"]


def test_lockout_over_and_agent_listed() -> None:
    entry = {"userAccountControl": [b"66048"], "userWorkstations": [b"PTA1"],
             "pwdLastSet": [filetime(NOW - timedelta(days=400))], "lockoutTime": [filetime(NOW - timedelta(hours=2))]}
    account = explain_account(entry, POLICY, agents=["pta1.contoso.test"], now=NOW, offset=timedelta(0), zone="UTC")
    assert account.password_never_expires and not account.password_expired
    assert not account.locked_out and account.agent_servers_allowed is True
    assert account_findings("u@x", account, POLICY) == []
