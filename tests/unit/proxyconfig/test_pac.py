"""PAC files evaluated with pypac: choices in order, DIRECT as None, broken scripts refused in one line."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aadc_doctor.errors import InputError
from aadc_doctor.proxyconfig.model import ProxyConfig
from aadc_doctor.proxyconfig.pac import load_pac, parse_pac

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pac"


def test_corporate_pac() -> None:
    pac = load_pac(str(FIXTURES / "corporate.pac"))
    assert pac.find_proxy("https://login.microsoftonline.com/") == ("http://fabrikamproxy:8080", None)
    assert pac.proxy_for("https://wiki.fabrikam.local/") is None
    assert pac.proxy_for("http://intranet/") is None
    assert pac.proxy_for("https://graph.windows.net/") == "http://fabrikamproxy:8080"
    config = ProxyConfig(source="pac:x", pac=pac)
    assert not config.is_direct
    assert config.proxy_for("https://login.microsoftonline.com/") == "http://fabrikamproxy:8080"


def test_file_url() -> None:
    pac = load_pac((FIXTURES / "direct-microsoft.pac").as_uri())
    assert pac.proxy_for("https://login.microsoftonline.com/") is None


@pytest.mark.parametrize(("name", "message"), [
    ("broken.pac", "not a valid PAC file: .*SyntaxError"),
    ("no-function.pac", "not a valid PAC file"),
])
def test_broken_pac_files(name: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        load_pac(str(FIXTURES / name))
    assert "\n" not in info.value.message


def test_runtime_error_in_find_proxy_is_an_input_error() -> None:
    pac = parse_pac("function FindProxyForURL(url, host) { if (host == 'boom') { undefinedFn(); } "
                    "return 'DIRECT'; }", "boom.pac")
    with pytest.raises(InputError, match=r"boom\.pac: FindProxyForURL failed for https://boom/"):
        pac.proxy_for("https://boom/")


def test_missing_pac_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the PAC file"):
        load_pac(str(tmp_path / "nope.pac"))


def test_unreachable_pac_url() -> None:
    with pytest.raises(InputError, match="cannot download the PAC file"):
        load_pac("http://127.0.0.1:9/wpad.dat", timeout=2)


def test_concurrent_calls_are_serialised() -> None:
    pac = load_pac(str(FIXTURES / "corporate.pac"))
    results: list[str | None] = []

    def work() -> None:
        for _ in range(20):
            results.append(pac.proxy_for("https://graph.windows.net/"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["http://fabrikamproxy:8080"] * 80
