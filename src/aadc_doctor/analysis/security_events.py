"""Security-log logon events as PTA sign-in attempts: Status/SubStatus decoded to the trace log's Win32 reasons.

The agent validates passwords with LogonUser on its own server, so its sign-ins appear there as 4624/4625
(and 4648) with the agent's ProcessName; domain controllers add 4776 (NTLM), 4771 (Kerberos pre-authentication)
and failed 4768 (a Kerberos ticket refused: an unknown or disabled account), which carry no process name.
Pure: records in, attempts out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aadc_doctor.json_data import json_meta
from aadc_doctor.knowledge.codes import ntstatus_to_win32
from aadc_doctor.knowledge.pta_events import kerberos_to_win32
from aadc_doctor.logs.event_xml import EventRecord, parse_iso_time
from aadc_doctor.logs.event_xml import format_iso_time as iso

LOGON_SUCCESS = 4624
LOGON_FAILURE = 4625
EXPLICIT_CREDENTIALS = 4648
KERBEROS_TGT_REQUEST = 4768
KERBEROS_PREAUTH_FAILED = 4771
NTLM_VALIDATION = 4776
SECURITY_EVENT_IDS = frozenset({LOGON_SUCCESS, LOGON_FAILURE, EXPLICIT_CREDENTIALS, KERBEROS_TGT_REQUEST,
                                KERBEROS_PREAUTH_FAILED, NTLM_VALIDATION})
STATUS_LOGON_FAILURE = 0xC000006D


_SKIP = json_meta(skip=True)  # written by json_leading, in the contract's order
_UNLESS_EMPTY = json_meta(omit_empty=True)  # a text left out when empty
_UNLESS_NONE = json_meta(omit_none=True)


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    """One password validation, from a trace log or a Security event, in one shape for the analysis.

    As JSON: time, origin, outcome, reason and from_agent, then only the details that are known.
    """

    time: datetime | None = field(metadata=_SKIP)
    failed: bool = field(metadata=_SKIP)
    reason: int | None = field(metadata=_SKIP)  # the Win32 code, as the agent's trace log would write it
    origin: str = field(metadata=_SKIP)  # "trace" | "security"
    from_agent: bool = field(metadata=_SKIP)
    request_id: str = field(default="", metadata=_UNLESS_EMPTY)
    account: str = field(default="", metadata=_UNLESS_EMPTY)
    event_id: int | None = field(default=None, metadata=_UNLESS_NONE)
    status: str = field(default="", metadata=_UNLESS_EMPTY)
    substatus: str = field(default="", metadata=_UNLESS_EMPTY)
    # the SubStatus's own Win32 code when it is more precise
    detail_reason: int | None = field(default=None, metadata=_UNLESS_NONE)
    process: str = field(default="", metadata=_UNLESS_EMPTY)
    computer: str = field(default="", metadata=_UNLESS_EMPTY)
    client: str = field(default="", metadata=_UNLESS_EMPTY)
    logon_type: str = field(default="", metadata=_UNLESS_EMPTY)
    agent: str = field(default="", metadata=_UNLESS_EMPTY)
    file: str = field(default="", metadata=_UNLESS_EMPTY)
    position: int | None = field(default=None, metadata=_UNLESS_NONE)  # trace line or event record id

    def json_leading(self) -> dict[str, object]:
        return {"time": iso(self.time), "origin": self.origin, "outcome": "failure" if self.failed else "success",
                "reason": self.reason, "from_agent": self.from_agent}


def parse_system_time(text: str) -> datetime | None:
    """SystemTime (ISO 8601, up to 9 fractional digits, Z or an offset) as an aware UTC datetime, else None."""
    return parse_iso_time(text)


def parse_status(text: str) -> int | None:
    """A Status/SubStatus/Failure code value (0xc000006d, -1073741715, 0x18) as an unsigned int."""
    value = text.strip()
    if not value or value == "-":
        return None
    try:
        number = int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None
    return number & 0xFFFFFFFF if number < 0 else number


def logon_reason(status: int | None, substatus: int | None) -> tuple[int | None, int | None]:
    """(reason, detail) for a 4625: the Win32 code LogonUser returns, and the SubStatus's own code.

    Under STATUS_LOGON_FAILURE LogonUser reports 1326 whatever the SubStatus (wrong password and unknown
    user look alike to the caller); otherwise a non-zero SubStatus names the precise restriction.
    """
    detail = ntstatus_to_win32(substatus) if substatus else None
    if status == STATUS_LOGON_FAILURE:
        return ntstatus_to_win32(status), detail
    if substatus:
        return detail if detail is not None else (ntstatus_to_win32(status) if status else None), None
    return (ntstatus_to_win32(status) if status else None), None


class AgentMatcher:
    """Decides whether a ProcessName (or a DC event's client) is the PTA agent."""

    def __init__(self, processes: list[str], agent_hosts: list[str] | None = None) -> None:
        self.paths = frozenset(p.lower() for p in processes)
        self.exe_names = frozenset(p.lower().rsplit("\\", 1)[-1] for p in processes)
        self.host_names = frozenset(agent_hosts or [])
        hosts: set[str] = set()
        for name in self.host_names:
            normal = _host_key(name)
            hosts.add(normal)
            if not normal.replace(".", "").isdigit():
                hosts.add(normal.split(".")[0])  # PTA01.contoso.com also matches the NetBIOS-style PTA01
        self.hosts = frozenset(hosts)

    def is_agent_process(self, process_name: str) -> bool:
        lowered = process_name.strip().lower()
        if not lowered or lowered == "-":
            return False
        return lowered in self.paths or lowered.rsplit("\\", 1)[-1] in self.exe_names

    def is_agent_host(self, *names: str) -> bool:
        if not self.hosts:
            return False
        for name in names:
            key = _host_key(name)
            if key and (key in self.hosts or (not key.replace(".", "").isdigit() and key.split(".")[0] in self.hosts)):
                return True
        return False


def _host_key(name: str) -> str:
    """A host as events write it (\\\\PTA01, ::ffff:10.0.0.5, PTA01.contoso.com), lower-case."""
    return name.strip().lower().lstrip("\\").removeprefix("::ffff:")


def _account(data: dict[str, str]) -> str:
    user = data.get("TargetUserName", "")
    domain = data.get("TargetDomainName", "")
    if not user or user == "-":
        return ""
    return f"{domain}\\{user}" if domain and domain != "-" else user


def _attempt(record: EventRecord, *, failed: bool, reason: int | None, from_agent: bool, account: str = "",
             status: str = "", substatus: str = "", detail_reason: int | None = None, process: str = "",
             client: str = "", logon_type: str = "") -> SignInAttempt:
    return SignInAttempt(time=parse_system_time(record.time), failed=failed, reason=reason, origin="security",
                         from_agent=from_agent, account=account, event_id=record.event_id, status=status,
                         substatus=substatus, detail_reason=detail_reason, process=process,
                         computer=record.computer, client=client, logon_type=logon_type, file=record.source,
                         position=record.record_id)


def attempt_from_event(record: EventRecord, matcher: AgentMatcher) -> SignInAttempt | None:
    """The sign-in attempt a Security event records, or None for events that are not one."""
    data = record.data
    eid = record.event_id
    if eid in (LOGON_SUCCESS, LOGON_FAILURE, EXPLICIT_CREDENTIALS):
        process = data.get("ProcessName", "")
        from_agent = matcher.is_agent_process(process)
        client = _present(data.get("IpAddress", "")) or _present(data.get("WorkstationName", ""))
        if eid == LOGON_FAILURE:
            status_text, sub_text = data.get("Status", ""), data.get("SubStatus", "")
            reason, detail = logon_reason(parse_status(status_text), parse_status(sub_text))
            return _attempt(record, failed=True, reason=reason, from_agent=from_agent, account=_account(data),
                            status=status_text, substatus=sub_text, detail_reason=detail, process=process,
                            client=client, logon_type=data.get("LogonType", ""))
        if not from_agent:
            return None  # successes matter only when they are the agent's
        if eid == EXPLICIT_CREDENTIALS:
            return _attempt(record, failed=False, reason=None, from_agent=True, account=_account(data),
                            process=process, client=_present(data.get("TargetServerName", "")))
        return _attempt(record, failed=False, reason=None, from_agent=True, account=_account(data), process=process,
                        client=client, logon_type=data.get("LogonType", ""))
    if eid in (KERBEROS_PREAUTH_FAILED, KERBEROS_TGT_REQUEST):
        status_text = data.get("Status", "")
        code = parse_status(status_text)
        if eid == KERBEROS_TGT_REQUEST and not code:
            return None  # a ticket issued (Kerberos user enumeration shows up as 0x6 failures, not here)
        client = data.get("IpAddress", "")
        return _attempt(record, failed=True, reason=kerberos_to_win32().get(code) if code is not None else None,
                        from_agent=matcher.is_agent_host(client), account=data.get("TargetUserName", ""),
                        status=status_text, client=client)
    if eid == NTLM_VALIDATION:
        status_text = data.get("Status", "")
        code = parse_status(status_text)
        if not code:
            return None  # a successful validation
        workstation = data.get("Workstation", "")
        return _attempt(record, failed=True, reason=ntstatus_to_win32(code),
                        from_agent=matcher.is_agent_host(workstation), account=data.get("TargetUserName", ""),
                        status=status_text, client=workstation)
    return None


def _present(value: str) -> str:
    return "" if value.strip() in ("", "-") else value.strip()
