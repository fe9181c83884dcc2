"""A user object's logon-relevant attributes, explained: what blocks LogonUser for it and why. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aadc_doctor.ad import logon_hours
from aadc_doctor.ad.ad_time import duration_text, from_filetime, from_interval, iso
from aadc_doctor.ad.directory import first_int, first_text
from aadc_doctor.ad.logon_hours import LogonHours
from aadc_doctor.json_data import json_meta
from aadc_doctor.knowledge.ad import flag_names, templates, uac_flags
from aadc_doctor.model import Finding

USER_ATTRIBUTES = ["sAMAccountName", "userPrincipalName", "userAccountControl",
                   "msDS-User-Account-Control-Computed", "logonHours", "userWorkstations", "accountExpires",
                   "pwdLastSet", "lockoutTime", "badPwdCount", "msDS-ResultantPSO"]
POLICY_ATTRIBUTES = ["maxPwdAge", "lockoutThreshold", "lockoutDuration", "lockOutObservationWindow"]
UF_DONT_EXPIRE_PASSWD = 0x10000


_EXTRA = json_meta(skip=True)  # written by json_extra


@dataclass(frozen=True)
class Policy:
    """The domain's password and lockout policy."""

    max_password_age: timedelta | None = field(metadata=_EXTRA)
    lockout_threshold: int = field(metadata=_EXTRA)
    lockout_duration: timedelta | None = field(metadata=_EXTRA)
    observation_window: timedelta | None = field(metadata=_EXTRA)

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Policy:
        return cls(from_interval(first_int(entry.get("maxPwdAge"))), first_int(entry.get("lockoutThreshold")) or 0,
                   from_interval(first_int(entry.get("lockoutDuration"))),
                   from_interval(first_int(entry.get("lockOutObservationWindow"))))

    def json_extra(self) -> dict[str, int | None]:
        """The durations in the units the report gives them (days, minutes)."""
        return {"max_password_age_days": self.max_password_age.days if self.max_password_age else None,
                "lockout_threshold": self.lockout_threshold,
                "lockout_duration_minutes": _minutes(self.lockout_duration),
                "observation_window_minutes": _minutes(self.observation_window)}


def _minutes(delta: timedelta | None) -> int | None:
    return int(delta.total_seconds() // 60) if delta is not None else None


def _host_key(name: str) -> str:
    return name.split(".")[0].upper()


@dataclass(frozen=True)
class AccountState:
    """A user's logon-relevant attributes, decoded: what LogonUser checks beyond the password."""

    dn: str
    sam_account_name: str | None
    user_account_control: int
    uac_flags: tuple[str, ...]
    logon_hours: LogonHours | None  # None: every hour allowed
    workstations: tuple[str, ...]  # "Log On To"; empty: any computer
    agent_servers: tuple[str, ...]
    agent_servers_allowed: bool | None  # None: no restriction, or no agent server given
    account_expires: str | None
    account_expired: bool
    pwd_last_set: str | None
    must_change_password: bool
    password_never_expires: bool
    password_expires: str | None
    password_expired: bool
    lockout_time: str | None
    locked_out: bool
    bad_password_count: int | None
    password_settings_object: str | None
    policy: Policy | None


def explain_account(entry: dict[str, Any], policy: Policy | None, *, agents: list[str], now: datetime,
                    offset: timedelta, zone: str) -> AccountState:
    uac = first_int(entry.get("userAccountControl")) or 0
    computed = first_int(entry.get("msDS-User-Account-Control-Computed")) or 0
    raw_hours = entry.get("logonHours")
    hours = logon_hours.describe(raw_hours[0] if raw_hours else None, offset, zone, now)
    workstations = [w.strip() for w in (first_text(entry.get("userWorkstations")) or "").split(",") if w.strip()]
    agent_allowed = None
    if workstations:
        allowed = {_host_key(w) for w in workstations}
        agent_allowed = all(_host_key(a) in allowed for a in agents) if agents else None
    expires = from_filetime(first_int(entry.get("accountExpires")))
    raw_last_set = first_int(entry.get("pwdLastSet"))
    last_set = from_filetime(raw_last_set)
    max_age = policy.max_password_age if policy else None
    never_expires = bool(uac & UF_DONT_EXPIRE_PASSWD)
    password_expires = last_set + max_age if last_set and max_age and not never_expires else None
    lockout_time = from_filetime(first_int(entry.get("lockoutTime")))
    duration = policy.lockout_duration if policy else None
    locked = bool(computed & 0x10) or bool(lockout_time and (duration is None or lockout_time + duration > now))
    return AccountState(
        dn=entry.get("dn", ""), sam_account_name=first_text(entry.get("sAMAccountName")),
        user_account_control=uac, uac_flags=tuple(flag_names(uac | (computed & 0x800010), uac_flags())),
        logon_hours=hours, workstations=tuple(workstations), agent_servers=tuple(agents),
        agent_servers_allowed=agent_allowed,
        account_expires=iso(expires), account_expired=bool(expires and expires <= now),
        pwd_last_set=iso(last_set), must_change_password=raw_last_set == 0,
        password_never_expires=never_expires, password_expires=iso(password_expires),
        password_expired=bool(computed & 0x800000) or bool(password_expires and password_expires <= now),
        lockout_time=iso(lockout_time), locked_out=locked,
        bad_password_count=first_int(entry.get("badPwdCount")),
        password_settings_object=first_text(entry.get("msDS-ResultantPSO")),
        policy=policy)


def account_findings(upn: str, account: AccountState, policy: Policy | None) -> list[Finding]:
    t = templates("logon")
    findings = []
    if account.workstations and account.agent_servers_allowed is False:
        findings.append(t["logon_to"].render(upn, upn=upn, agents=", ".join(account.agent_servers),
                                             workstations=",".join(account.workstations)))
    hours = account.logon_hours
    if hours is not None and not hours.allowed_now:
        findings.append(t["hours_now"].render(upn, upn=upn, now=hours.now, allowed=hours.summary))
    if account.must_change_password or account.password_expired:
        state = "must be changed at next logon (pwdLastSet = 0)" if account.must_change_password else \
            f"expired on {account.password_expires or '?'}"
        findings.append(t["password_expiry"].render(
            upn, upn=upn, state=state, set_at=account.pwd_last_set or "0 (never)",
            max_age=duration_text(policy.max_password_age) if policy else "unknown"))
    if account.locked_out:
        findings.append(t["locked"].render(
            upn, upn=upn, since=account.lockout_time or "?",
            threshold=policy.lockout_threshold if policy else "?",
            window=duration_text(policy.observation_window) if policy else "?",
            duration=duration_text(policy.lockout_duration) if policy else "?"))
    return findings
