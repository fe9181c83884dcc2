"""Outcomes become the articles' findings; one shared cause becomes one finding."""

from __future__ import annotations

from aadc_doctor.analysis.connectivity import ProxyContext, diagnose
from aadc_doctor.knowledge.connectivity_findings import load_connectivity_knowledge
from aadc_doctor.model import Severity
from aadc_doctor.net.outcome import CrlInfo, DnsInfo, EndpointResult, EndpointTarget, Outcome, Phase, TlsInfo

PROXY = ProxyContext("--proxy", "http://proxy.contoso.com:8080")
DIRECT = ProxyContext("none", None)


def _target(host: str, port: int = 443, *, kind: str = "https", profiles: tuple[str, ...] = ("sync",),
            pattern: str | None = None) -> EndpointTarget:
    scheme = "http" if kind in ("crl", "ocsp") else "https"
    return EndpointTarget(f"{scheme}://{host}/", host, port, scheme, "/", kind, profiles,
                          "row" if pattern else None, pattern)


def _result(host: str, outcome: Outcome, phase: Phase | None = None, **kw: object) -> EndpointResult:
    target = kw.pop("target", None) or _target(host)
    return EndpointResult(target, outcome, phase, **kw)  # type: ignore[arg-type]


def _ok(host: str) -> EndpointResult:
    return _result(host, Outcome.OK)


def test_all_ok_gives_no_findings() -> None:
    assert diagnose([_ok("login.microsoftonline.com"), _ok("graph.windows.net")], PROXY) == []


def test_403_names_the_catalog_row_to_allow() -> None:
    denied = _result("adminwebservice.microsoftonline.com", Outcome.PROXY_FORBIDDEN, Phase.CONNECT,
                     target=_target("adminwebservice.microsoftonline.com", pattern="*.microsoftonline.com"),
                     connect_status=403, error="the proxy answered CONNECT with 403 Forbidden")
    [finding] = diagnose([_ok("login.microsoftonline.com"), denied], PROXY)
    assert finding.id == "proxy-forbidden" and finding.severity is Severity.ERROR
    assert finding.subject == "adminwebservice.microsoftonline.com:443"
    assert "*.microsoftonline.com" in finding.remedy and "http://proxy.contoso.com:8080" in finding.remedy
    assert "has not been opened for the requested URL" in finding.detail


def test_407_remedy_is_machine_config_and_domain_accounts() -> None:
    challenged = _result("graph.windows.net", Outcome.PROXY_AUTH_REQUIRED, Phase.CONNECT,
                         proxy_authenticate=("NTLM",), proxy_auth_challenged=True, error="407")
    [finding] = diagnose([_ok("login.microsoftonline.com"), challenged], PROXY)
    assert finding.id == "proxy-auth-required"
    assert "useDefaultCredentials" in finding.remedy and "domain accounts" in finding.remedy
    assert "allow them anonymously" in finding.remedy


def test_407_after_credentials_is_a_rejection() -> None:
    rejected = _result("graph.windows.net", Outcome.PROXY_AUTH_REQUIRED, Phase.CONNECT, proxy_authenticate=("Basic",),
                       proxy_auth_scheme="Basic", proxy_auth_challenged=True, error="rejected")
    [finding] = diagnose([_ok("login.microsoftonline.com"), rejected], PROXY)
    assert finding.id == "proxy-auth-rejected" and "Basic" in finding.title


def test_direct_failure_is_unable_to_connect_and_names_the_proxy_set_elsewhere() -> None:
    ctx = ProxyContext("none", None, ("HTTPS_PROXY in the environment: http://proxy:8080",))
    failed = _result("login.microsoftonline.com", Outcome.TCP_TIMEOUT, Phase.TCP, error="no TCP connection")
    [finding] = diagnose([_ok("graph.windows.net"), failed], ctx)
    assert finding.id == "tcp-timeout" and "Unable to connect to the remote server" in finding.title
    assert "HTTPS_PROXY" in finding.detail and "machine.config" in finding.remedy


def test_every_endpoint_failing_alike_collapses_to_one_cause() -> None:
    down = [_result(h, Outcome.PROXY_UNREACHABLE, Phase.TCP, error="refused") for h in ("a.com", "b.com", "c.com")]
    [finding] = diagnose(down, PROXY)
    assert finding.id == "proxy-unreachable" and finding.subject == "http://proxy.contoso.com:8080"
    assert "All 3 endpoints" in finding.detail

    no_dns = [_result(h, Outcome.DNS_FAILURE, Phase.DNS, error="NXDOMAIN") for h in ("a.com", "b.com")]
    assert [f.id for f in diagnose(no_dns, DIRECT)] == ["no-dns"]

    stalled = [_result(h, Outcome.TIMEOUT, Phase.CONNECT, error="no answer") for h in ("a.com", "b.com")]
    assert [f.id for f in diagnose(stalled, PROXY)] == ["proxy-not-answering"]

    refused = [_result("a.com", Outcome.TCP_REFUSED, Phase.TCP), _result("b.com", Outcome.TCP_TIMEOUT, Phase.TCP)]
    assert [f.id for f in diagnose(refused, DIRECT)] == ["no-direct-connectivity"]


def test_mixed_failures_are_not_collapsed() -> None:
    results = [_result("a.com", Outcome.PROXY_FORBIDDEN, Phase.CONNECT),
               _result("b.com", Outcome.TLS_FAILURE, Phase.TLS)]
    assert sorted(f.id for f in diagnose(results, PROXY)) == ["proxy-forbidden", "tls-failure"]


def test_mfa_endpoint_gets_the_wizard_message() -> None:
    failed = _result("secure.aadcdn.microsoftonline-p.com", Outcome.PROXY_FORBIDDEN, Phase.CONNECT)
    ids = [f.id for f in diagnose([_ok("login.microsoftonline.com"), failed], PROXY)]
    assert ids == ["proxy-forbidden", "mfa-endpoint-unreachable"]


def test_crl_failure_means_revocation_checks_fail() -> None:
    crl = _result("crl.microsoft.com", Outcome.HTTP_ERROR, Phase.HTTP, target=_target("crl.microsoft.com", 80,
                  kind="crl"), error="the CRL download did not return a CRL")
    findings = diagnose([_ok("login.microsoftonline.com"), crl], PROXY)
    crl_finding = next(f for f in findings if f.id == "crl-unreachable")
    assert "revocation checks fail" in crl_finding.detail and "crl.microsoft.com:80" in crl_finding.remedy


def test_stale_crl_is_a_warning() -> None:
    fresh = CrlInfo(parsed=True, size=10, next_update="2020-01-01T00:00:00Z", stale=True)
    result = _result("crl.microsoft.com", Outcome.OK, target=_target("crl.microsoft.com", 80, kind="crl"), crl=fresh)
    [finding] = diagnose([result], PROXY)
    assert (finding.id, finding.severity) == ("crl-stale", Severity.WARNING)


def test_interception_names_issuer_and_pta_consequence() -> None:
    tls = TlsInfo(issuer="CN=Inspect,O=Contoso Inspection CA", issuer_organization="Contoso Inspection CA")
    result = _result("login.microsoftonline.com", Outcome.TLS_INTERCEPTED, Phase.TLS, tls=tls, error="re-signed")
    [finding] = diagnose([_ok("graph.windows.net"), result], PROXY)
    assert finding.id == "tls-intercepted" and "Contoso Inspection CA" in finding.title
    assert "client certificate" in finding.remedy


def test_pta_endpoints_behind_an_authenticating_proxy() -> None:
    pta = _result("autoupdate.msappproxy.net", Outcome.OK, target=_target("autoupdate.msappproxy.net",
                  profiles=("pta",)), proxy_auth_challenged=True, proxy_auth_scheme="NTLM",
                  via_proxy="http://proxy.contoso.com:8080")
    sync = _result("graph.windows.net", Outcome.OK, proxy_auth_challenged=True, proxy_auth_scheme="NTLM")
    [finding] = diagnose([pta, sync], PROXY)
    assert finding.id == "pta-proxy-needs-anonymous" and "autoupdate.msappproxy.net:443" in finding.detail
    assert "graph.windows.net" not in finding.detail


def test_cname_into_nsatc_is_explained() -> None:
    dns = DnsInfo("login.microsoftonline.com", ("127.0.0.1",),
                  ("ak.privatelink.msidentity.com", "login.microsoftonline.com.nsatc.net"), "dns-server 127.0.0.1:53")
    [finding] = diagnose([_result("login.microsoftonline.com", Outcome.OK, dns=dns)], DIRECT)
    assert finding.id == "dns-cname-outside-domain" and finding.severity is Severity.INFO
    assert "nsatc.net" in finding.title and "no proxy rule" in finding.detail


def test_every_outcome_has_a_template() -> None:
    kb = load_connectivity_knowledge()
    # dns_filtered is always a DNS finding: its texts live in dns_findings.toml (analysis/dns.py)
    assert {o.value for o in Outcome} - {"ok", "dns_filtered"} == set(kb.outcome)
    assert all(t.references for t in kb.outcome.values())


def test_a_detail_starting_with_a_host_name_keeps_its_case() -> None:
    """Messages like 'mscrl.microsoft.com: no answer' must not become 'Mscrl.microsoft.com: ...'."""
    failed = [_result(h, Outcome.DNS_FAILURE, Phase.DNS, error=f"{h}: NXDOMAIN (the name does not exist)")
              for h in ("mscrl.microsoft.com", "graph.windows.net")]
    [finding] = diagnose(failed, DIRECT)
    assert "failed name resolution. mscrl.microsoft.com: NXDOMAIN" in finding.detail and "Mscrl" not in finding.detail
    [single] = diagnose([_ok("login.microsoftonline.com"), failed[1]], DIRECT)
    assert single.detail.startswith("graph.windows.net: NXDOMAIN")
    refused = _result("graph.windows.net", Outcome.PROXY_FORBIDDEN, Phase.CONNECT,
                      error="the proxy answered CONNECT with 403 Forbidden")
    [plain] = diagnose([_ok("login.microsoftonline.com"), refused], PROXY)
    assert plain.detail.startswith("The proxy answered CONNECT")


def test_one_inspection_ca_over_many_endpoints_is_one_finding() -> None:
    """The TLS-inspection demo printed ten near-identical findings, one per endpoint, for one cause."""
    tls = TlsInfo(issuer="CN=Fabrikam TLS Inspection CA", issuer_organization="Fabrikam", verified=False,
                  trust="untrusted-issuer")
    hosts = ("login.microsoftonline.com", "graph.windows.net", "management.core.windows.net")
    results = [_result(h, Outcome.TLS_INTERCEPTED, Phase.TLS, tls=tls,
                       target=_target(h, pattern="*.graph.windows.net" if h.startswith("graph") else None),
                       error=f"the certificate presented for {h} is signed by Fabrikam TLS Inspection CA")
               for h in hosts]
    other = TlsInfo(issuer="CN=Other", issuer_organization="Contoso Firewall", verified=False, trust="untrusted-issuer")
    single = _result("adminwebservice.microsoftonline.com", Outcome.TLS_INTERCEPTED, Phase.TLS, tls=other,
                     error="signed by Contoso Firewall")
    findings = diagnose([_ok("crl.microsoft.com"), *results, single], PROXY)
    intercepted = [f for f in findings if f.id == "tls-intercepted"]
    assert len(intercepted) == 2
    grouped = next(f for f in intercepted if "Fabrikam" in f.title)
    assert "3 endpoints" in grouped.title
    assert grouped.subject == ", ".join(f"{h}:443" for h in hosts)
    assert "*.graph.windows.net" in grouped.remedy and "login.microsoftonline.com" in grouped.remedy
    alone = next(f for f in intercepted if "Contoso" in f.title)
    assert alone.subject == "adminwebservice.microsoftonline.com:443"


def test_remedies_name_the_wildcard_row_without_nested_parentheses() -> None:
    """'Allow *.graph.windows.net (this check used graph.windows.net) (port 443) on ...' read badly."""
    target = _target("graph.windows.net", pattern="*.graph.windows.net")
    denied = _result("graph.windows.net", Outcome.PROXY_FORBIDDEN, Phase.CONNECT, target=target, connect_status=403,
                     error="the proxy answered CONNECT with 403 Forbidden")
    tls = TlsInfo(issuer="CN=X", issuer_organization="Fabrikam")
    inspected = _result("graph.windows.net", Outcome.TLS_INTERCEPTED, Phase.TLS, target=target, tls=tls, error="x")
    for result in (denied, inspected):
        [finding] = diagnose([_ok("login.microsoftonline.com"), result], PROXY)
        assert ") (" not in finding.remedy and "((" not in finding.remedy, finding.remedy
        assert "*.graph.windows.net (this check used graph.windows.net)" in finding.remedy
    [forbidden] = diagnose([_ok("login.microsoftonline.com"), denied], PROXY)
    assert "on port 443 of the proxy http://proxy.contoso.com:8080" in forbidden.remedy


def test_a_pac_run_names_the_proxy_each_endpoint_used() -> None:
    """A PAC file has no single proxy URL: findings must name the proxy the PAC chose, never '(none)'."""
    pac = ProxyContext("pac:corp.pac", None)
    unreachable = _result("login.microsoftonline.com", Outcome.PROXY_UNREACHABLE, Phase.TCP,
                          via_proxy="http://pacproxy.contoso.com:3128", error="connection refused")
    forbidden = _result("graph.windows.net", Outcome.PROXY_FORBIDDEN, Phase.CONNECT,
                        via_proxy="http://other.contoso.com:8080", connect_status=403)
    for results in ([unreachable, _ok("x.microsoftonline.com")], [unreachable, forbidden]):
        text = " ".join(f.title + f.detail + f.remedy + f.subject for f in diagnose(results, pac))
        assert "(none)" not in text
        assert "pacproxy.contoso.com:3128" in text
    collapsed = diagnose([unreachable, _result("graph.windows.net", Outcome.PROXY_UNREACHABLE, Phase.TCP,
                                               via_proxy="http://pacproxy.contoso.com:3128")], pac)
    assert len(collapsed) == 1 and "pacproxy.contoso.com:3128" in collapsed[0].subject


def test_tls_failure_remedy_covers_a_missing_root_and_tcp_timeout_a_missing_route() -> None:
    """A server lacking the chain's root, or any route out, must find its cause in the finding's text."""
    tls = diagnose([_result("login.microsoftonline.com", Outcome.TLS_FAILURE, Phase.TLS, error="unable to get "
                            "local issuer certificate"), _ok("graph.windows.net")], PROXY)
    assert any("root store" in f.remedy for f in tls)
    tcp = diagnose([_result("login.microsoftonline.com", Outcome.TCP_TIMEOUT, Phase.TCP,
                            error="Network is unreachable"), _ok("graph.windows.net")], DIRECT)
    assert any("no route" in f.detail for f in tcp)


def test_a_run_with_no_proxy_setting_says_so_in_words() -> None:
    findings = diagnose([_result("a.microsoftonline.com", Outcome.DNS_FAILURE, Phase.DNS, error="no such name"),
                         _result("b.microsoftonline.com", Outcome.DNS_FAILURE, Phase.DNS, error="no such name")],
                        DIRECT)
    text = " ".join(f.detail for f in findings)
    assert "(none)" not in text and "no proxy setting found" in text


def _via_proxy(host: str, outcome: Outcome, phase: Phase | None = None, **kw: object) -> EndpointResult:
    return _result(host, outcome, phase, via_proxy="http://proxy.contoso.com:8080", **kw)


def test_every_connect_refused_while_plain_http_works_is_one_connect_port_finding() -> None:
    refused = [_via_proxy(h, Outcome.PROXY_FORBIDDEN, Phase.CONNECT, connect_status=403,
                          error="the proxy answered CONNECT with 403 Access violation")
               for h in ("login.microsoftonline.com", "graph.windows.net")]
    crl = _via_proxy("crl3.digicert.com", Outcome.OK, target=_target("crl3.digicert.com", 80, kind="crl"))
    [finding] = diagnose([*refused, crl], PROXY)
    assert finding.id == "proxy-connect-port-denied" and "port 443" in finding.title
    assert "SSL_ports" in finding.remedy and "ConnectPort 443" in finding.remedy


def test_an_upstream_down_is_one_proxy_error_finding() -> None:
    failed = [_via_proxy(h, Outcome.PROXY_ERROR, Phase.CONNECT, connect_status=500,
                         error="the proxy answered CONNECT with 500 Internal Server Error (ERR_CANNOT_FORWARD 0)")
              for h in ("login.microsoftonline.com", "graph.windows.net", "secure.aadcdn.microsoftonline-p.com")]
    [finding] = diagnose(failed, PROXY)
    assert finding.id == "proxy-error" and finding.title.endswith("one cause, not 3")


def test_a_relayed_upstream_denial_names_the_upstream() -> None:
    """Squid relays a parent's 403 to CONNECT verbatim (one Via hop): the proxy's own name, known from an ok plain
    GET through it, tells the two apart."""
    denied = _via_proxy("graph.windows.net", Outcome.PROXY_FORBIDDEN, Phase.CONNECT, connect_status=403,
                        proxy_hops=("parent.fabrikam.test",), error="the proxy answered CONNECT with 403 Forbidden")
    crl = _via_proxy("crl3.digicert.com", Outcome.OK, target=_target("crl3.digicert.com", 80, kind="crl"),
                     proxy_hops=("child.contoso.test",))
    [finding] = diagnose([_ok("login.microsoftonline.com"), denied, crl], PROXY)
    assert "the upstream proxy parent.fabrikam.test" in finding.detail
    assert "of the proxy parent.fabrikam.test (the upstream proxy behind" in finding.remedy


def test_the_mfa_finding_states_the_real_cause() -> None:
    mfa = "secure.aadcdn.microsoftonline-p.com"
    tls = TlsInfo(issuer="CN=Fabrikam", issuer_organization="Fabrikam", verified=False, trust="untrusted-issuer")
    findings = diagnose([_ok("login.microsoftonline.com"), _result(mfa, Outcome.TLS_INTERCEPTED, Phase.TLS, tls=tls,
                                                                   error="intercepted")], PROXY)
    [finding] = [f for f in findings if f.id == "mfa-endpoint-unreachable"]
    assert "intercepted by an inspecting proxy" in finding.detail and "TLS inspection" in finding.remedy
    down = diagnose([_ok("login.microsoftonline.com"), _via_proxy(mfa, Outcome.PROXY_ERROR, Phase.CONNECT,
                                                                  error="502")], PROXY)
    [finding] = [f for f in down if f.id == "mfa-endpoint-unreachable"]
    assert "allow-list is not the problem" in finding.remedy


def test_trusted_and_untrusted_interception_have_different_remedies() -> None:
    trusted = TlsInfo(issuer="CN=Contoso Issuing", verified=True, trust="system", root="Contoso Root",
                      microsoft_chain=False)
    [finding] = diagnose([_ok("graph.windows.net"), _result("login.microsoftonline.com", Outcome.TLS_INTERCEPTED,
                                                            Phase.TLS, tls=trusted, error="not Microsoft's")], PROXY)
    assert finding.title == "TLS to login.microsoftonline.com is inspected by a CA this machine trusts (Contoso Root)"
    assert "deliberate" in finding.remedy
    untrusted = TlsInfo(issuer="CN=Contoso Issuing", verified=False, trust="untrusted-issuer", root="Contoso Root")
    [finding] = diagnose([_ok("graph.windows.net"), _result("login.microsoftonline.com", Outcome.TLS_INTERCEPTED,
                                                            Phase.TLS, tls=untrusted, error="untrusted")], PROXY)
    assert "does not trust" in finding.title and "deliberate" not in finding.remedy
