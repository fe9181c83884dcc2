"""`check`'s results (see aadc_doctor/results/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aadc_doctor.json_data import json_meta

if TYPE_CHECKING:
    from aadc_doctor.net.outcome import EndpointResult
    from aadc_doctor.net.targets import NotProbed
    from aadc_doctor.proxyconfig.model import ProxyConfig


@dataclass(frozen=True)
class CheckProxy:
    config: ProxyConfig = field(metadata=json_meta(flatten=True))  # source, url (password removed), bypass...
    description: str = ""  # one line for a human


@dataclass(frozen=True)
class CheckAuth:
    mode: str  # --proxy-auth
    user: str | None


@dataclass(frozen=True)
class CheckResults:
    proxy: CheckProxy
    auth: CheckAuth
    profiles: tuple[str, ...]
    timeout_s: float
    concurrency: int
    wall_ms: float
    endpoints: tuple[EndpointResult, ...]
    not_probed: tuple[NotProbed, ...]
    connect_to: tuple[str, ...]
    connect_to_unused: tuple[str, ...]
