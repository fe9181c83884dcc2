"""`netsh winhttp show proxy` output in the real Windows wording, encodings and a localized copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from aadc_doctor.errors import InputError
from aadc_doctor.proxyconfig.winhttp import parse_winhttp_output, read_winhttp_file, run_netsh

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "winhttp"


def test_direct() -> None:
    settings = read_winhttp_file(FIXTURES / "direct.txt")
    assert settings.direct and settings.proxy_server is None
    assert settings.to_proxy_config().is_direct


def test_proxy_with_none_bypass() -> None:
    settings = read_winhttp_file(FIXTURES / "proxy.txt")
    assert (settings.direct, settings.proxy_server, settings.bypass) == (False, "fabrikamproxy:8080", ())
    proxy = settings.to_proxy_config()
    assert proxy.source == f"winhttp:{FIXTURES / 'proxy.txt'}"
    assert proxy.proxy_for("https://login.microsoftonline.com/") == "http://fabrikamproxy:8080"
    assert proxy.proxy_for("http://mscrl.microsoft.com/") == "http://fabrikamproxy:8080"


@pytest.mark.parametrize("name", ["proxy-bypass.txt", "proxy-bypass-utf16.txt"])
def test_proxy_and_bypass_in_utf8_and_powershell_utf16(name: str) -> None:
    settings = read_winhttp_file(FIXTURES / name)
    assert settings.bypass == ("*.fabrikam.local", "10.*", "<local>")
    proxy = settings.to_proxy_config()
    assert proxy.proxy_for("https://wiki.fabrikam.local/") is None
    assert proxy.proxy_for("http://intranet/") is None
    assert proxy.proxy_for("https://login.microsoftonline.com/") == "http://fabrikamproxy:8080"


def test_per_scheme_proxies() -> None:
    proxy = read_winhttp_file(FIXTURES / "per-scheme.txt").to_proxy_config()
    assert proxy.proxy_for("https://login.microsoftonline.com/") == "http://secureproxy:8443"
    assert proxy.proxy_for("http://mscrl.microsoft.com/") == "http://fabrikamproxy:8080"


@pytest.mark.parametrize("name", ["french-proxy.txt", "french-proxy-cp850.txt"])
def test_localized_output_is_read_by_its_layout(name: str) -> None:
    settings = read_winhttp_file(FIXTURES / name)
    assert (settings.direct, settings.proxy_server, settings.bypass) == (False, "fabrikamproxy:8080", ())


def test_localized_direct_access() -> None:
    text = "\r\nAktuelle WinHTTP-Proxyeinstellungen:\r\n\r\n    Direkter Zugriff (kein Proxyserver).\r\n"
    assert parse_winhttp_output(text, "de.txt").direct


def test_advproxy_json_output() -> None:
    """Regression: the JSON lines of 'show advproxy' were read as a localized layout (proxy 'true,')."""
    settings = read_winhttp_file(FIXTURES / "advproxy.txt")
    assert (settings.direct, settings.proxy_server, settings.bypass) == (
        False, "proxy.contoso.com:8080", ("<local>", "*.contoso.com"))
    assert (settings.auto_config_url, settings.auto_detect) == (None, False)
    proxy = settings.to_proxy_config()
    assert proxy.proxy_for("https://login.microsoftonline.com/") == "http://proxy.contoso.com:8080"
    assert proxy.proxy_for("https://wiki.contoso.com/") is None


def test_advproxy_auto_config_in_utf16() -> None:
    settings = read_winhttp_file(FIXTURES / "advproxy-autoconfig-utf16.txt")
    assert settings.direct and settings.proxy_server is None
    assert (settings.auto_config_url, settings.auto_detect) == ("http://wpad.contoso.com/wpad.dat", True)


def test_advproxy_disabled_proxy_is_ignored_and_passwords_are_masked() -> None:
    text = ('Current WinHTTP advanced proxy settings:\n{\n "ProxyIsEnabled": false,\n "Proxy": "old:3128"\n}\n')
    assert parse_winhttp_output(text, "a.txt").direct
    text = ('Current WinHTTP advanced proxy settings:\n{"ProxyIsEnabled": true, '
            '"Proxy": "http=bob:Secret1@p:8080;https=p:8443", "AutoConfigIsEnabled": true, '
            '"AutoconfigUrl": "https://u:Secret2@cfg/proxy.pac"}')
    settings = parse_winhttp_output(text, "a.txt")
    assert settings.proxy_server == "http=bob:***@p:8080;https=p:8443"
    assert settings.auto_config_url == "https://u:***@cfg/proxy.pac"
    with pytest.raises(InputError, match="advproxy' output with malformed JSON"):
        parse_winhttp_output('Current WinHTTP advanced proxy settings:\n{"ProxyIsEnabled": tru', "b.txt")


def test_other_text_binary_and_missing_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not recognised as 'netsh winhttp show proxy' output"):
        read_winhttp_file(FIXTURES / "not-netsh.txt")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" * 50)
    with pytest.raises(InputError, match="binary"):
        read_winhttp_file(junk)
    with pytest.raises(InputError, match="cannot read"):
        read_winhttp_file(tmp_path / "missing.txt")


def test_empty_and_directory_are_named(tmp_path: Path) -> None:
    """Regression: an empty saved output was 'not recognised as ... output' (the redirect failed, say so)."""
    empty = tmp_path / "netsh.txt"
    empty.write_bytes(b"\xff\xfe")  # PowerShell's UTF-16 BOM and nothing else
    with pytest.raises(InputError, match=r"netsh\.txt: the file is empty; expected a 'netsh winhttp show proxy' "
                                         r"output$"):
        read_winhttp_file(empty)
    with pytest.raises(InputError, match=r": is a directory, not a 'netsh winhttp show proxy' output$"):
        read_winhttp_file(tmp_path)


def test_netsh_needs_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(InputError, match="runs only on Windows"):
        run_netsh()
