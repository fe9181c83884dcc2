"""Each client's bypass rules, checked against how .NET, curl and WinHTTP actually decide."""

from __future__ import annotations

import pytest

from aadc_doctor.proxyconfig.bypass import (
    Target,
    dotnet_bypass_match,
    invalid_dotnet_entries,
    is_local_host,
    no_proxy_match,
    split_no_proxy,
    winhttp_bypass_match,
)


def t(url: str) -> Target:
    return Target.from_url(url)


def test_dotnet_match_text_is_scheme_host_and_only_a_non_default_port() -> None:
    assert t("https://Login.MicrosoftOnline.com/common").dotnet_match_text == "https://login.microsoftonline.com"
    assert t("https://login.microsoftonline.com:8443/x").dotnet_match_text == "https://login.microsoftonline.com:8443"
    assert t("http://mscrl.microsoft.com:80/pki").dotnet_match_text == "http://mscrl.microsoft.com"


@pytest.mark.parametrize(("entries", "url", "expected"), [
    ([r"[a-z]+\.contoso\.com$"], "https://www.contoso.com/", r"[a-z]+\.contoso\.com$"),
    ([r"[a-z]+\.contoso\.com$"], "https://contoso.com/", None),
    # an unanchored, unescaped entry is searched anywhere in the text: it over-matches
    (["contoso.com"], "https://www.notcontoso.com.evil.net/", "contoso.com"),
    (["microsoftonline"], "https://login.microsoftonline.com/", "microsoftonline"),
    ([r"192\.168\.\d{1,3}\.\d{1,3}"], "http://192.168.10.5/", r"192\.168\.\d{1,3}\.\d{1,3}"),
    # the scheme is part of the text: an entry can select by scheme
    (["^http://"], "https://login.microsoftonline.com/", None),
    (["^http://"], "http://mscrl.microsoft.com/", "^http://"),
    # IgnoreCase, as .NET compiles them
    ([r"LOGIN\.MICROSOFTONLINE"], "https://login.microsoftonline.com/", r"LOGIN\.MICROSOFTONLINE"),
])
def test_dotnet_entries_are_regexes_searched_in_scheme_and_host(entries: list[str], url: str,
                                                                  expected: str | None) -> None:
    assert dotnet_bypass_match(entries, t(url)) == expected


def test_one_invalid_dotnet_entry_disables_the_whole_list() -> None:
    entries = ["*.contoso.com", r"\.fabrikam\.local$"]
    assert invalid_dotnet_entries(entries) == ["*.contoso.com"]
    assert dotnet_bypass_match(entries, t("https://intranet.fabrikam.local/")) is None
    assert dotnet_bypass_match(entries[1:], t("https://intranet.fabrikam.local/")) == r"\.fabrikam\.local$"


@pytest.mark.parametrize(("entries", "url", "expected"), [
    (["contoso.com"], "https://contoso.com/", "contoso.com"),
    (["contoso.com"], "https://www.contoso.com/", "contoso.com"),
    ([".contoso.com"], "https://www.contoso.com/", ".contoso.com"),
    ([".contoso.com"], "https://contoso.com/", ".contoso.com"),
    (["*.contoso.com"], "https://a.b.contoso.com/", "*.contoso.com"),
    (["contoso.com"], "https://notcontoso.com/", None),
    (["*"], "https://anything.example/", "*"),
    (["10.0.0.0/8"], "https://10.20.30.40/", "10.0.0.0/8"),
    (["10.0.0.0/8"], "https://11.0.0.1/", None),
    (["contoso.com:8443"], "https://www.contoso.com:8443/", "contoso.com:8443"),
    (["contoso.com:8443"], "https://www.contoso.com/", None),
    (["127.0.0.1"], "http://127.0.0.1:8080/", "127.0.0.1"),
])
def test_no_proxy_entries_are_domain_suffixes_on_a_dot_boundary(entries: list[str], url: str,
                                                                 expected: str | None) -> None:
    assert no_proxy_match(entries, t(url)) == expected


def test_split_no_proxy_accepts_commas_and_spaces() -> None:
    assert split_no_proxy(" .contoso.com, 10.0.0.0/8 ,localhost") == (".contoso.com", "10.0.0.0/8", "localhost")


@pytest.mark.parametrize(("entries", "url", "expected"), [
    (["<local>"], "http://intranet/", "<local>"),
    (["<local>"], "https://login.microsoftonline.com/", None),
    (["*.fabrikam.local"], "https://wiki.fabrikam.local/", "*.fabrikam.local"),
    (["*.fabrikam.local"], "https://fabrikam.local/", None),
    (["10.*"], "http://10.1.2.3/", "10.*"),
    (["https://*.contoso.com"], "http://www.contoso.com/", None),
    (["https://*.contoso.com"], "https://www.contoso.com/", "https://*.contoso.com"),
])
def test_winhttp_entries_are_host_wildcards(entries: list[str], url: str, expected: str | None) -> None:
    assert winhttp_bypass_match(entries, t(url)) == expected


@pytest.mark.parametrize(("host", "local"), [
    ("intranet", True), ("localhost", True), ("127.0.0.1", True), ("::1", True),
    ("login.microsoftonline.com", False), ("10.0.0.1", False),
])
def test_local_means_no_dot_or_loopback(host: str, local: bool) -> None:
    assert is_local_host(host) is local
