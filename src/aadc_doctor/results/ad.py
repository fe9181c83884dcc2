"""`ad`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aadc_doctor.json_data import json_meta

if TYPE_CHECKING:
    from aadc_doctor.ad.dc_survey import DcSurvey
    from aadc_doctor.ad.discovery import Discovery
    from aadc_doctor.ad.logon import LogonResult
    from aadc_doctor.ad.sso_account import SsoAccount
    from aadc_doctor.ad.sso_tickets import TicketSummary


@dataclass(frozen=True)
class AdDcsResults:
    domain: str | None
    discovery: Discovery | None  # None when --dc named the DCs
    dcs: tuple[DcSurvey, ...]
    wall_ms: float


@dataclass(frozen=True)
class AdLogonResults:
    logon: LogonResult = field(metadata=json_meta(flatten=True))  # ad/logon.validate: the bind, its reason, the account


@dataclass(frozen=True)
class AdSsoResults:
    domain: str | None
    dc: str | None
    account: SsoAccount | None  # AZUREADSSOACC as ad/sso_account.describe reads it
    tickets: TicketSummary | None  # the 4769 tally (--events) and the files read


AdResults = AdDcsResults | AdLogonResults | AdSsoResults
