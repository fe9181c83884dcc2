"""`ad`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aadc_doctor.json_data import json_meta
from aadc_doctor.results.base import JsonObject

if TYPE_CHECKING:
    from aadc_doctor.ad.dc_survey import DcSurvey
    from aadc_doctor.ad.discovery import Discovery


@dataclass(frozen=True)
class AdDcsResults:
    domain: str | None
    discovery: Discovery | None  # None when --dc named the DCs
    dcs: tuple[DcSurvey, ...]
    wall_ms: float


@dataclass(frozen=True)
class AdLogonResults:
    # ad/logon.validate: upn, dc, transport, outcome, reason, account
    logon: JsonObject = field(metadata=json_meta(flatten=True))


@dataclass(frozen=True)
class AdSsoResults:
    domain: str | None
    dc: str | None
    account: JsonObject | None  # AZUREADSSOACC as ad/sso_account.describe reads it
    tickets: JsonObject | None  # the 4769 tally (--events) and the files read


AdResults = AdDcsResults | AdLogonResults | AdSsoResults
