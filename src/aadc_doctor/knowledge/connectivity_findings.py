"""Loader for ``data/connectivity_findings.toml``: what `check` says about each probe outcome.

The texts are data (quoting and paraphrasing the articles) so wording and references change without code;
the loader checks on first use that every outcome has a template and every reference key exists.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from typing import Any

from aadc_doctor.knowledge import read_toml
from aadc_doctor.model import Finding, Severity

OUTCOME_KEYS = ("proxy_forbidden", "proxy_auth_required", "proxy_error", "proxy_unreachable", "dns_failure",
                "tcp_refused", "tcp_timeout", "tls_intercepted", "tls_failure", "http_error", "timeout")
EXTRA_KEYS = ("mfa", "crl", "crl_stale", "proxy_auth_rejected", "pta_proxy_auth", "dns_cname", "tls_intercepted_many")
ALL_KEYS = ("proxy_unreachable", "proxy_timeout", "dns_failure", "tcp", "proxy_auth_required", "proxy_forbidden")


class _Blank(dict[str, Any]):
    """Format mapping that leaves unknown placeholders empty instead of raising."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class FindingTemplate:
    id: str
    severity: Severity
    title: str
    detail: str
    remedy: str
    references: tuple[str, ...]

    def render(self, subject: str = "", **values: Any) -> Finding:
        fields = _Blank({k: v for k, v in values.items() if v is not None})
        fmt = string.Formatter()
        return Finding(
            id=self.id, severity=self.severity, title=fmt.vformat(self.title, (), fields),
            detail=fmt.vformat(self.detail, (), fields).replace("..", ".").strip(),
            remedy=fmt.vformat(self.remedy, (), fields), subject=subject, references=self.references,
        )


@dataclass(frozen=True)
class ConnectivityKnowledge:
    outcome: dict[str, FindingTemplate]
    extra: dict[str, FindingTemplate]
    all_failed: dict[str, FindingTemplate]
    expected_issuer_organizations: frozenset[str]


def _template(raw: dict[str, Any], refs: dict[str, str], where: str) -> FindingTemplate:
    missing = [r for r in raw.get("references", ()) if r not in refs]
    if missing:
        raise ValueError(f"connectivity_findings.toml [{where}]: unknown reference key(s) {missing}")
    return FindingTemplate(id=raw["id"], severity=Severity(raw["severity"]), title=raw["title"],
                           detail=raw.get("detail", ""), remedy=raw.get("remedy", ""),
                           references=tuple(refs[r] for r in raw.get("references", ())))


@cache
def load_connectivity_knowledge() -> ConnectivityKnowledge:
    data = read_toml("connectivity_findings.toml")
    refs: dict[str, str] = data["references"]
    sections: list[tuple[str, tuple[str, ...]]] = [("outcome", OUTCOME_KEYS), ("extra", EXTRA_KEYS),
                                                    ("all", ALL_KEYS)]
    loaded: dict[str, dict[str, FindingTemplate]] = {}
    for section, keys in sections:
        table = data[section]
        absent = [k for k in keys if k not in table]
        if absent:
            raise ValueError(f"connectivity_findings.toml: [{section}] lacks {absent}")
        loaded[section] = {k: _template(v, refs, f"{section}.{k}") for k, v in table.items()}
    orgs = frozenset(o.lower() for o in data["tls"]["expected_issuer_organizations"])
    return ConnectivityKnowledge(loaded["outcome"], loaded["extra"], loaded["all"], orgs)
