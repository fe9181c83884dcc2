"""Finding templates kept as data, and the loader for ``data/connectivity_findings.toml`` (`check`'s texts).

The texts are data (quoting and paraphrasing the articles) so wording and references change without code.
``load_finding_templates`` reads one section of any such file (``proxy_findings.toml`` too); the loaders check on
first use that every reference key exists and every expected template is there.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aadc_doctor.knowledge import read_toml
from aadc_doctor.model import Finding, Severity
from aadc_doctor.net.outcome import Outcome

# every probe outcome but ok and dns_filtered (dns_findings.toml explains that one) needs its template: a new
# Outcome without one fails at load
OUTCOME_KEYS = tuple(o.value for o in Outcome if o not in (Outcome.OK, Outcome.DNS_FILTERED))
EXTRA_KEYS = ("mfa", "crl", "crl_stale", "proxy_auth_rejected", "pta_proxy_auth", "dns_cname", "tls_intercepted_many",
              "tls_intercepted_trusted", "tls_intercepted_many_trusted", "connect_port_denied")
ALL_KEYS = ("proxy_unreachable", "proxy_timeout", "dns_failure", "tcp", "proxy_auth_required", "proxy_forbidden",
            "proxy_error")


class _Blank(dict[str, Any]):
    """Format mapping that leaves unknown placeholders empty instead of raising."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class FindingTemplate:
    """One finding's texts with ``{placeholders}``; ``render`` fills them in.

    ``lenient`` (connectivity's texts): unknown or None placeholders render empty, ``..`` left by an empty one
    collapses and the detail is stripped. Strict templates render exactly as written, and a placeholder the
    caller did not fill is a KeyError (a bug in the data or the code, caught by the tests).
    """

    id: str
    severity: Severity
    title: str
    detail: str
    remedy: str
    references: tuple[str, ...]
    lenient: bool = True

    def render(self, subject: str = "", **values: Any) -> Finding:
        fmt = string.Formatter()
        if not self.lenient:
            return Finding(id=self.id, severity=self.severity, title=fmt.vformat(self.title, (), values),
                           detail=fmt.vformat(self.detail, (), values), remedy=fmt.vformat(self.remedy, (), values),
                           subject=subject, references=self.references)
        fields = _Blank({k: v for k, v in values.items() if v is not None})
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
    texts: dict[str, str] = field(default_factory=dict)
    mfa_causes: dict[str, tuple[str, str]] = field(default_factory=dict)

    def mfa_cause(self, outcome: str) -> tuple[str, str]:
        """(cause, fix) the MFA finding states for an outcome of secure.aadcdn.microsoftonline-p.com."""
        return self.mfa_causes.get(outcome) or self.mfa_causes["default"]


def _template(raw: dict[str, Any], refs: dict[str, str], where: str, lenient: bool) -> FindingTemplate:
    missing = [r for r in raw.get("references", ()) if r not in refs]
    if missing:
        raise ValueError(f"{where}: unknown reference key(s) {missing}")
    return FindingTemplate(id=raw["id"], severity=Severity(raw["severity"]), title=raw["title"],
                           detail=raw.get("detail", ""), remedy=raw.get("remedy", ""),
                           references=tuple(refs[r] for r in raw.get("references", ())), lenient=lenient)


def load_finding_templates(file_name: str, section: str, required: tuple[str, ...] = (),
                           *, lenient: bool = True) -> dict[str, FindingTemplate]:
    """The templates of ``[section]`` in a data file, references resolved through its ``[references]`` table.

    Raises ValueError when a ``required`` key is missing or a template names an unknown reference key.
    """
    data = read_toml(file_name)
    refs: dict[str, str] = data.get("references", {})
    table: dict[str, Any] = data[section]
    absent = [k for k in required if k not in table]
    if absent:
        raise ValueError(f"{file_name}: [{section}] lacks {absent}")
    return {k: _template(v, refs, f"{file_name} [{section}.{k}]", lenient) for k, v in table.items()}


@cache
def load_connectivity_knowledge() -> ConnectivityKnowledge:
    data = read_toml("connectivity_findings.toml")
    sections: list[tuple[str, tuple[str, ...]]] = [("outcome", OUTCOME_KEYS), ("extra", EXTRA_KEYS),
                                                    ("all", ALL_KEYS)]
    loaded = {section: load_finding_templates("connectivity_findings.toml", section, keys)
              for section, keys in sections}
    orgs = frozenset(o.lower() for o in data["tls"]["expected_issuer_organizations"])
    causes = {key: (str(value[0]), str(value[1])) for key, value in data["mfa_causes"].items()}
    if "default" not in causes:
        raise ValueError("connectivity_findings.toml: [mfa_causes] lacks default")
    return ConnectivityKnowledge(loaded["outcome"], loaded["extra"], loaded["all"], orgs,
                                 {k: str(v) for k, v in data["texts"].items()}, causes)
