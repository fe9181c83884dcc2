"""DNS results become DNS findings: one per cause and server, DNS first unless a proxy is configured elsewhere."""

from __future__ import annotations

from aadc_doctor.analysis.connectivity import ProxyContext, diagnose
from aadc_doctor.net.outcome import DnsInfo, EndpointResult, EndpointTarget, Outcome, Phase

DIRECT = ProxyContext("none", None)
ELSEWHERE = ProxyContext("none", None, ("netsh winhttp: proxy.contoso.com:8080",))


def _dns(host: str, failure: str | None, *, outcome: Outcome = Outcome.DNS_FAILURE, source: str = "system",
         server: str | None = "10.0.0.53", sinkhole: tuple[str, ...] = ()) -> EndpointResult:
    target = EndpointTarget(f"https://{host}/", host, 443, "https", "/", "https", ("sync",))
    info = DnsInfo(host, ("0.0.0.0",) if sinkhole else (), (), source, failure, server, sinkhole)
    return EndpointResult(target, outcome, Phase.DNS, dns=info, error=f"{host}: {failure}")


def _ok(host: str) -> EndpointResult:
    return EndpointResult(EndpointTarget(f"https://{host}/", host, 443, "https", "/", "https", ("sync",)), Outcome.OK)


def test_same_cause_same_server_is_one_finding_naming_every_host() -> None:
    findings = diagnose([_dns("a.microsoftonline.com", "servfail"), _dns("b.microsoftonline.com", "servfail"),
                         _dns("c.microsoftonline.com", "refused"), _ok("login.microsoftonline.com")], DIRECT)
    assert [f.id for f in findings] == ["dns-servfail", "dns-refused"]
    assert findings[0].subject == "a.microsoftonline.com:443, b.microsoftonline.com:443"
    assert "this machine's DNS server (10.0.0.53)" in findings[0].detail


def test_a_named_server_is_named_and_a_sinkhole_stays_dns_filtering_with_a_proxy_elsewhere() -> None:
    filtered = _dns("login.microsoftonline.com", "filtered", outcome=Outcome.DNS_FILTERED,
                    source="dns-server 10.1.1.1:53", sinkhole=("0.0.0.0 (null)",))
    [finding] = diagnose([filtered, _ok("graph.windows.net")], ELSEWHERE)
    assert finding.id == "dns-filtered" and "the DNS server 10.1.1.1:53" in finding.remedy
    assert "netsh winhttp" in finding.detail  # the proxy configured elsewhere is still mentioned


def test_a_proxy_configured_elsewhere_keeps_the_articles_finding() -> None:
    [finding] = diagnose([_dns("a.microsoftonline.com", "nxdomain"), _ok("graph.windows.net")], ELSEWHERE)
    assert finding.id == "dns-failure" and "machine.config" in finding.remedy


def test_mixed_causes_for_every_endpoint_are_not_collapsed() -> None:
    findings = diagnose([_dns("a.microsoftonline.com", "timeout"), _dns("b.microsoftonline.com", "nxdomain")],
                        DIRECT)
    assert [f.id for f in findings] == ["dns-timeout", "dns-nxdomain"]


def test_one_cause_for_every_endpoint_is_no_dns_naming_it() -> None:
    [finding] = diagnose([_dns("a.microsoftonline.com", "cname_loop"), _dns("b.microsoftonline.com", "cname_loop")],
                         DIRECT)
    assert (finding.id, finding.title) == ("no-dns", "No endpoint name resolves: the CNAME chains loop")


def test_an_unknown_cause_is_the_generic_dns_finding() -> None:
    [finding] = diagnose([_dns("a.microsoftonline.com", None, server=None), _ok("graph.windows.net")], DIRECT)
    assert finding.id == "dns-failure" and finding.remedy.startswith("Fix the DNS servers this machine uses")


def test_a_proxy_run_that_sent_a_name_direct_keeps_the_articles_finding() -> None:
    """A PAC's DIRECT or a bypass entry sent the endpoint around the proxy: that is the thing to fix first."""
    pac = ProxyContext("pac:http://wpad/wpad.dat", None)
    [finding] = diagnose([_dns("a.microsoftonline.com", "nxdomain"), _ok("graph.windows.net")], pac)
    assert finding.id == "dns-failure" and "machine.config" in finding.remedy
    proxied = ProxyContext("--proxy", "http://proxy.contoso.com:8080")
    [finding] = diagnose([_dns("a.microsoftonline.com", "nxdomain"), _ok("graph.windows.net")], proxied)
    assert finding.id == "dns-failure"
