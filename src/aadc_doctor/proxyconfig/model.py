"""ProxyConfig: the one effective proxy setting a probe goes through, whatever it was read from.

Every reader in this package (machine.config, an .exe.config, netsh winhttp output, a PAC file, the
environment, the command line) ends in a ``ProxyConfig``, so ``check`` and ``proxy`` decide "proxy or
direct?" for a URL in one place, with each source's own bypass rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aadc_doctor.json_data import json_meta
from aadc_doctor.proxyconfig.bypass import BypassSyntax, Target, bypass_match, is_local_host, is_loopback_host
from aadc_doctor.secrets import scrub, url_without_password

if TYPE_CHECKING:
    from aadc_doctor.proxyconfig.pac import PacScript


def display_proxy_url(url: str) -> str:
    """A proxy URL without its password, also when it is too malformed for urlsplit (``http://[bad``)."""
    try:
        return url_without_password(url)
    except ValueError:
        return scrub(url)


def url_has_password(url: str | None) -> bool:
    if not url:
        return False
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return "@" in url



NO_PROXY_SETTING = "direct (no proxy setting found: no --proxy, machine.config <defaultProxy> or HTTPS_PROXY)"

@dataclass(frozen=True)
class ProxyConfig:
    """Where the proxy setting came from and what it says.

    ``source`` is one of ``--proxy``, ``--direct``, ``pac:<location>``, ``machine.config:<path>``,
    ``exe.config:<path>``, ``winhttp:<file>``, ``environment`` or ``none``. ``url`` is the proxy for https
    URLs (None = direct) and may hold ``user:password@``: render ``display_url`` only. ``scheme_urls``
    overrides the proxy per URL scheme (``HTTP_PROXY`` vs ``HTTPS_PROXY``; ``http=a;https=b`` in WinHTTP).
    """

    source: str
    # may hold a password: never in a repr or a log, and in the JSON only as display_url (json_leading)
    url: str | None = field(default=None, repr=False, metadata=json_meta(skip=True))
    bypass: tuple[str, ...] = ()
    bypass_on_local: bool = False
    use_default_credentials: bool = False
    pac: PacScript | None = field(default=None, metadata=json_meta(skip=True))
    bypass_syntax: BypassSyntax = BypassSyntax.DOTNET_REGEX
    scheme_urls: tuple[tuple[str, str | None], ...] = field(default=(), repr=False, metadata=json_meta(skip=True))
    notes: tuple[str, ...] = ()

    @property
    def display_url(self) -> str | None:
        """The proxy URL with any password replaced by ``***`` (the user name stays: it helps diagnosis)."""
        return display_proxy_url(self.url) if self.url else None

    @property
    def is_direct(self) -> bool:
        """True when no URL can ever go through a proxy."""
        return self.pac is None and self.url is None and not any(u for _, u in self.scheme_urls)

    @property
    def has_credentials_in_url(self) -> bool:
        urls = [self.url, *(u for _, u in self.scheme_urls)]
        return any(url_has_password(u) for u in urls)

    def bypass_entry_for(self, url: str) -> str | None:
        """The bypass entry that sends url direct (``<local>`` for bypassonlocal), or None."""
        target = Target.from_url(url)
        if self.bypass_on_local and is_local_host(target.host):
            return "<local>"
        return bypass_match(self.bypass_syntax, self.bypass, target)

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL a request to url goes through, or None when it goes direct."""
        if self.pac is not None:
            return self.pac.proxy_for(url)
        target = Target.from_url(url)
        proxy = dict(self.scheme_urls).get(target.scheme, self.url) if self.scheme_urls else self.url
        if proxy is None:
            return None
        if self.bypass_syntax is BypassSyntax.DOTNET_REGEX and is_loopback_host(target.host):
            return None  # .NET never proxies loopback (WebProxy.IsBypassedManual)
        if self.bypass_entry_for(url) is not None:
            return None
        return proxy

    def describe(self) -> str:
        """One line for a human: ``http://proxy:8080 (machine.config:...)`` or ``direct (...)``."""
        if self.pac is not None:
            return f"PAC {self.pac.location}"
        if self.source == "none":
            return NO_PROXY_SETTING
        return f"{self.display_url or 'direct'} ({self.source})"

    def json_leading(self) -> dict[str, Any]:
        """The JSON's source and URLs, passwords removed; the script by its location."""
        return {"source": self.source, "url": self.display_url,
                "scheme_urls": {s: (display_proxy_url(u) if u else None) for s, u in self.scheme_urls},
                "pac": self.pac.location if self.pac is not None else None}
