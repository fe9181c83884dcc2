"""Lab PKI (names, chains, CRLs), which hosts the lab impersonates, and the proxy's policy and log format."""

from __future__ import annotations

from cryptography import x509

from aadc_doctor.knowledge.endpoints import load_catalog
from aadc_doctor.lab.ca import (
    INSPECTION_CA_NAME,
    LAB_ISSUING_NAME,
    LAB_ROOT_NAME,
    LAB_TENANT_ID,
    LabPki,
    build_crl,
    ca_certificate,
    catalog_hosts,
    impersonated,
)
from aadc_doctor.lab.httpwire import RequestHead
from aadc_doctor.lab.proxy import AccessRecord, ProxyPolicy, _parse_target


def test_every_probe_host_of_every_profile_is_impersonated() -> None:
    hosts = catalog_hosts()
    for rule in load_catalog().for_profiles(["all"], include_seed_only=True):
        for host in rule.probe_hosts():
            assert host in hosts
    assert f"{LAB_TENANT_ID}.registration.msappproxy.net" in hosts
    assert impersonated("bba800-anchor.microsoftonline.com")  # covered by *.microsoftonline.com
    assert impersonated("LOGIN.microsoftonline.com.")
    assert not impersonated("www.google.com")
    assert not impersonated("microsoftonline.com.evil.example")


def test_ca_names_and_chain() -> None:
    pki = LabPki()
    root, issuing, inspecting = (ca_certificate(c) for c in (pki.root, pki.issuing, pki.inspecting))
    cn = x509.NameOID.COMMON_NAME
    assert root.subject.get_attributes_for_oid(cn)[0].value == LAB_ROOT_NAME
    assert issuing.issuer == root.subject
    assert issuing.subject.get_attributes_for_oid(cn)[0].value == LAB_ISSUING_NAME
    assert inspecting.subject.get_attributes_for_oid(cn)[0].value == INSPECTION_CA_NAME
    issuing.verify_directly_issued_by(root)


def test_certificate_store_issues_once_per_host_and_knows_its_contexts() -> None:
    pki = LabPki()
    ctx = pki.origin_certs.context_for("Login.MicrosoftOnline.com")
    assert pki.origin_certs.context_for("login.microsoftonline.com") is ctx
    assert pki.origin_certs.name_of(ctx) == "login.microsoftonline.com"
    assert pki.origin_certs.name_of(pki.inspection_certs.context_for("x.example")) is None
    assert pki.origin_certs.issued == ("login.microsoftonline.com",)


def test_crl_is_signed_by_its_ca_and_lists_revocations() -> None:
    pki = LabPki()
    crl = x509.load_der_x509_crl(build_crl(pki.issuing, [1234, 99]))
    assert crl.is_signature_valid(ca_certificate(pki.issuing).public_key())  # type: ignore[arg-type]
    assert sorted(r.serial_number for r in crl) == [99, 1234]
    assert crl.next_update_utc is not None and crl.next_update_utc > crl.last_update_utc


def test_policy_denies_by_pattern() -> None:
    policy = ProxyPolicy(deny=("*.verisign.com", "secure.aadcdn.microsoftonline-p.com"))
    assert policy.denies("crl.verisign.com")
    assert policy.denies("secure.aadcdn.microsoftonline-p.com")
    assert not policy.denies("verisign.com")
    assert not ProxyPolicy().requires_auth
    assert ProxyPolicy(basic_user="u", basic_password="p").requires_auth
    assert "p'" not in repr(ProxyPolicy(basic_user="u", basic_password="p"))


def test_proxy_request_targets() -> None:
    def head(method: str, target: str) -> RequestHead:
        return RequestHead(method, target, "HTTP/1.1", ())

    assert _parse_target(head("CONNECT", "login.microsoftonline.com:443")) == \
        ("connect", "login.microsoftonline.com", 443, "")
    assert _parse_target(head("GET", "http://crl.microsoft.com/pki/a.crl?x=1")) == \
        ("http", "crl.microsoft.com", 80, "/pki/a.crl?x=1")
    assert _parse_target(head("CONNECT", "[::1]:8443")) == ("connect", "::1", 8443, "")
    assert _parse_target(head("CONNECT", "nohost")) is None
    assert _parse_target(head("CONNECT", "h:99999")) is None
    assert _parse_target(head("GET", "/relative")) is None
    assert _parse_target(head("GET", "https://login.microsoftonline.com/")) is None


def test_access_record_is_squid_native_format() -> None:
    record = AccessRecord(1700000000.1234, 45, "127.0.0.1", "TCP_DENIED", 403, 3950, "CONNECT",
                          "denied.example.com:443", None, "HIER_NONE", None, "text/html")
    assert record.squid_line() == ("1700000000.123     45 127.0.0.1 TCP_DENIED/403 3950 CONNECT "
                                   "denied.example.com:443 - HIER_NONE/- text/html")
