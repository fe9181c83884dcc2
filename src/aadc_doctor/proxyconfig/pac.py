"""PAC files (and WPAD ``wpad.dat``): load one and ask its ``FindProxyForURL`` which proxy a URL takes.

pypac runs the JavaScript in an embedded engine; it is imported only when a PAC file is actually used,
and one lock serialises calls because the engine is not thread-safe (``check`` probes concurrently).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aadc_doctor.errors import InputError
from aadc_doctor.proxyconfig.bypass import Target
from aadc_doctor.proxyconfig.textfile import read_text_file

MAX_PAC_BYTES = 2 * 1024 * 1024
DOWNLOAD_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PacScript:
    """A parsed PAC script and where it came from (a path or a URL)."""

    location: str
    text: str = field(repr=False)
    _engine: Any = field(repr=False, compare=False, hash=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False, hash=False)

    def find_proxy(self, url: str) -> tuple[str | None, ...]:
        """Every choice ``FindProxyForURL`` returns for url, in order: a proxy URL, or None for DIRECT."""
        from pypac.parser import parse_pac_value

        host = Target.from_url(url).host
        try:
            with self._lock:
                value = self._engine.find_proxy_for_url(url, host)
        except Exception as exc:  # the engine raises its own JSRuntimeError for any script error
            raise InputError(f"{self.location}: FindProxyForURL failed for {url}: {_one_line(exc)}") from None
        if not isinstance(value, str) or not value.strip():
            return (None,)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            choices = parse_pac_value(value)
        return tuple(None if c == "DIRECT" else c for c in choices) or (None,)

    def proxy_for(self, url: str) -> str | None:
        """The first choice, which is what .NET and browsers use while that proxy answers."""
        return self.find_proxy(url)[0]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def parse_pac(text: str, location: str) -> PacScript:
    """Compile PAC JavaScript; a script that does not define FindProxyForURL is an input error."""
    from pypac.parser import MalformedPacError, PACFile

    try:
        engine = PACFile(text)
    except MalformedPacError as exc:
        raise InputError(f"{location}: not a valid PAC file: {_one_line(exc)}") from None
    except Exception as exc:  # the JS engine's own errors (syntax errors) surface as various types
        raise InputError(f"{location}: not a valid PAC file: {_one_line(exc)}") from None
    return PacScript(location=location, text=text, _engine=engine)


def load_pac(file_or_url: str, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> PacScript:
    """Read a PAC file from a path, a ``file://`` URL, or download it from an http(s) URL (never via a proxy)."""
    lower = file_or_url.lower()
    if lower.startswith(("http://", "https://")):
        return parse_pac(_download(file_or_url, timeout), file_or_url)
    path = file_or_url
    if lower.startswith("file://"):
        parts = urlsplit(file_or_url)
        path = parts.path
        if len(path) > 2 and path[0] == "/" and path[2] == ":":  # file:///C:/proxy.pac
            path = path[1:]
    text = read_text_file(Path(path), what="PAC file", max_bytes=MAX_PAC_BYTES)
    return parse_pac(text, file_or_url)


def _download(url: str, timeout: float) -> str:
    import requests

    try:
        with requests.Session() as session:
            session.trust_env = False  # WPAD/PAC is fetched directly, as Windows does
            response = session.get(url, timeout=timeout, stream=True)
            response.raise_for_status()
            body = response.raw.read(MAX_PAC_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise InputError(f"{url}: cannot download the PAC file: {_one_line(exc)}") from None
    if len(body) > MAX_PAC_BYTES:
        raise InputError(f"{url}: the PAC file is larger than {MAX_PAC_BYTES // 1024} KiB; refusing it")
    try:
        return bytes(body).decode(response.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise InputError(f"{url}: the PAC file is not text") from None
