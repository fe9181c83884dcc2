"""Rules only the server's own files can answer: Entra Connect's version against Microsoft's deadlines, and the
TLS 1.2 / .NET strong-crypto / TLS 1.3 settings in the registry, by version. Pure: evidence in, findings out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aadc_doctor.json_data import to_json_data
from aadc_doctor.knowledge import read_toml
from aadc_doctor.knowledge.findings import FindingTemplate
from aadc_doctor.knowledge.server_rules import ServerRules, Version, load_server_rules, parse_version
from aadc_doctor.model import Finding, Severity
from aadc_doctor.serverfiles.registry_export import RegistryExport

UNINSTALL_KEYS = (r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
                  r"HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall")


@dataclass(frozen=True)
class InstalledProduct:
    """One Uninstall entry we recognise: which component, its display name and version."""

    component: str
    display_name: str
    version: str


@dataclass
class ServerEvidence:
    """What the registry exports say; ``app_auth`` is None when nothing collected tells."""

    registry: RegistryExport = field(default_factory=RegistryExport)
    app_auth: bool | None = None


def installed_products(registry: RegistryExport, rules: ServerRules | None = None) -> list[InstalledProduct]:
    rules = rules or load_server_rules()
    found: dict[tuple[str, str], InstalledProduct] = {}
    for base in UNINSTALL_KEYS:
        for key in registry.subkeys(base):
            name = registry.value(key, "DisplayName")
            if not isinstance(name, str):
                continue
            product = rules.product_for(name)
            if product is None:
                continue
            version = registry.value(key, "DisplayVersion")
            item = InstalledProduct(product.id, name, version if isinstance(version, str) else "")
            found[(item.component, item.version)] = item
    return sorted(found.values(), key=lambda p: (p.component, p.version))


def connect_version(products: list[InstalledProduct]) -> tuple[Version, str] | None:
    """The highest Entra Connect version installed (an in-place upgrade can leave an older entry behind)."""
    versions = [(v, p.version) for p in products if p.component == "entra-connect"
                if (v := parse_version(p.version)) is not None]
    return max(versions) if versions else None


def server_findings(evidence: ServerEvidence, today: date) -> tuple[list[Finding], dict[str, Any]]:
    rules = load_server_rules()
    products = installed_products(evidence.registry, rules)
    findings: list[Finding] = []
    connect = connect_version(products)
    if connect is not None:
        findings += _deadline_findings(rules, connect, evidence.app_auth, today)
    findings += _tls_findings(rules, evidence.registry, connect, bool(products))
    results = {"installed": [to_json_data(p) for p in products],
               "entra_connect_version": connect[1] if connect else None,
               "application_auth": evidence.app_auth, "run_date": today.isoformat()}
    return findings, results


def _days(deadline: date, today: date) -> str:
    delta = (deadline - today).days
    if delta > 0:
        return f" (in {delta} days)"
    if delta < 0:
        return f" ({-delta} days ago)"
    return " (today)"


def _deadline_findings(rules: ServerRules, connect: tuple[Version, str], app_auth: bool | None,
                       today: date) -> list[Finding]:
    version, text = connect
    findings = []
    for rule in rules.deadlines:
        too_old = version < rule.min_version
        no_app_auth = rule.needs_app_auth and app_auth is False
        words = {"version": text, "date": rule.date.isoformat(), "days": _days(rule.date, today),
                 "auth": " without application-based authentication" if no_app_auth else ""}
        if too_old or no_app_auth:
            passed = today >= rule.date
            template = FindingTemplate(rule.id, Severity.ERROR if passed else Severity.WARNING,
                                       rule.title_after if passed else rule.title_before, rule.detail, rule.remedy,
                                       rules.urls(rule.references), lenient=False)
            findings.append(template.render(f"Entra Connect {text}", **words))
        elif rule.needs_app_auth and app_auth is None:
            spec = read_toml("server_rules.toml")["other_findings"]["connect-app-auth-unverified"]
            findings.append(_template("connect-app-auth-unverified", spec, rules.urls(rule.references)).render(
                f"Entra Connect {text}", **words))
    return findings


def _dword(registry: RegistryExport, key: str, name: str) -> int | None:
    value = registry.value(key, name)
    return value if isinstance(value, int) else None


def _template(finding_id: str, spec: dict[str, Any], references: tuple[str, ...]) -> FindingTemplate:
    """A finding of server_rules.toml as the catalog's strict template (knowledge/findings.py)."""
    return FindingTemplate(finding_id, Severity(spec["severity"]), spec["title"], spec.get("detail", ""),
                           spec.get("remedy", ""), references, lenient=False)


def _tls_finding(rules: ServerRules, finding_id: str, subject: str, **words: str) -> Finding:
    spec = rules.tls.findings[finding_id]
    return _template(finding_id, spec, rules.urls(spec["references"])).render(subject, **words)


def _label(key: str) -> str:
    return ".NET (WOW6432Node) " if "wow6432node" in key.lower() else ".NET "


def _vtext(version: Version) -> str:
    return ".".join(str(p) for p in version)


def _tls_findings(rules: ServerRules, registry: RegistryExport, connect: tuple[Version, str] | None,
                  any_product: bool) -> list[Finding]:
    tls = rules.tls
    findings: list[Finding] = []
    protocol_state = {}
    for side in ("Client", "Server"):
        for protocol in ("TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"):
            key = f"{tls.schannel_base}\\{protocol}\\{side}"
            protocol_state[(protocol, side)] = (key, _dword(registry, key, "Enabled"),
                                                _dword(registry, key, "DisabledByDefault"))
    common = {"mandatory_from": _vtext(tls.mandatory_from), "explicit_from": _vtext(tls.explicit_from),
              "explicit_through": _vtext(tls.explicit_through)}
    for side in ("Client", "Server"):
        key, enabled, off_by_default = protocol_state[("TLS 1.2", side)]
        tls12_off = enabled == 0 or off_by_default == 1
        _, enabled13, off13 = protocol_state[("TLS 1.3", side)]
        if tls12_off and enabled13 == 1 and off13 != 1:
            findings.append(_tls_finding(rules, "tls13-enforced", f"SCHANNEL {side}",
                                         detail=f"SCHANNEL {side}: TLS 1.3 is enabled and TLS 1.2 disabled ({key}: "
                                                f"Enabled={enabled}, DisabledByDefault={off_by_default}), so only "
                                                "TLS 1.3 can be negotiated. Microsoft supports TLS 1.3 for Entra "
                                                "Connect but says it must not be enforced.", **common))
        elif tls12_off and any_product:
            findings.append(_tls_finding(rules, "tls12-disabled", f"SCHANNEL {side}", side=side, key=key,
                                         values=f"Enabled={enabled}, DisabledByDefault={off_by_default}", **common))
        for protocol in ("TLS 1.0", "TLS 1.1"):
            old_key, old_enabled, _ = protocol_state[(protocol, side)]
            if old_enabled == 1 and any_product:
                findings.append(_tls_finding(rules, "old-tls-enabled", f"SCHANNEL {side}", protocol=protocol,
                                             side=side, key=old_key, **common))
    if not any_product or not all(registry.knows(k) for k in tls.dotnet_keys):
        return findings  # nothing installed that needs it, or the .NET keys were not collected: nothing to judge
    missing = [f"{_label(k)}{name}={_dword(registry, k, name)}"
               for k in tls.dotnet_keys for name, want in tls.dotnet_values.items()
               if _dword(registry, k, name) != want]
    missing = [m.replace("=None", " (not set)") for m in missing]
    if connect is not None and tls.explicit_from <= connect[0] <= tls.explicit_through:
        for side in ("Client", "Server"):
            key, enabled, off_by_default = protocol_state[("TLS 1.2", side)]
            if enabled != 1:
                missing.append(f"TLS 1.2\\{side} Enabled={enabled if enabled is not None else '(not set)'}")
            if off_by_default != 0:
                missing.append(f"TLS 1.2\\{side} DisabledByDefault="
                               f"{off_by_default if off_by_default is not None else '(not set)'}")
        if missing:
            findings.append(_tls_finding(rules, "tls12-enforcement-missing", f"Entra Connect {connect[1]}",
                                         version=connect[1], missing=", ".join(missing), **common))
    elif missing and (connect is None or connect[0] >= tls.mandatory_from):
        findings.append(_tls_finding(rules, "tls12-strong-crypto-missing",
                                     f"Entra Connect {connect[1]}" if connect else "agents on this server",
                                     version=connect[1] if connect else "(not installed)",
                                     missing=", ".join(missing), **common))
    return findings


def service_findings(services: list[dict[str, str]]) -> list[Finding]:
    """Component services that are installed but not running; Credential Manager disabled under Cloud Sync."""
    data = read_toml("server_rules.toml")
    refs: dict[str, str] = data["references"]
    known = {row["name"].lower(): row for row in data["service"]}
    templates: dict[str, dict[str, Any]] = data["service_findings"]
    by_name = {s.get("name", "").lower(): s for s in services}
    findings = []

    def make(finding_id: str, subject: str, **words: str) -> Finding:
        spec = templates[finding_id]
        return _template(finding_id, spec, tuple(refs[r] for r in spec["references"])).render(subject, **words)

    for name, service in by_name.items():
        row = known.get(name)
        if row is not None and service.get("state") and service["state"].upper() != "RUNNING":
            findings.append(make("service-stopped", f"service {service['name']}", title=row["title"],
                                 restart=row["restart"], name=service["name"], state=service["state"],
                                 start_type=service.get("start_type", ""), account=service.get("account", "")))
    vault = by_name.get("vaultsvc")
    if vault and "aadconnectprovisioningagent" in by_name and vault.get("start_type", "").upper() == "DISABLED":
        findings.append(make("vaultsvc-disabled", "service VaultSvc", start_type=vault["start_type"],
                             state=vault.get("state", "")))
    return findings
