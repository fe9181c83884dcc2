"""DNS findings: a DNS filter's sinkhole answer, or a named DNS failure, with the DNS side as the fix. No I/O.

`analysis/connectivity.py` hands over the endpoints that stopped at name resolution. A sinkhole answer
(dns_filtered) is always a DNS-filtering finding. A failure (dns_failure) is named by its cause (NXDOMAIN,
SERVFAIL, REFUSED, a CNAME loop, a timeout, no address) when no proxy is configured anywhere: then DNS is
the fix, not "configure a proxy". When a proxy is configured where this run did not look, the article's
"Unable to connect to the remote server" finding (machine.config first) stays, in connectivity.py.
Names that failed the same way at the same server make one finding.
"""

from __future__ import annotations

from collections.abc import Sequence

from aadc_doctor.knowledge.dns_findings import DnsKnowledge, load_dns_knowledge
from aadc_doctor.model import Finding
from aadc_doctor.net.outcome import EndpointResult, Outcome

FILTER_CAUSES = ("filtered", "local_override")


def is_dns_result(result: EndpointResult) -> bool:
    return result.outcome in (Outcome.DNS_FAILURE, Outcome.DNS_FILTERED)


def cause_of(result: EndpointResult, kb: DnsKnowledge | None = None) -> str:
    """The DnsFailure code a finding is chosen by; "error" when the resolver could not name one."""
    known = (kb or load_dns_knowledge()).cause
    failure = result.dns.failure if result.dns is not None else None
    if result.outcome is Outcome.DNS_FILTERED:
        return failure if failure in FILTER_CAUSES else "filtered"
    if failure in FILTER_CAUSES or failure not in known:
        return "error"
    return failure


def server_label(result: EndpointResult) -> str:
    """Who answered, as the finding names it: "the DNS server 10.0.0.53:53" or "this machine's DNS servers"."""
    dns = result.dns
    if dns is None:
        return "this machine's DNS servers"
    if dns.source.startswith("dns-server "):
        return f"the DNS server {dns.source.removeprefix('dns-server ')}"
    if dns.server:
        plural = "s" if "," in dns.server else ""
        return f"this machine's DNS server{plural} ({dns.server})"
    return "this machine's DNS servers"


def _labels(results: Sequence[EndpointResult]) -> str:
    return ", ".join(dict.fromkeys(r.target.host for r in results))


def _answers(results: Sequence[EndpointResult]) -> str:
    shown = dict.fromkeys(reason for r in results if r.dns is not None for reason in r.dns.sinkhole)
    return "; ".join(shown) or "an address that is not Microsoft's"


def _sentence(text: str | None) -> str:
    return (text or "").strip().rstrip(".")


def dns_findings(failed: Sequence[EndpointResult], *, source: str, elsewhere: str,
                 knowledge: DnsKnowledge | None = None) -> list[Finding]:
    """One finding per (cause, DNS server) for the DNS results among `failed`, in the order they first occur."""
    kb = knowledge or load_dns_knowledge()
    groups: dict[tuple[str, str], list[EndpointResult]] = {}
    for result in failed:
        if is_dns_result(result):
            groups.setdefault((cause_of(result, kb), server_label(result)), []).append(result)
    return [_render(kb, cause, server, group, source, elsewhere) for (cause, server), group in groups.items()]


def _render(kb: DnsKnowledge, cause: str, server: str, group: Sequence[EndpointResult], source: str,
            elsewhere: str) -> Finding:
    subject = ", ".join(dict.fromkeys(r.target.label for r in group))
    return kb.cause[cause].render(subject, hosts=_labels(group), count=len(group), server=server,
                                  error=_sentence(group[0].error), answers=_answers(group), source=source,
                                  elsewhere=elsewhere)


def all_failed_dns(failed: Sequence[EndpointResult], *, source: str, elsewhere: str,
                   knowledge: DnsKnowledge | None = None) -> list[Finding] | None:
    """One finding when every endpoint failed at DNS with one cause at one server; None when causes differ."""
    kb = knowledge or load_dns_knowledge()
    keys = {(cause_of(r, kb), server_label(r)) for r in failed}
    if len(keys) != 1 or not all(is_dns_result(r) for r in failed):
        return None
    ((cause, server),) = keys
    hosts = _labels(failed)
    if cause == "filtered":
        return [kb.all_failed["filtered"].render(hosts, count=len(failed), server=server, answers=_answers(failed),
                                                 hosts=hosts, elsewhere=elsewhere)]
    one = _render(kb, cause, server, failed, source, elsewhere)
    if cause == "local_override":  # the hosts file is not "no DNS": the per-cause finding says it all
        return [one]
    return [kb.all_failed["no_dns"].render(hosts, count=len(failed), cause_short=kb.cause_short[cause],
                                           cause_detail=one.detail, cause_remedy=one.remedy)]
