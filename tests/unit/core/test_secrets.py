"""Secrets never reach output: the registry, URL passwords, auth headers and JWT-shaped tokens."""

from __future__ import annotations

import io

import pytest

from aadc_doctor.render.terminal import make_console
from aadc_doctor.secrets import register_secret, scrub, url_without_password


def test_registered_secret_is_removed_everywhere():
    register_secret("Sup3r-Secret-Canary")
    assert "Sup3r-Secret-Canary" not in scrub("password=Sup3r-Secret-Canary;x")


def test_url_userinfo_password_is_removed_but_user_kept():
    assert scrub("via http://bob:hunter22@proxy:8080/") == "via http://bob:***@proxy:8080/"
    assert url_without_password("http://bob:hunter22@proxy.corp:8080") == "http://bob:***@proxy.corp:8080"
    assert url_without_password("http://proxy.corp:8080") == "http://proxy.corp:8080"


def test_authorization_headers_and_jwts_are_removed():
    text = scrub("Proxy-Authorization: Basic Ym9iOmh1bnRlcjI= and eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.sig")
    assert "Ym9iOmh1bnRlcjI" not in text
    assert "eyJhbGciOiJSUzI1NiJ9" not in text


def test_console_output_is_scrubbed():
    register_secret("canary-console-pw")
    buf = io.StringIO()
    console = make_console(buf, {"NO_COLOR": "1"})
    console.print("the password is canary-console-pw")
    assert "canary-console-pw" not in buf.getvalue()
    assert "***" in buf.getvalue()


@pytest.mark.parametrize("text", [
    "Proxy-AUTHORİZATİON: Basic dXNlcjpwYXNz",  # dotted capital I folds to i for a case-insensitive match
    "x" * 100_000 + " Authorization: Bearer abcdefgh " + "y" * 100_000,
    "see http://bob:hunter2@proxy:8080/ and token eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0NSJ9.sig",
])
def test_the_quick_prechecks_never_skip_a_secret(text):
    out = scrub(text)
    assert "dXNlcjpwYXNz" not in out and "abcdefgh" not in out and "hunter2" not in out
    assert "eyJzdWIiOiIxMjM0NSJ9" not in out


def test_a_password_without_a_scheme_is_registered_and_hidden_in_every_form():
    import base64
    from urllib.parse import quote

    from aadc_doctor.secrets import register_url_credentials

    register_url_credentials("carol:Bare%2FCanary-77@proxy.corp:8080")
    token = base64.b64encode(b"carol:Bare/Canary-77").decode()
    text = scrub(f"Bare/Canary-77 {quote('Bare/Canary-77', safe='')} {token} x{token[:-2]}")
    assert "Bare/Canary-77" not in text and "Bare%2FCanary-77" not in text and token[4:-4] not in text
    assert url_without_password("carol:Bare%2FCanary-77@proxy.corp:8080") == "carol:***@proxy.corp:8080"
    assert url_without_password("http://dave:pw123@[bad") == "http://dave:***@[bad"


def test_an_unregistered_bare_user_password_before_a_host_port_is_hidden_but_a_upn_is_not():
    assert scrub("https_proxy=eve:NotRegistered1@proxy:3128") == "https_proxy=eve:***@proxy:3128"
    assert scrub("UPN:alice@contoso.com signed in") == "UPN:alice@contoso.com signed in"
