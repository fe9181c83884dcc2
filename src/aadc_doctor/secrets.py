"""One place that knows every secret of this run, so no renderer or error can leak it."""

from __future__ import annotations

import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
REDACTED = "***"

# user:password@ in any URL-looking text
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^@/\s]+)@")
# bearer tokens, Authorization headers, JWT-shaped strings
_AUTH_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*)(\S+(?:\s+\S+)?)")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


def register_secret(value: str | None) -> None:
    """Remember a secret (password, token) so scrub() removes it wherever it shows up."""
    if value and len(value) >= 3:
        with _lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """Remove registered secrets, URL passwords, auth headers and JWTs from text."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    # each pattern only where its fixed part occurs: a long report is mostly text none of them can match
    if "://" in text:
        text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    if not text.isascii() or "authorization" in text.lower():  # (?i) folds some non-ASCII letters to ASCII
        text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _JWT.sub(REDACTED, text) if "eyJ" in text else text


def url_without_password(url: str) -> str:
    """A proxy URL fit for a report: the user stays (it helps diagnosis), the password goes."""
    from urllib.parse import urlsplit, urlunsplit  # not on every command's start-up path

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:{REDACTED}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
