"""Seamless SSO's computer account AZUREADSSOACC: present, enabled, key age, encryption types, SPNs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aadc_doctor.ad.ad_time import from_filetime, iso
from aadc_doctor.ad.directory import first_int, first_text, search_one
from aadc_doctor.knowledge.ad import enctype_flags, flag_names, sso_account, templates
from aadc_doctor.model import Finding

ATTRIBUTES = ["sAMAccountName", "userAccountControl", "pwdLastSet", "msDS-SupportedEncryptionTypes",
              "servicePrincipalName", "whenCreated", "description"]
RC4 = 0x4
AES = 0x8 | 0x10


def read_sso_account(conn: Any, base: str) -> dict[str, Any] | None:
    name = sso_account()["name"]
    return search_one(conn, base, f"(&(objectClass=computer)(sAMAccountName={name}$))", ATTRIBUTES)


@dataclass(frozen=True)
class SsoAccount:
    """AZUREADSSOACC$ as the directory holds it: what Seamless SSO's Kerberos tickets depend on."""

    dn: str
    sam_account_name: str | None
    enabled: bool
    user_account_control: int
    key_last_set: str | None
    key_age_days: int | None
    supported_encryption_types: int | None
    encryption_types: tuple[str, ...]
    spns: tuple[str, ...]


def describe(entry: dict[str, Any], now: datetime | None = None) -> SsoAccount:
    now = now or datetime.now(UTC)
    uac = first_int(entry.get("userAccountControl")) or 0
    enctypes = first_int(entry.get("msDS-SupportedEncryptionTypes"))
    last_set = from_filetime(first_int(entry.get("pwdLastSet")))
    spns = sorted(v.decode() if isinstance(v, bytes) else str(v) for v in entry.get("servicePrincipalName", []))
    return SsoAccount(
        dn=entry.get("dn", ""), sam_account_name=first_text(entry.get("sAMAccountName")),
        enabled=not uac & 0x2, user_account_control=uac,
        key_last_set=iso(last_set), key_age_days=(now - last_set).days if last_set else None,
        supported_encryption_types=enctypes,
        encryption_types=tuple(flag_names(enctypes, enctype_flags())) if enctypes is not None else (),
        spns=tuple(spns))


def sso_findings(domain: str, account: SsoAccount | None) -> list[Finding]:
    t = templates("sso")
    if account is None:
        return [t["missing"].render(domain, domain=domain)]
    name = account.sam_account_name or "AZUREADSSOACC$"
    findings = []
    if not account.enabled:
        findings.append(t["disabled"].render(name, account=name, uac=hex(account.user_account_control)))
    enctypes = account.supported_encryption_types
    if enctypes is None or enctypes == 0:
        findings.append(t["enctypes_unset"].render(name, account=name))
    elif not enctypes & AES:
        findings.append(t["rc4_only"].render(name, account=name, value=f"{enctypes} ({hex(enctypes)})",
                                             enctypes=", ".join(account.encryption_types)))
    age = account.key_age_days
    if age is not None and age > int(sso_account()["key_max_age_days"]):
        findings.append(t["key_old"].render(name, account=name, age=age, set_at=account.key_last_set))
    have = {s.lower() for s in account.spns}
    for spn in sso_account()["required_spns"]:
        if spn.lower() not in have:
            findings.append(t["spn_missing"].render(name, account=name, spn=spn))
    if not findings:
        findings.append(t["ok"].render(name, account=name, age=age if age is not None else "?",
                                       spns=", ".join(account.spns) or "none"))
    return findings
