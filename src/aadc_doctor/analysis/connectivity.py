"""From probe results to findings: the articles' meaning and remedy for each outcome, no I/O.

One cause, one finding: when every endpoint fails the same way (the proxy is down, its upstream is down, DNS does
not work, the proxy wants sign-in for everything), or every CONNECT is refused while plain HTTP works (the proxy's
allowed CONNECT ports), one finding names it instead of one per endpoint. When an upstream proxy gave the answer,
the finding names it, so the remedy reaches whoever runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from aadc_doctor.analysis import dns as dns_analysis
from aadc_doctor.knowledge.connectivity_findings import ConnectivityKnowledge, load_connectivity_knowledge
from aadc_doctor.knowledge.endpoints import EndpointCatalog, host_matches, load_catalog
from aadc_doctor.model import Finding
from aadc_doctor.net.outcome import EndpointResult, Outcome, Phase

MFA_HOST = "secure.aadcdn.microsoftonline-p.com"


@dataclass(frozen=True)
class ProxyContext:
    """What the diagnosis needs to know about the proxy setting the run used."""

    source: str  # e.g. "--proxy", "machine.config:PATH", "environment", "none"
    display_url: str | None  # without password; None when the run went direct
    configured_elsewhere: tuple[str, ...] = ()  # proxies set in places this run did not use


def _collapse_key(result: EndpointResult) -> str | None:
    outcome = result.outcome
    if outcome is Outcome.PROXY_UNREACHABLE:
        return "proxy_unreachable"
    if outcome is Outcome.TIMEOUT and result.phase is Phase.CONNECT:
        return "proxy_timeout"
    if outcome is Outcome.DNS_FAILURE:
        return "dns_failure"
    if outcome is Outcome.DNS_FILTERED:
        return "dns_filtered"
    if outcome in (Outcome.TCP_REFUSED, Outcome.TCP_TIMEOUT):
        return "tcp"
    if outcome is Outcome.PROXY_AUTH_REQUIRED and result.proxy_auth_scheme is None:
        return "proxy_auth_required"
    if outcome is Outcome.PROXY_FORBIDDEN:
        return "proxy_forbidden"
    if outcome is Outcome.PROXY_ERROR:
        return "proxy_error"
    return None


def _allow_entry(result: EndpointResult) -> str:
    pattern = result.target.rule_pattern
    host = result.target.host
    if not pattern or pattern == host:
        return host
    return f"{pattern} (this check used {host})"


def _elsewhere(ctx: ProxyContext) -> str:
    if not ctx.configured_elsewhere:
        return ""
    where = "; ".join(ctx.configured_elsewhere)
    return (f" A proxy is configured elsewhere ({where}) but this call did not use it, which is what happens to "
            "Azure AD Connect when machine.config is not set.")


def _sentence(text: str | None) -> str:
    """An error message as the start of a sentence: capitalised, without a trailing period.

    A message that starts with a host name or an address ("mscrl.microsoft.com: no answer") keeps its case.
    """
    text = (text or "").strip().rstrip(".")
    first = text.split(" ", 1)[0].rstrip(":,")
    if not first.isalpha():
        return text
    return text[:1].upper() + text[1:]


def _issuer(result: EndpointResult) -> str:
    tls = result.tls
    if tls is None or not tls.issuer:
        return "unknown issuer"
    if result.outcome is Outcome.TLS_INTERCEPTED and tls.root:
        return tls.root  # the inspection CA at the top of the chain, as the admin finds it in a certificate store
    return tls.issuer_organization or tls.issuer


def _trusted_interception(result: EndpointResult) -> bool:
    """An intercepted chain this machine trusts (system store or --ca-file): the inspection is deliberate."""
    return result.outcome is Outcome.TLS_INTERCEPTED and result.tls is not None and result.tls.verified


def _own_proxy_names(results: Sequence[EndpointResult]) -> set[str]:
    """Names the proxy in use gives itself: the hop closest to us on answers that passed it (an ok plain GET, or a
    refusal whose Via shows two or more hops)."""
    names: set[str] = set()
    for result in results:
        if result.proxy_hops and (result.ok or len(result.proxy_hops) >= 2):
            names.add(result.proxy_hops[-1].lower())
    return names


def attribute_upstreams(results: Sequence[EndpointResult]) -> list[EndpointResult]:
    """A refusal relayed verbatim (Squid relays a parent's answer to CONNECT) names one hop only: when that hop is
    not the proxy in use (known from its other answers), the answer came from an upstream proxy."""
    own = _own_proxy_names(results)
    if not own:
        return list(results)
    updated: list[EndpointResult] = []
    for result in results:
        first = result.proxy_hops[0] if result.proxy_hops else None
        if not result.ok and result.answered_by is None and first is not None and first.lower() not in own:
            result = replace(result, answered_by=first)
        updated.append(result)
    return updated


def _upstream(result: EndpointResult, kb: ConnectivityKnowledge, proxy: str) -> str:
    """The detail's sentence naming the upstream proxy that answered ("" when the first proxy did)."""
    if not result.answered_by:
        return ""
    return kb.texts["upstream"].format(answered_by=result.answered_by, proxy=result.via_proxy or proxy)


def _remedy_proxy(result: EndpointResult, kb: ConnectivityKnowledge, proxy: str) -> str:
    """The proxy a remedy addresses: the upstream one when it gave the answer."""
    if not result.answered_by:
        return proxy
    return kb.texts["upstream_proxy"].format(answered_by=result.answered_by, proxy=result.via_proxy or proxy)


def _hosts(results: Sequence[EndpointResult]) -> str:
    return ", ".join(dict.fromkeys(r.target.label for r in results))


def diagnose(results: Sequence[EndpointResult], ctx: ProxyContext, *, catalog: EndpointCatalog | None = None,
             knowledge: ConnectivityKnowledge | None = None) -> list[Finding]:
    """Findings for a whole run, worst cause first; ok endpoints add none."""
    kb = knowledge or load_connectivity_knowledge()
    cat = catalog or load_catalog()
    results = attribute_upstreams(results)
    failed = [r for r in results if not r.ok]
    proxy_name = ctx.display_url or "(none)"
    # "none" is the source code for "no setting found"; the finding texts read "went direct ({source})"
    source = "no proxy setting found" if ctx.source == "none" else ctx.source
    common = {"proxy": proxy_name, "source": source, "elsewhere": _elsewhere(ctx)}

    keys = {_collapse_key(r) for r in failed}
    # DNS is the fix when no proxy is configured anywhere; a proxy set elsewhere (the article's direct-call case),
    # or a proxy/PAC that sent this endpoint direct, keeps "configure the proxy" first
    dns_first = not ctx.configured_elsewhere and ctx.display_url is None and not ctx.source.startswith("pac")
    all_failed = len(results) >= 2 and len(failed) == len(results) and len(keys) == 1 and None not in keys
    if all_failed and (keys == {"dns_filtered"} or (keys == {"dns_failure"} and dns_first)):
        collapsed_dns = dns_analysis.all_failed_dns(failed, source=source, elsewhere=common["elsewhere"])
        if collapsed_dns is not None:
            return collapsed_dns
    elif all_failed:
        key = keys.pop()
        assert key is not None
        first = failed[0]
        proxy_name = first.via_proxy or proxy_name  # a PAC run has no single configured URL
        common["proxy"] = _remedy_proxy(first, kb, proxy_name)
        allow = ", ".join(dict.fromkeys(_allow_entry(r) for r in failed))
        subject = common["proxy"] if key.startswith("proxy") else "all endpoints"
        collapsed = kb.all_failed[key].render(subject, count=len(failed), error=_sentence(first.error), hosts=allow,
                                              upstream=_upstream(first, kb, proxy_name), **common)
        return [collapsed, *_pta_proxy_auth(results, kb)]

    findings, grouped = _intercepted_by_issuer(failed, kb)
    to_dns = [r for r in failed
              if r.outcome is Outcome.DNS_FILTERED or (r.outcome is Outcome.DNS_FAILURE and dns_first)]
    findings[:0] = dns_analysis.dns_findings(to_dns, source=source, elsewhere=common["elsewhere"])
    grouped.update(id(r) for r in to_dns)
    port_findings, port_grouped = _connect_port_denied(results, failed, kb, proxy_name)
    findings += port_findings
    grouped |= port_grouped
    seen: set[tuple[str, str]] = set()
    for result in failed:
        if id(result) in grouped:
            continue
        if result.outcome is Outcome.PROXY_AUTH_REQUIRED and result.proxy_auth_scheme is not None:
            template = kb.extra["proxy_auth_rejected"]
        elif _trusted_interception(result):
            template = kb.extra["tls_intercepted_trusted"]
        else:
            template = kb.outcome[result.outcome.value]
        subject = result.target.label
        used_proxy = result.via_proxy or proxy_name  # with a PAC file each endpoint may use its own proxy
        if template.id == "proxy-unreachable":
            subject = used_proxy
        if (template.id, subject) in seen:
            continue
        seen.add((template.id, subject))
        t = result.target
        findings.append(template.render(
            subject, endpoint=t.label, host=t.host, port=t.port, url=t.url, allow=_allow_entry(result),
            error=_sentence(result.error), schemes=", ".join(result.proxy_authenticate) or "no scheme",
            scheme=result.proxy_auth_scheme, issuer=_issuer(result), upstream=_upstream(result, kb, used_proxy),
            **{**common, "proxy": _remedy_proxy(result, kb, used_proxy)}))

    findings += _follow_ups(results, failed, kb, cat)
    return findings


def _intercepted_by_issuer(failed: Sequence[EndpointResult],
                           kb: ConnectivityKnowledge) -> tuple[list[Finding], set[int]]:
    """One finding per inspection CA that re-signs two or more endpoints (one cause, one fix), and those results."""
    by_issuer: dict[tuple[str, bool], list[EndpointResult]] = {}
    for result in failed:
        if result.outcome is Outcome.TLS_INTERCEPTED:
            by_issuer.setdefault((_issuer(result), _trusted_interception(result)), []).append(result)
    findings: list[Finding] = []
    grouped: set[int] = set()
    for (issuer, trusted), group in by_issuer.items():
        if len(group) < 2:
            continue
        grouped.update(id(r) for r in group)
        allow = ", ".join(dict.fromkeys(r.target.rule_pattern or r.target.host for r in group))
        findings.append(kb.extra["tls_intercepted_many_trusted" if trusted else "tls_intercepted_many"].render(
            _hosts(group), count=len(group), issuer=issuer, error=_sentence(group[0].error), hosts=_hosts(group),
            allow=allow))
    return findings, grouped


def _connect_port_denied(results: Sequence[EndpointResult], failed: Sequence[EndpointResult],
                         kb: ConnectivityKnowledge, proxy_name: str) -> tuple[list[Finding], set[int]]:
    """Every CONNECT refused alike while plain HTTP through the same proxy works: one finding about the proxy's
    allowed CONNECT ports, instead of one "allow this host" per endpoint."""
    refused = [r for r in failed if r.outcome is Outcome.PROXY_FORBIDDEN and r.phase is Phase.CONNECT]
    tunnelled = [r for r in results if r.via_proxy and r.target.scheme == "https"]
    plain_ok = [r for r in results if r.via_proxy and r.target.scheme == "http" and r.ok]
    ports = {r.target.port for r in refused}
    if len(refused) < 2 or len(refused) != len(tunnelled) or not plain_ok or len(ports) != 1:
        return [], set()
    first = refused[0]
    finding = kb.extra["connect_port_denied"].render(
        first.via_proxy or proxy_name, proxy=_remedy_proxy(first, kb, first.via_proxy or proxy_name),
        port=ports.pop(), count=len(refused),
        error=_sentence(first.error), ok_hosts=_hosts(plain_ok), upstream=_upstream(first, kb, proxy_name))
    return [finding], {id(r) for r in refused}


def _pta_proxy_auth(results: Sequence[EndpointResult], kb: ConnectivityKnowledge) -> list[Finding]:
    challenged = [r for r in results if "pta" in r.target.profiles and r.proxy_auth_challenged]
    if not challenged:
        return []
    return [kb.extra["pta_proxy_auth"].render(challenged[0].via_proxy or "", hosts=_hosts(challenged))]


def _follow_ups(results: Sequence[EndpointResult], failed: Sequence[EndpointResult], kb: ConnectivityKnowledge,
                cat: EndpointCatalog) -> list[Finding]:
    """What a failure means beyond its own endpoint: MFA, revocation checks, PTA and proxy sign-in, DNS chains."""
    findings: list[Finding] = []
    mfa = [r for r in failed if r.target.host == MFA_HOST]
    if mfa:
        cause, fix = kb.mfa_cause(mfa[0].outcome.value)
        findings.append(kb.extra["mfa"].render(mfa[0].target.label, outcome=mfa[0].outcome.value, cause=cause,
                                               fix=fix))
    crl = [r for r in failed if r.target.kind in ("crl", "ocsp")]
    if crl:
        findings.append(kb.extra["crl"].render(_hosts(crl), hosts=_hosts(crl)))
    for result in results:
        if result.crl is not None and result.crl.stale:
            findings.append(kb.extra["crl_stale"].render(result.target.label, host=result.target.host,
                                                         url=result.target.url, next_update=result.crl.next_update))
    findings += _pta_proxy_auth(results, kb)
    reported: set[str] = set()
    for result in results:
        dns = result.dns
        if dns is None or not dns.cname_chain or dns.name in reported:
            continue
        for target in dns.cname_chain:
            item = cat.ignorable_reason(target)
            if item is not None and not host_matches(item.pattern, dns.name):
                reported.add(dns.name)
                chain = " -> ".join((dns.name, *dns.cname_chain))
                findings.append(kb.extra["dns_cname"].render(dns.name, host=dns.name, target=target, chain=chain,
                                                             reason=item.reason))
                break
    return findings
