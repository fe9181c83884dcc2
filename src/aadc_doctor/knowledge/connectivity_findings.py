"""`check`'s texts: the loader for ``data/connectivity_findings.toml`` (templates of knowledge/findings.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from aadc_doctor.knowledge import read_toml
from aadc_doctor.knowledge.findings import FindingTemplate, load_finding_templates
from aadc_doctor.net.outcome import Outcome

# every probe outcome but ok and dns_filtered (dns_findings.toml explains that one) needs its template: a new
# Outcome without one fails at load
OUTCOME_KEYS = tuple(o.value for o in Outcome if o not in (Outcome.OK, Outcome.DNS_FILTERED))
EXTRA_KEYS = ("mfa", "crl", "crl_stale", "proxy_auth_rejected", "pta_proxy_auth", "dns_cname", "tls_intercepted_many",
              "tls_intercepted_trusted", "tls_intercepted_many_trusted", "connect_port_denied")
ALL_KEYS = ("proxy_unreachable", "proxy_timeout", "dns_failure", "tcp", "proxy_auth_required", "proxy_forbidden",
            "proxy_error")


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
