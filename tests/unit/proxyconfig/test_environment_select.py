"""The environment source and select_proxy's order: --proxy, --direct, --pac, --machine-config, env, none."""

from __future__ import annotations

from pathlib import Path

import pytest

from aadc_doctor.errors import InputError, UsageError
from aadc_doctor.json_data import to_json_data
from aadc_doctor.proxyconfig.environment import environment_proxy
from aadc_doctor.proxyconfig.select import select_proxy

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
VALID = str(FIXTURES / "machine_config" / "valid.config")


def test_environment_lowercase_wins_and_no_proxy_applies() -> None:
    env = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2", "NO_PROXY": ".contoso.com"}
    proxy = environment_proxy(env)
    assert proxy is not None
    assert proxy.url == "http://lower:2"
    assert proxy.proxy_for("https://login.microsoftonline.com/") == "http://lower:2"
    assert proxy.proxy_for("https://www.contoso.com/") is None
    # only HTTPS_PROXY set: http URLs go direct, as in curl and Python
    assert proxy.proxy_for("http://mscrl.microsoft.com/") is None


def test_environment_all_proxy_and_bare_host_port() -> None:
    proxy = environment_proxy({"ALL_PROXY": "proxy:3128"})
    assert proxy is not None
    assert proxy.proxy_for("http://mscrl.microsoft.com/") == "http://proxy:3128"
    assert proxy.proxy_for("https://login.microsoftonline.com/") == "http://proxy:3128"
    assert environment_proxy({"PATH": "/bin"}) is None


def test_environment_password_never_in_display_or_repr() -> None:
    proxy = environment_proxy({"HTTPS_PROXY": "http://alice:s3cret@proxy:3128"})
    assert proxy is not None
    assert proxy.display_url == "http://alice:***@proxy:3128"
    assert "s3cret" not in repr(proxy)
    assert "s3cret" not in str(to_json_data(proxy))
    assert proxy.has_credentials_in_url
    assert proxy.proxy_for("https://login.microsoftonline.com/") == "http://alice:s3cret@proxy:3128"


ENV = {"HTTPS_PROXY": "http://envproxy:3128"}


def test_first_source_that_applies() -> None:
    common = {"env": ENV, "windows": False}
    assert select_proxy(proxy="http://cli:8080", direct=True, pac=VALID, machine_config=VALID, **common).source \
        == "--proxy"
    assert select_proxy(proxy=None, direct=True, pac=None, machine_config=VALID, **common).source == "--direct"
    pac = select_proxy(proxy=None, direct=False, pac=str(FIXTURES / "pac" / "corporate.pac"), machine_config=VALID,
                       **common)
    assert pac.source.startswith("pac:") and pac.pac is not None
    mc = select_proxy(proxy=None, direct=False, pac=None, machine_config=VALID, **common)
    assert mc.source == f"machine.config:{VALID}" and mc.url == "http://fabrikamproxy:8080"
    env = select_proxy(proxy=None, direct=False, pac=None, machine_config=None, **common)
    assert env.source == "environment" and env.url == "http://envproxy:3128"
    none = select_proxy(proxy=None, direct=False, pac=None, machine_config=None, env={}, windows=False)
    assert none.source == "none" and none.is_direct


def test_windows_default_machine_config_comes_before_the_environment() -> None:
    chosen = select_proxy(proxy=None, direct=False, pac=None, machine_config=None, env=ENV, windows=True,
                          default_machine_config=VALID)
    assert chosen.source == f"machine.config:{VALID}"
    stock = str(FIXTURES / "machine_config" / "stock-no-proxy.config")
    fallback = select_proxy(proxy=None, direct=False, pac=None, machine_config=None, env=ENV, windows=True,
                            default_machine_config=stock)
    assert fallback.source == "environment"


@pytest.mark.parametrize(("value", "message"), [
    ("ftp://proxy:21", "expected http://host:port"),
    ("http://proxy", "no port given"),
    ("http://proxy:port", "not a valid host:port"),
])
def test_bad_proxy_url_is_a_usage_error(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        select_proxy(proxy=value, direct=False, pac=None, machine_config=None, env={}, windows=False)


def test_proxy_url_without_scheme_gets_http() -> None:
    chosen = select_proxy(proxy="proxy:8080", direct=False, pac=None, machine_config=None, env={}, windows=False)
    assert chosen.url == "http://proxy:8080"


def test_malformed_machine_config_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"billion-laughs\.config: refused"):
        select_proxy(proxy=None, direct=False, pac=None,
                     machine_config=str(FIXTURES / "machine_config" / "billion-laughs.config"), env={}, windows=False)


def test_malformed_urls_never_crash_and_never_show_the_password() -> None:
    proxy = environment_proxy({"HTTPS_PROXY": "http://bob:Hunter2x@[broken:3128"})
    assert proxy is not None
    assert "Hunter2x" not in (proxy.display_url or "") and "Hunter2x" not in str(to_json_data(proxy))
    assert proxy.has_credentials_in_url
    proxy.proxy_for("https://[::1/path")  # a malformed target must not raise either
    with pytest.raises(UsageError, match="not a valid host:port"):
        select_proxy(proxy="http://[broken:3128", direct=False, pac=None, machine_config=None, env={}, windows=False)


def test_environment_proxy_urls_in_use_are_checked_and_the_variable_named() -> None:
    with pytest.raises(UsageError, match=r"^ALL_PROXY socks5://socks\.contoso\.com:1080: expected http://host:port"):
        select_proxy(proxy=None, direct=False, pac=None, machine_config=None, windows=False,
                     env={"HTTPS_PROXY": "http://proxy.contoso.com:8080", "ALL_PROXY": "socks5://socks.contoso.com:1080"})
    # a port is optional in the environment (the scheme's default applies); an unused bad variable is not read
    cfg = select_proxy(proxy=None, direct=False, pac=None, machine_config=None, windows=False,
                       env={"https_proxy": "http://proxy.contoso.com", "HTTPS_PROXY": "http://[bad",
                            "http_proxy": "http://proxy.contoso.com:8080"})
    assert cfg.url == "http://proxy.contoso.com"


def test_an_empty_lower_case_variable_turns_the_proxy_off_as_urllib_does():
    from aadc_doctor.proxyconfig.environment import environment_proxy

    assert environment_proxy({"https_proxy": "", "HTTPS_PROXY": "http://proxy:8080"}) is None
    cfg = environment_proxy({"HTTPS_PROXY": "http://proxy:8080"})
    assert cfg is not None and cfg.url == "http://proxy:8080"
