"""One place that knows every secret of this run, so no renderer, report or error can leak it.

A secret is registered where it is read (a proxy URL from the environment, machine.config or netsh output, an
option, an environment variable named by an option, a token from a sign-in), in every form it can take on its
way out: as given, URL-encoded, escaped for JSON or HTML, and inside a Basic token (``base64(user:password)``,
the whole token and any base64 text that carries the password). ``scrub`` removes those, and the shapes a
secret nobody registered still has (``user:password@`` in a URL, with or without a scheme, an Authorization
header, a JWT), in time linear in the text's length: every pattern below starts only where a run of its
characters starts, so no position is scanned more than a few times however hostile the text.

Renderers call ``scrub`` before they lay text out (a password wrapped across two lines is two harmless
halves), and their streams call it again as a last guard.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable

REDACTED = "***"
MIN_SECRET_LENGTH = 3  # shorter "secrets" would hide ordinary text everywhere
_MIN_BASE64_CORE = 8  # base64 of a password inside a longer token: long enough never to match by chance
_MAX_ENCODED_LENGTH = 4096  # a longer "password" (a hostile file's) is hidden as written: its encodings cost memory

_lock = threading.Lock()
_forms: set[str] = set()
_forms_longest_first: tuple[str, ...] = ()

# user:password@ after a scheme; a candidate starts only where a run of scheme characters starts
# (no class crosses a quote, so a span never leaves a JSON string: scrub keeps a JSON report valid)
_URL_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s\"'<>]*:(?P<pw>[^@/\s\"'<>]+)@")
# user:password@host:port without a scheme (an https_proxy, a proxyaddress, a WinHTTP list): a candidate starts
# only after a delimiter, and neither part may hold one, so each run of text is tried once
_DELIMITERS = "\\s\"'<>;,()\\[\\]{}=|`"
_BARE_USERINFO = re.compile(
    rf"(?<![^{_DELIMITERS}])[^{_DELIMITERS}:@/]+:(?P<pw>[^{_DELIMITERS}@/]+)@(?=[A-Za-z0-9._-]+:[0-9]{{1,5}}(?![\w.-]))")
# an Authorization or Proxy-Authorization header: its scheme and credentials
_AUTH_HEADER = re.compile(
    r"(?i)(?<![a-z0-9-])(?:proxy-)?authorization\s*[:=]\s*(?P<pw>[^\s\"'<>\\]+(?:[ \t]+[^\s\"'<>\\]+)?)")
# a JWT (three base64url parts, the first a JSON object)
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


def register_secret(value: str | None, *, user: str | None = None) -> None:
    """Remember a secret (password, token) so ``scrub`` removes it, in all its forms, wherever it shows up.

    With ``user``, the Basic tokens a client builds from ``user:value`` are registered too.
    """
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    _add_forms(secret_forms(value, user))


def register_url_credentials(text: str | None) -> None:
    """Register the password of every ``user:password@`` in a proxy setting, as written and decoded.

    ``text`` may be one proxy URL with or without a scheme, a WinHTTP list (``http=u:p@a:80;https=b:443``), a
    PAC return value or a whole ``netsh`` output; it may be malformed (the password must not leak from the
    error that says so). Nothing is parsed strictly: whatever stands between the scheme and the last ``@`` is
    taken as user information.
    """
    if not text or "@" not in text:
        return
    from urllib.parse import unquote

    items = [text] if not any(c.isspace() for c in text) else []
    items += re.split(r"[\s;,\"']+", text)
    for item in items:
        if "@" not in item:
            continue
        name, eq, rest = item.partition("=")  # WinHTTP's scheme=address
        if eq and "://" not in name and "@" not in name and ":" not in name:
            item = rest
        rest = item.partition("://")[2] or item
        userinfo = rest[:rest.rfind("@")]
        user, colon, password = userinfo.partition(":")
        if not colon or not password:
            continue
        register_secret(password, user=user)
        register_secret(unquote(password), user=unquote(user))


def secret_forms(value: str, user: str | None = None) -> set[str]:
    """Every way ``value`` may be written out: as is, URL-encoded, JSON- and HTML-escaped, in base64."""
    from html import escape
    from urllib.parse import quote, quote_plus

    if len(value) > _MAX_ENCODED_LENGTH:
        return {value}
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), escape(value), escape(value, quote=False),
             json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    encodings = ["utf-8"] + (["latin-1"] if _encodable(value, "latin-1") and not value.isascii() else [])
    for encoding in encodings:
        data = value.encode(encoding)
        forms.update(_base64_cores(data))
        if user is not None and _encodable(user, encoding):
            token = base64.b64encode(f"{user}:{value}".encode(encoding)).decode("ascii")
            forms.update({token, token.rstrip("=")})
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _base64_cores(data: bytes) -> set[str]:
    """The base64 characters that depend on ``data`` alone, at each of the three byte alignments.

    Whatever stands before or after the password in an encoded token (``user:``, padding), these characters
    appear in the token, so a token nobody registered still loses the part that carries the password.
    """
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii")
        first = -(-offset * 8 // 6)  # the first character made of password bits only
        last = (offset + len(data)) * 8 // 6  # one past the last such character
        core = encoded[first:last]
        if len(core) >= _MIN_BASE64_CORE:
            cores.add(core)
            cores.add(core.replace("+", "-").replace("/", "_"))  # base64url
    return cores


def _add_forms(forms: Iterable[str]) -> None:
    global _forms_longest_first
    with _lock:
        before = len(_forms)
        _forms.update(forms)
        if len(_forms) != before:
            _forms_longest_first = tuple(sorted(_forms, key=len, reverse=True))


def registered_forms() -> tuple[str, ...]:
    """What scrub() looks for, longest first (for tests and streaming writers)."""
    return _forms_longest_first


def secret_spans(text: str) -> list[tuple[int, int]]:
    """The ``[start, end)`` ranges of ``text`` to hide, sorted and merged; linear in ``len(text)``."""
    spans: list[tuple[int, int]] = []
    for form in _forms_longest_first:
        size = len(form)
        if size > len(text):
            continue
        at = text.find(form)
        while at >= 0:
            spans.append((at, at + size))
            at = text.find(form, at + size)  # what an overlapping occurrence keeps is shorter than the secret
    # each pattern only where its fixed part occurs: a long report is mostly text none of them can match
    if "://" in text:
        spans.extend(m.span("pw") for m in _URL_USERINFO.finditer(text))
    if "@" in text:
        spans.extend(m.span("pw") for m in _BARE_USERINFO.finditer(text))
    if not text.isascii() or "authorization" in text.lower():  # (?i) folds some non-ASCII letters to ASCII
        spans.extend(m.span("pw") for m in _AUTH_HEADER.finditer(text))
    if "eyJ" in text:
        spans.extend(m.span() for m in _JWT.finditer(text))
    return _merged(spans)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if len(spans) < 2:
        return spans
    spans.sort()
    merged = [spans[0]]
    for start, end in spans[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            if end > last_end:
                merged[-1] = (last_start, end)
        else:
            merged.append((start, end))
    return merged


def scrub(text: str) -> str:
    """``text`` with every registered secret, URL password, auth header and JWT replaced by ``***``."""
    spans = secret_spans(text)
    if not spans:
        return text
    pieces: list[str] = []
    done = 0
    for start, end in spans:
        pieces.append(text[done:start])
        pieces.append(REDACTED)
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def url_without_password(url: str) -> str:
    """A proxy URL fit for a report: the user stays (it helps diagnosis), the password goes.

    Works on any text: ``user:pw@host:port`` without a scheme, and URLs too malformed for urlsplit.
    """
    head, sep, rest = url.partition("://")
    if not sep:
        head, rest = "", url
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if 0 <= found < end:
            end = found
    at = rest.rfind("@", 0, end)
    user, colon, _ = rest[:max(at, 0)].partition(":")
    if at < 0 or not colon:
        return scrub(url)
    return scrub(f"{head}{sep}{user}:{REDACTED}{rest[at:]}")
