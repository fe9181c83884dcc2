"""ProxyConfig's one-line description, as `check` prints it above the table."""

from __future__ import annotations

from aadc_doctor.proxyconfig.model import ProxyConfig


def test_no_proxy_setting_is_described_for_a_human_not_as_a_source_code():
    text = ProxyConfig(source="none", url=None).describe()
    assert "(none)" not in text
    assert text.startswith("direct (no proxy setting found")


def test_a_configured_proxy_names_its_source_without_the_password():
    text = ProxyConfig(source="--proxy", url="http://bob:pw123456@proxy.contoso.com:8080").describe()
    assert "proxy.contoso.com:8080" in text and "(--proxy)" in text
    assert "pw123456" not in text
