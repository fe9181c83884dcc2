"""``netsh winhttp show proxy``: the WinHTTP machine proxy (used by the retired sign-in assistant).

Azure AD Connect builds before 1.1.105.0 (February 2016) needed it; the wizard, the sync engine and
PowerShell's Invoke-WebRequest ignore it. Output is parsed from a saved file (any encoding Windows
writes) or, on Windows, by running the command. The output of ``netsh winhttp show advproxy`` (Windows 11 and
Server 2022 on, where ``set proxy`` is deprecated) is read too: its settings are a JSON object.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from aadc_doctor.errors import InputError
from aadc_doctor.proxyconfig.bypass import BypassSyntax, split_winhttp
from aadc_doctor.proxyconfig.model import ProxyConfig
from aadc_doctor.proxyconfig.textfile import read_text_file
from aadc_doctor.secrets import register_url_credentials

NETSH_COMMAND = ("netsh", "winhttp", "show", "proxy")
MAX_OUTPUT_BYTES = 256 * 1024
_LABEL_VALUE = re.compile(r"^\s*(?P<label>[^:\r\n]*?[^\s:])\s*:\s+(?P<value>\S.*?)\s*$")
_USER_PASSWORD = re.compile(r"([^=;:/@\s]+):[^@;/\s]*@")  # user:password@ inside a WinHTTP proxy list


@dataclass(frozen=True)
class WinHttpSettings:
    """The WinHTTP proxy: direct, or a proxy server list (``host:port`` or ``http=a:80;https=b:8443``) and bypass."""

    source: str
    direct: bool
    proxy_server: str | None = None
    bypass: tuple[str, ...] = ()
    auto_config_url: str | None = None  # advproxy only: a PAC URL WinHTTP applications are told to use
    auto_detect: bool = False  # advproxy only: WPAD

    def scheme_proxies(self) -> dict[str, str]:
        """Proxy per scheme; an entry without ``scheme=`` applies to every scheme."""
        result: dict[str, str] = {}
        for item in (self.proxy_server or "").replace(" ", ";").split(";"):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                scheme, address = item.split("=", 1)
                result.setdefault(scheme.strip().lower(), _as_url(address.strip()))
            else:
                result.setdefault("*", _as_url(item))
        return result

    def to_proxy_config(self) -> ProxyConfig:
        source = f"winhttp:{self.source}"
        if self.direct:
            return ProxyConfig(source=source, bypass_syntax=BypassSyntax.WINHTTP)
        proxies = self.scheme_proxies()
        default = proxies.get("*")
        https = proxies.get("https", default)
        http = proxies.get("http", default)
        return ProxyConfig(source=source, url=https, bypass=self.bypass, bypass_syntax=BypassSyntax.WINHTTP,
                           scheme_urls=(("https", https), ("http", http), ("wss", https), ("ws", http)))


def _as_url(address: str) -> str:
    return address if "://" in address else "http://" + address


def _is_none_marker(value: str) -> bool:
    """``(none)`` and its translations."""
    return value.startswith("(") and value.endswith(")")


def _advproxy_settings(text: str, source: str) -> WinHttpSettings | None:
    """``netsh winhttp show advproxy``: a header line, then a JSON object (keys are not localized); None if absent."""
    start = text.find("{")
    if start < 0 or '"proxyisenabled"' not in text.lower():
        return None
    try:
        data = json.loads(text[start:text.rfind("}") + 1])
    except ValueError:
        raise InputError(f"{source}: 'netsh winhttp show advproxy' output with malformed JSON") from None
    if not isinstance(data, dict):
        return None
    fields = {str(k).lower(): v for k, v in data.items()}

    def text_field(name: str) -> str | None:
        value = fields.get(name)
        return value.strip() or None if isinstance(value, str) else None

    enabled = fields.get("proxyisenabled") is True
    proxy = text_field("proxy") if enabled else None
    bypass = text_field("proxybypass") if enabled else None
    url = text_field("autoconfigurl") if fields.get("autoconfigisenabled") is True else None
    return WinHttpSettings(source=source, direct=proxy is None,
                           proxy_server=_USER_PASSWORD.sub(r"\1:***@", proxy) if proxy else None,
                           bypass=split_winhttp(bypass) if bypass else (),
                           auto_config_url=_USER_PASSWORD.sub(r"\1:***@", url) if url else None,
                           auto_detect=fields.get("autodetect") is True)


def parse_winhttp_output(text: str, source: str) -> WinHttpSettings:
    """Parse the command's output; English wording first, any localized output by its layout."""
    register_url_credentials(text)  # "Proxy Server(s) : user:password@host:port"
    advanced = _advproxy_settings(text, source)
    if advanced is not None:
        return advanced
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if any("direct access" in line.lower() for line in lines):
        return WinHttpSettings(source=source, direct=True)
    pairs = [(m["label"], m["value"]) for m in (_LABEL_VALUE.match(line) for line in lines) if m]
    header = [line for line in lines if "winhttp" in line.lower()]
    proxy = next((v for label, v in pairs if label.lower().startswith("proxy server")), None)
    bypass = next((v for label, v in pairs if label.lower().startswith("bypass list")), None)
    if proxy is None and pairs and header:
        proxy = pairs[0][1]  # localized: the proxy line comes first, the bypass line second
        bypass = pairs[1][1] if len(pairs) > 1 else None
    if proxy is None:
        if header and len(lines) == len(header) + 1:
            return WinHttpSettings(source=source, direct=True)  # localized "Direct access (no proxy server)."
        raise InputError(f"{source}: not recognised as 'netsh winhttp show proxy' output")
    bypass_entries = () if bypass is None or _is_none_marker(bypass) else split_winhttp(bypass)
    return WinHttpSettings(source=source, direct=False, proxy_server=proxy, bypass=bypass_entries)


def read_winhttp_file(path: str | Path) -> WinHttpSettings:
    """A saved ``netsh winhttp show proxy`` output (UTF-16 from PowerShell, OEM/ANSI from cmd, UTF-8)."""
    text = read_text_file(Path(path), what="'netsh winhttp show proxy' output", max_bytes=MAX_OUTPUT_BYTES)
    return parse_winhttp_output(text, str(path))


def run_netsh(timeout: float = 15.0) -> WinHttpSettings:
    """Run ``netsh winhttp show proxy`` (Windows only) and parse what it prints."""
    if sys.platform != "win32":
        raise InputError("'netsh winhttp show proxy' runs only on Windows; pass a saved output with --winhttp FILE")
    try:
        completed = subprocess.run(NETSH_COMMAND, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"cannot run 'netsh winhttp show proxy': {exc}") from None
    encoding = "oem" if sys.platform == "win32" else "utf-8"
    text = completed.stdout.decode(encoding, errors="replace")
    if completed.returncode != 0:
        raise InputError(f"'netsh winhttp show proxy' failed (exit {completed.returncode}): {text.strip()[:200]}")
    return parse_winhttp_output(text, "netsh winhttp show proxy")
