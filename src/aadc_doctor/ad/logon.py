"""`ad logon`: validate a password against a DC the way the agent's LogonUser does, and say why it fails.

The directory's answer to a simple bind carries the AcceptSecurityContext `data` code (52e, 775...): the Win32
error in hex, the same code the PTA agent writes as `Reason` in its trace. Its wording comes from the one
knowledge base `pta trace` uses (analysis.pta.reason_info).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aadc_doctor.ad.account_state import (
    POLICY_ATTRIBUTES,
    USER_ATTRIBUTES,
    AccountState,
    Policy,
    account_findings,
    explain_account,
)
from aadc_doctor.ad.directory import BindOutcome, TlsOptions, close, first_text, open_and_bind, search_one
from aadc_doctor.json_data import json_meta
from aadc_doctor.knowledge.ad import bind_data_codes, templates
from aadc_doctor.model import Finding


@dataclass(frozen=True)
class LogonRequest:
    upn: str
    dc: str
    transport: str
    timeout: float
    tls: TlsOptions
    tls_name: str | None
    agents: list[str]
    utc_offset: timedelta
    zone: str
    reader: str | None = None
    reader_password: str | None = field(default=None, repr=False)


def win32_for_data(code: str) -> int:
    """The data code is the Win32 error in hex (0x52e = 1326); the table documents the ones AD returns."""
    return bind_data_codes().get(code, int(code, 16))


def _ldap_filter_value(text: str) -> str:
    return "".join(f"\\{ord(c):02x}" if c in "*()\\\0" else c for c in text)


def _user_filter(upn: str) -> str:
    if "\\" in upn and "@" not in upn:
        return f"(&(objectCategory=person)(sAMAccountName={_ldap_filter_value(upn.split(chr(92), 1)[1])}))"
    return f"(&(objectCategory=person)(userPrincipalName={_ldap_filter_value(upn)}))"


@dataclass(frozen=True)
class ReasonExplained:
    """The Win32 reason of a refused bind, in the words `pta trace` uses for the same code."""

    code: int = field(metadata=json_meta(skip=True))  # the JSON's "reason", written by LogonResult
    reason_name: str
    reason_title: str
    message: str
    aadsts: int | None
    user_sees: str
    remedy: str


@dataclass(frozen=True)
class BindFailure:
    """The bind never got an answer: the connection or TLS failed."""

    error: str
    issuer: str | None = field(default=None, metadata=json_meta(omit_none=True))  # an untrusted certificate's


@dataclass(frozen=True)
class BindRejection:
    ldap_result: int | None
    ldap_message: str


_FLAT = json_meta(flatten=True, omit_none=True)


@dataclass(frozen=True)
class LogonResult:
    """`ad logon`'s results: how the bind ended, why, and the account's state when it could be read."""

    upn: str
    dc: str
    transport: str
    outcome: str  # ok, rejected, strong_auth_required, or the link failure's kind
    data_code: str | None = None  # the AcceptSecurityContext code of a refused bind (52e, 775...)
    reason: int | None = None  # its Win32 code
    account: AccountState | None = None
    failure: BindFailure | None = field(default=None, metadata=_FLAT)
    rejection: BindRejection | None = field(default=None, metadata=_FLAT)
    explained: ReasonExplained | None = field(default=None, metadata=_FLAT)


def reason_finding(upn: str, dc: str, data_code: str) -> tuple[Finding, ReasonExplained]:
    from aadc_doctor.analysis.pta import reason_info

    code = win32_for_data(data_code)
    info = reason_info(code)
    user = f"User side: {info.user_sees}" if info.user_sees else (
        f"The user most likely saw AADSTS{info.aadsts}." if info.aadsts else "")
    finding = templates("logon")["reason"].render(upn, code=code, upn=upn, title=info.title, dc=dc,
                                                  data_code=data_code, name=info.name or code, message=info.message,
                                                  user=user, remedy=info.remedy)
    finding = replace(finding, detail=finding.detail.strip())  # an empty {user}
    return finding, ReasonExplained(code=code, reason_name=info.name, reason_title=info.title, message=info.message,
                                    aadsts=info.aadsts, user_sees=info.user_sees, remedy=info.remedy)


def validate(request: LogonRequest, password: str) -> tuple[list[Finding], LogonResult]:
    t = templates("logon")
    outcome = open_and_bind(request.dc, request.transport, request.timeout, request.tls, user=request.upn,
                            password=password, tls_name=request.tls_name)
    try:
        findings, result = _bind_findings(request, outcome, t)
        if result.outcome in ("ok", "rejected"):
            account_findings_, account = _explain_account(request, outcome, result.outcome)
            findings += account_findings_
            result = replace(result, account=account)
    finally:
        close(outcome.connection)
    return findings, result


def _bind_findings(request: LogonRequest, outcome: BindOutcome,
                   t: dict[str, Any]) -> tuple[list[Finding], LogonResult]:
    upn, dc = request.upn, request.dc
    base = LogonResult(upn, dc, request.transport, "")
    label = {"ldaps": "LDAPS (636)", "starttls": "LDAP with StartTLS (389)", "ldap": "plain LDAP (389)"}
    if outcome.failure is not None:
        kind, error = outcome.failure.kind, outcome.failure.message
        if kind == "tls_untrusted":
            issuer = _issuer(request)
            return ([t["tls_untrusted"].render(upn, upn=upn, dc=dc, issuer=issuer, error=error)],
                    replace(base, outcome=kind, failure=BindFailure(error, issuer)))
        return ([t["transport_failed"].render(upn, upn=upn, dc=dc, transport=label[request.transport], error=error,
                                              port=636 if request.transport == "ldaps" else 389)],
                replace(base, outcome=kind, failure=BindFailure(error)))
    if outcome.result == 0:
        return [t["ok"].render(upn, upn=upn, dc=dc, transport=label[request.transport])], replace(base, outcome="ok")
    if outcome.result == 8:
        return ([t["strong_auth"].render(upn, dc=dc, message=(outcome.message or outcome.description).rstrip("."))],
                replace(base, outcome="strong_auth_required"))
    code = outcome.data_code
    rejected = replace(base, outcome="rejected", rejection=BindRejection(outcome.result, outcome.message))
    if code is None:
        return [t["unmapped"].render(upn, upn=upn, result=f"{outcome.result} {outcome.description}",
                                     message=outcome.message or "(no diagnostic message)")], rejected
    finding, reason = reason_finding(upn, dc, code)
    return [finding], replace(rejected, data_code=code, reason=reason.code, explained=reason)


def _issuer(request: LogonRequest) -> str:
    import ssl

    from aadc_doctor.ad.tls_certificate import describe_certificate, fetch_certificate

    try:
        return describe_certificate(fetch_certificate(request.dc, 636 if request.transport == "ldaps" else 389,
                                                      request.timeout)).issuer
    except (OSError, ssl.SSLError, ValueError):  # the issuer is a nicety; the error already says what failed
        return "unknown (see the error)"


def _explain_account(request: LogonRequest, outcome: BindOutcome,
                     bind: str) -> tuple[list[Finding], AccountState | None]:
    """The account's state read with the user's own bind when it succeeded, else with --reader."""
    t = templates("logon")
    reader = outcome.connection if bind == "ok" else None
    opened: BindOutcome | None = None
    why = "the bind was refused and no --reader was given"
    if reader is None and request.reader and request.reader_password:
        opened = open_and_bind(request.dc, request.transport, request.timeout, request.tls, user=request.reader,
                               password=request.reader_password, tls_name=request.tls_name)
        if opened.failure is None and opened.result == 0:
            reader = opened.connection
        else:
            why = f"the --reader bind failed ({opened.failure.message if opened.failure else opened.message})"
    try:
        if reader is None:
            return [t["account_unreadable"].render(request.upn, upn=request.upn, why=why + ".")], None
        root = search_one(reader, "", "(objectClass=*)", ["defaultNamingContext"], scope="BASE") or {}
        base = first_text(root.get("defaultNamingContext")) or ""
        entry = search_one(reader, base, _user_filter(request.upn), USER_ATTRIBUTES)
        if entry is None:
            return [t["account_unreadable"].render(request.upn, upn=request.upn,
                                                   why=f"no user with this UPN under {base or 'the domain'}.")], None
        policy_entry = search_one(reader, base, "(objectClass=domain)", POLICY_ATTRIBUTES, scope="BASE")
        policy = Policy.from_entry(policy_entry) if policy_entry else None
        account = explain_account(entry, policy, agents=request.agents, now=datetime.now(UTC),
                                  offset=request.utc_offset, zone=request.zone)
        return account_findings(request.upn, account, policy), account
    finally:
        if opened is not None:
            close(opened.connection)
