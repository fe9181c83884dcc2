"""CRL bodies must parse as CRLs; certificate facts and the verification-error categories behind tls_intercepted."""

from __future__ import annotations

import datetime as dt
import ssl

import pytest
import trustme
from tests.infra.certs import build_crl, make_ca

from aadc_doctor.net.crl import inspect_crl
from aadc_doctor.net.tls import build_trust, cert_facts, issuer_label, verify_category


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return make_ca("Unit Test CA")


def test_real_crl_parses(ca: trustme.CA) -> None:
    info = inspect_crl(build_crl(ca, revoked_serials=[5, 7]), "application/pkix-crl")
    assert info.parsed and info.revoked == 2 and not info.stale
    assert info.issuer is not None and "Unit Test CA" in info.issuer


def test_stale_crl_is_flagged(ca: trustme.CA) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    info = inspect_crl(build_crl(ca, last_update=past - dt.timedelta(days=7), next_update=past))
    assert info.parsed and info.stale


def test_proxy_error_page_is_not_a_crl() -> None:
    info = inspect_crl(b"<!DOCTYPE html><html><body>Access denied</body></html>", "text/html")
    assert not info.parsed and info.error is not None and "HTML page" in info.error
    assert not inspect_crl(b"").parsed


def test_cert_facts_and_wildcard_coverage(ca: trustme.CA) -> None:
    leaf = ca.issue_cert("*.msappproxy.net", "login.microsoftonline.com")
    facts = cert_facts(ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode()))
    assert facts.covers("login.microsoftonline.com") and facts.covers("contoso.msappproxy.net")
    assert not facts.covers("a.b.msappproxy.net") and not facts.covers("msappproxy.net")
    assert facts.issuer_organization == "Unit Test CA" and "Unit Test CA" in issuer_label(facts)


@pytest.mark.parametrize("code, category", [(20, "untrusted-issuer"), (19, "untrusted-issuer"), (10, "expired"),
                                            (62, "hostname-mismatch"), (23, "revoked"), (99, "verify-failed")])
def test_verify_categories(code: int, category: str) -> None:
    exc = ssl.SSLCertVerificationError("x")
    exc.verify_code = code
    assert verify_category(exc) == category


def test_ca_file_must_hold_certificates(tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ValueError, match="no PEM certificate"):
        build_trust(str(bad))
    with pytest.raises(ValueError, match="cannot read"):
        build_trust(str(Path(str(tmp_path)) / "missing.pem"))
