"""Choosing how to answer a 407: what the proxy offers, what credentials this run has."""

from __future__ import annotations

import base64
import sys

import pytest

from aadc_doctor.net.proxy_auth import (
    AuthUnavailable,
    BasicAuthenticator,
    ProxyAuthSettings,
    SpnegoAuthenticator,
    challenge_token,
    choose_authenticator,
    offered_schemes,
)


def test_offered_schemes_from_squid_headers() -> None:
    assert offered_schemes(['Basic realm="TestProxy, the lab"', "NTLM", "Negotiate, NTLM"]) == \
        ("Basic", "NTLM", "Negotiate")


def test_challenge_token_reads_ntlm_type2() -> None:
    token = base64.b64encode(b"NTLMSSP\x00\x02rest").decode()
    assert challenge_token([f"NTLM {token}"], "NTLM") == b"NTLMSSP\x00\x02rest"
    assert challenge_token(['Basic realm="x"'], "NTLM") is None
    assert challenge_token(["NTLM"], "NTLM") is None


def test_basic_with_credentials() -> None:
    auth = choose_authenticator(ProxyAuthSettings(user="alice", password="s3cret"), ("Basic",), "proxy")
    assert isinstance(auth, BasicAuthenticator)
    assert auth.first_header() == "Basic " + base64.b64encode(b"alice:s3cret").decode()


def test_basic_without_credentials_says_what_is_missing() -> None:
    with pytest.raises(AuthUnavailable, match="Basic needs --proxy-user"):
        choose_authenticator(ProxyAuthSettings(), ("Basic",), "proxy")


def test_mode_none_never_authenticates() -> None:
    with pytest.raises(AuthUnavailable, match="turned off"):
        choose_authenticator(ProxyAuthSettings(mode="none", user="a", password="b"), ("Basic",), "proxy")


def test_explicit_scheme_the_proxy_does_not_offer() -> None:
    with pytest.raises(AuthUnavailable, match="does not offer NTLM"):
        choose_authenticator(ProxyAuthSettings(mode="ntlm", user="a", password="b"), ("Basic",), "proxy")


@pytest.mark.skipif(sys.platform == "win32", reason="Windows uses the signed-in account instead")
def test_ntlm_without_user_off_windows_is_explained() -> None:
    with pytest.raises(AuthUnavailable, match="only Windows can use the signed-in account"):
        choose_authenticator(ProxyAuthSettings(), ("NTLM",), "proxy")


def test_ntlm_with_user_starts_a_real_type1_message() -> None:
    auth = choose_authenticator(ProxyAuthSettings(user="CONTOSO\\bob", password="pw"), ("Basic", "NTLM"), "proxy")
    assert isinstance(auth, SpnegoAuthenticator) and auth.connection_bound
    header = auth.first_header()
    scheme, token = header.split(" ", 1)
    assert scheme == "NTLM"
    assert base64.b64decode(token).startswith(b"NTLMSSP\x00\x01\x00\x00\x00")


def test_settings_repr_hides_the_password() -> None:
    assert "s3cret" not in repr(ProxyAuthSettings(user="alice", password="s3cret"))
