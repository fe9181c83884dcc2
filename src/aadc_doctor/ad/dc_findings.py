"""`ad dcs` evidence to findings, each naming its DC. Pure: no I/O."""

from __future__ import annotations

from aadc_doctor.ad.dc_survey import DcSurvey
from aadc_doctor.ad.discovery import Discovery
from aadc_doctor.knowledge.ad import port_purposes, templates
from aadc_doctor.model import Finding

SKEW_LIMIT_S = 300  # Kerberos' default maximum tolerance for computer clock synchronization
DRIFT_WARNING_S = 60


def _offset_text(seconds: float) -> str:
    sign = "+" if seconds >= 0 else "-"
    value = abs(seconds)
    return f"{sign}{value:.0f} s" if value < 120 else f"{sign}{value / 60:.1f} min"


def discovery_findings(discovery: Discovery, site: str | None) -> list[Finding]:
    t = templates("dcs")
    findings = []
    for lookup in discovery.lookups:
        if lookup.record.startswith("_ldap._tcp.dc."):
            if lookup.answer in ("nxdomain", "no_records"):
                findings.append(t["domain_not_found"].render(discovery.domain, domain=discovery.domain,
                                                             record=lookup.record, answer=lookup.describe()))
            elif lookup.answer != "ok":
                findings.append(t["dns_failed"].render(discovery.domain, domain=discovery.domain,
                                                       record=lookup.record, answer=lookup.describe()))
        elif site and f"._{'sites'}." in lookup.record and lookup.answer != "ok":
            findings.append(t["site_records_missing"].render(lookup.record, site=site, record=lookup.record,
                                                             answer=lookup.describe()))
    return findings


def dns_name_of(naming_context: str) -> str:
    """DC=contoso,DC=test -> contoso.test"""
    return ".".join(part.split("=", 1)[1] for part in naming_context.split(",") if part.upper().startswith("DC="))


def dc_findings(dc: DcSurvey, domain: str = "") -> list[Finding]:
    t = templates("dcs")
    subject = dc.name
    if dc.address is None:
        return [t["unreachable"].render(subject, dc=dc.name, port=389, error=f"the name does not resolve "
                                                                                f"({dc.resolve_error})")]
    ldap = dc.ports.get("tcp/389")
    if ldap is not None and ldap.state != "open":
        return [t["unreachable"].render(subject, dc=dc.name, port=389, error=ldap.error or ldap.state)]
    findings: list[Finding] = []
    root = dc.root_dse
    if root is not None and root.outcome != "ok":
        evidence = root.error or root.outcome
        if dc.cldap is not None and dc.cldap.outcome != "ok":
            evidence += f"; CLDAP ping: {dc.cldap.error or dc.cldap.outcome}"
        findings.append(t["not_a_dc"].render(subject, dc=dc.name, evidence=evidence + "."))
        return findings
    naming_context = str(root.attributes.get("defaultNamingContext", "")) if root is not None else ""
    actual = dns_name_of(naming_context).lower()
    if domain and actual and actual != domain.lower():
        cldap = dc.cldap.error or dc.cldap.outcome if dc.cldap is not None else "not asked"
        return [t["other_domain"].render(subject, dc=dc.name, actual=actual, domain=domain,
                                         naming_context=naming_context, cldap=cldap)]
    purposes = port_purposes()
    closed = sorted(((key, state) for key, state in dc.ports.items()
                     if key.startswith("tcp/") and key != "tcp/389" and state.state != "open"),
                    key=lambda kv: int(kv[0][4:]))
    if closed:
        findings.append(t["ports_closed"].render(
            subject, dc=dc.name, ports=", ".join(k.upper().replace("/", " ") for k, _ in closed),
            details="; ".join(f"{k.upper().replace('/', ' ')} ({purposes.get(int(k[4:]), '')}): {s.state}"
                              for k, s in closed)))
    if dc.cldap is not None and dc.cldap.outcome != "ok":
        findings.append(t["cldap_silent"].render(subject, dc=dc.name, error=dc.cldap.error or dc.cldap.outcome))
    if dc.strong_auth is not None and dc.strong_auth.state == "required":
        findings.append(t["strong_auth_required"].render(subject, dc=dc.name, message=dc.strong_auth.message))
    findings += _ldaps_findings(dc)
    offset = root.clock_offset_s() if root is not None else None
    if offset is not None and abs(offset) > SKEW_LIMIT_S:
        findings.append(t["clock_skew"].render(subject, dc=dc.name, offset=_offset_text(offset)))
    elif offset is not None and abs(offset) > DRIFT_WARNING_S:
        findings.append(t["clock_drift"].render(subject, dc=dc.name, offset=_offset_text(offset)))
    return findings


def _ldaps_findings(dc: DcSurvey) -> list[Finding]:
    from aadc_doctor.ad.tls_certificate import expiry_state

    t = templates("dcs")
    ldaps = dc.ldaps
    if ldaps is None or (ldaps.outcome == "trusted" and ldaps.certificate is None):
        return []
    cert = ldaps.certificate
    if ldaps.outcome == "untrusted":
        return [t["ldaps_untrusted"].render(dc.name, dc=dc.name, issuer=cert.issuer if cert else "?",
                                            error=ldaps.error, cert_subject=cert.subject if cert else "?",
                                            not_after=cert.not_after.isoformat() if cert else "?")]
    if ldaps.outcome != "trusted":
        what = {"reset": "the connection was reset during the TLS handshake",
                "refused": "nothing listens on TCP 636", "timeout": "no TLS answer in time"}.get(ldaps.outcome, "")
        return [t["ldaps_unavailable"].render(dc.name, dc=dc.name,
                                              error=f"{what}: {ldaps.error}" if what else ldaps.error)]
    assert cert is not None  # a trusted handshake without a certificate returned above
    state = expiry_state(cert)
    if state:
        return [t["ldaps_expiring"].render(dc.name, dc=dc.name, state=state, issuer=cert.issuer,
                                           not_after=cert.not_after.isoformat())]
    return []


def summary_finding(surveys: list[DcSurvey]) -> Finding | None:
    good = [dc for dc in surveys if dc.root_dse is not None and dc.root_dse.outcome == "ok"]
    if not good:
        return None
    names = ", ".join(f"{dc.name} ({dc.root_dse.attributes.get('dnsHostName', '?')})" for dc in good
                      if dc.root_dse is not None)
    return templates("dcs")["summary"].render("", count=len(good), names=names)
