"""Proxy authentication: Basic, NTLM and Negotiate (pyspnego), chosen from what the proxy's 407 offers.

Azure AD Connect authenticates to a proxy only through .NET's `useDefaultCredentials` (the signed-in account,
NTLM or Negotiate). On Windows, NTLM/Negotiate without --proxy-user therefore use the current user via SSPI,
as the product does; elsewhere a user and password are needed.
"""

from __future__ import annotations

import base64
import re
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from aadc_doctor.secrets import register_secret

AuthMode = Literal["auto", "none", "basic", "ntlm", "negotiate"]
AUTH_MODES: tuple[str, ...] = ("auto", "none", "basic", "ntlm", "negotiate")

# auto mode prefers what Windows' default credentials would use first
_AUTO_ORDER = ("negotiate", "ntlm", "basic")
_CANONICAL = {"basic": "Basic", "ntlm": "NTLM", "negotiate": "Negotiate"}


class AuthUnavailable(Exception):
    """The proxy wants a scheme this run cannot answer (no credentials, scheme not offered, library failure)."""


@dataclass(frozen=True)
class ProxyAuthSettings:
    """How to answer a 407. The password is never printed: register it with secrets.register_secret()."""

    mode: AuthMode = "auto"
    user: str | None = None
    password: str | None = None

    @property
    def can_use_current_user(self) -> bool:
        """SSPI with the signed-in account, what useDefaultCredentials="true" does (Windows only)."""
        return self.user is None and sys.platform == "win32"

    def __post_init__(self) -> None:  # the password, and the Basic token made of it, in every form
        register_secret(self.password, user=self.user)

    def __repr__(self) -> str:  # keep the password out of any debug output
        return f"ProxyAuthSettings(mode={self.mode!r}, user={self.user!r}, password={'***' if self.password else None})"


def offered_schemes(header_values: list[str]) -> tuple[str, ...]:
    """Scheme names from Proxy-Authenticate headers, e.g. ['Basic realm="x"', 'NTLM'] -> ('Basic', 'NTLM')."""
    schemes: list[str] = []
    for value in header_values:
        unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', value)  # commas inside quoted realms are not separators
        for piece in unquoted.split(","):
            words = piece.split()
            if not words or "=" in words[0]:
                continue
            word = words[0]
            if word.isascii() and word.replace("-", "").isalnum() and word not in schemes:
                schemes.append(word)
    return tuple(schemes)


def challenge_token(header_values: list[str], scheme: str) -> bytes | None:
    """The base64 token after `scheme` in a Proxy-Authenticate header (NTLM type 2, Negotiate), if present."""
    for value in header_values:
        word, _, rest = value.strip().partition(" ")
        if word.lower() == scheme.lower() and rest.strip() and "=" not in rest.strip()[:-2]:
            try:
                return base64.b64decode(rest.strip(), validate=True)
            except ValueError:
                return None
    return None


class Authenticator(ABC):
    """One authentication exchange with the proxy; NTLM/Negotiate are bound to one TCP connection."""

    scheme: str = ""
    connection_bound: bool = False

    @abstractmethod
    def first_header(self) -> str:
        """The Proxy-Authorization value of the first authenticated request."""

    def next_header(self, token: bytes | None) -> str | None:  # noqa: ARG002 (the scheme interface)
        """The answer to a challenge token, or None when the exchange has nothing more to send."""
        return None


class BasicAuthenticator(Authenticator):
    scheme = "Basic"

    def __init__(self, user: str, password: str) -> None:
        self._value = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")

    def first_header(self) -> str:
        return self._value


class SpnegoAuthenticator(Authenticator):
    """NTLM or Negotiate through pyspnego (SSPI on Windows, so no user means the signed-in account)."""

    connection_bound = True

    def __init__(self, protocol: Literal["ntlm", "negotiate"], user: str | None, password: str | None,
                 proxy_host: str) -> None:
        import spnego

        self.scheme = _CANONICAL[protocol]
        try:
            # explicit NTLM credentials need no SSPI: pyspnego's own NTLM gives the same messages on every OS
            # (and is the path the Windows lane can exercise: Wine's SSPI has no working NTLM)
            options = spnego.NegotiateOptions.use_ntlm if protocol == "ntlm" and user else spnego.NegotiateOptions.none
            self._ctx: Any = spnego.client(user, password, hostname=proxy_host, service="HTTP", protocol=protocol,
                                           options=options)
        except Exception as exc:  # pyspnego raises many types for missing providers and bad input
            raise AuthUnavailable(f"{self.scheme} is not available here: {type(exc).__name__}: {exc}") from None

    def _step(self, token: bytes | None) -> bytes | None:
        try:
            out: bytes | None = self._ctx.step(token)
        except Exception as exc:  # pyspnego's SpnegoError family and provider errors
            raise AuthUnavailable(f"{self.scheme} handshake failed on this side: {type(exc).__name__}: {exc}") from None
        return out

    def first_header(self) -> str:
        out = self._step(None)
        if not out:
            raise AuthUnavailable(f"{self.scheme} produced no initial token")
        return f"{self.scheme} {base64.b64encode(out).decode('ascii')}"

    def next_header(self, token: bytes | None) -> str | None:
        if token is None:
            return None
        out = self._step(token)
        return f"{self.scheme} {base64.b64encode(out).decode('ascii')}" if out else None


def choose_authenticator(settings: ProxyAuthSettings, offered: tuple[str, ...], proxy_host: str) -> Authenticator:
    """Pick the scheme to answer a 407 with, or explain (AuthUnavailable) why none can be used."""
    offered_lower = [s.lower() for s in offered]
    if settings.mode == "none":
        raise AuthUnavailable("proxy authentication is turned off (--proxy-auth none)")
    candidates = _AUTO_ORDER if settings.mode == "auto" else (settings.mode,)
    reasons: list[str] = []
    for name in candidates:
        if name not in offered_lower:
            if settings.mode != "auto":
                shown = ", ".join(offered) or "no scheme"
                reasons.append(f"the proxy does not offer {_CANONICAL[name]} (it offers {shown})")
            continue
        if name == "basic":
            if settings.user is None or settings.password is None:
                reasons.append("Basic needs --proxy-user and a password")
                continue
            return BasicAuthenticator(settings.user, settings.password)
        if settings.user is None and not settings.can_use_current_user:
            reasons.append(f"{_CANONICAL[name]} needs --proxy-user and a password on this system "
                           "(only Windows can use the signed-in account)")
            continue
        return SpnegoAuthenticator(name, settings.user, settings.password if settings.user else None,  # type: ignore[arg-type]
                                   proxy_host)
    if not reasons:
        reasons.append(f"none of the offered schemes ({', '.join(offered) or 'none'}) is supported")
    raise AuthUnavailable("; ".join(dict.fromkeys(reasons)))
