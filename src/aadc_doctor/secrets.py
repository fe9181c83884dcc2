"""One place that knows every secret of this run, so no renderer, report or error can leak it.

A secret is registered where it is read (a proxy URL from the environment, machine.config or netsh output, an
option, an environment variable named by an option, a token from a sign-in), in every form it can take on its
way out: as given, URL-encoded, escaped for JSON or HTML, and inside a Basic token (``base64(user:password)``,
the whole token and any base64 text that carries the password). ``scrub`` removes those, and the shapes a
secret nobody registered still has (``user:password@`` in a URL, with or without a scheme, an Authorization
header, a JWT), in time linear in the text's length: every pattern below starts only where a run of its
characters starts and never backtracks (possessive quantifiers), so no character is scanned more than a few
times however hostile the text.

Renderers call ``scrub`` before they lay text out (a password wrapped across two lines is two harmless
halves), and their streams call it again as a last guard.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from collections.abc import Iterable, Iterator

REDACTED = "***"
MIN_SECRET_LENGTH = 3  # shorter "secrets" would hide ordinary text everywhere
_MIN_BASE64_CORE = 8  # base64 of a password inside a longer token: long enough never to match by chance
_MAX_ENCODED_LENGTH = 4096  # a longer "password" (a hostile file's) is hidden as written: its encodings cost memory

_lock = threading.Lock()
_forms: set[str] = set()
_forms_longest_first: tuple[str, ...] = ()

# The shapes of a secret nobody registered. Each is found from a fixed anchor located with str.find or a
# pattern that begins with a literal ("://", "@", "eyJ", "authorization"), then matched from there with
# possessive quantifiers (no backtracking), and taken only where a run of its characters starts. So every
# character is looked at a bounded number of times, and text without an anchor at the speed of str.find.
# No class crosses a quote: a span never leaves a JSON string, so scrub keeps a JSON report valid.
_SCHEME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_URL_USERINFO = re.compile(r"://[^:@/\s\"'<>]*+:(?P<pw>[^@/\s\"'<>]++)@")
# user:password@host:port without a scheme (an https_proxy, a proxyaddress, a WinHTTP list): user information
# is the run of non-delimiters before an "@" that a host:port follows
_DELIMITERS = "\\s\"'<>;,()\\[\\]{}=|`"
_AT_HOST_PORT = re.compile(r"@(?=[A-Za-z0-9._-]++:[0-9]{1,5}+(?![\w.-]))")
_USERINFO_REVERSED = re.compile(rf"[^{_DELIMITERS}@/]*+")  # matched on the reversed text, back from the "@"
# an Authorization or Proxy-Authorization header: its scheme and credentials
_AUTH_HEADER = re.compile(
    r"(?i)(?:proxy-)?authorization\s*+[:=]\s*+(?P<pw>[^\s\"'<>\\]++(?:[ \t]++[^\s\"'<>\\]++)?+)")
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
# a JWT: three base64url parts, the first a JSON object; tried only where a run of base64url starts
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]*+")


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
            credentials = f"{user}:{value}".encode(encoding)
            for token in (base64.b64encode(credentials), base64.urlsafe_b64encode(credentials)):
                forms.update({token.decode("ascii"), token.decode("ascii").rstrip("=")})
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


@contextlib.contextmanager
def forgotten_afterwards() -> Iterator[None]:
    """Secrets registered inside the block are forgotten after it (tests that register thousands)."""
    global _forms_longest_first
    with _lock:
        before = set(_forms)
    try:
        yield
    finally:
        with _lock:
            _forms.intersection_update(before)
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
    if "://" in text:
        _url_passwords(text, spans)
    if "@" in text:
        _bare_passwords(text, spans)
    if "authorization" in text.lower() or "\u0130" in text or "\u0131" in text:  # (?i) matches İ and ı to i
        _auth_headers(text, spans)
    if "eyJ" in text:
        _jwts(text, spans)
    return _merged(spans)


def _url_passwords(text: str, spans: list[tuple[int, int]]) -> None:
    """``scheme://user:password@``: a match holds no "/", so it never hides the next "://" from the search."""
    for found in _URL_USERINFO.finditer(text):
        if found.start() > 0 and text[found.start() - 1] in _SCHEME_CHARACTERS:
            spans.append(found.span("pw"))


def _bare_passwords(text: str, spans: list[tuple[int, int]]) -> None:
    """``user:password@host:port``: the run before each such "@" ends at the previous one, at the latest."""
    reversed_text = ""
    size = len(text)
    for at_sign in _AT_HOST_PORT.finditer(text):
        at = at_sign.start()
        if not reversed_text:
            reversed_text = text[::-1]
        run = _USERINFO_REVERSED.match(reversed_text, size - at)
        start = at - (run.end() - run.start()) if run else at
        if start > 0 and text[start - 1] in "@/":
            continue  # a path or another address, not user information
        colon = text.find(":", start, at)
        if start < colon < at - 1:
            spans.append((colon + 1, at))


def _auth_headers(text: str, spans: list[tuple[int, int]]) -> None:
    for found in _AUTH_HEADER.finditer(text):
        if found.start() == 0 or text[found.start() - 1] not in _NAME_CHARACTERS:
            spans.append(found.span("pw"))


def _jwts(text: str, spans: list[tuple[int, int]]) -> None:
    spans.extend(found.span() for found in _JWT.finditer(text))


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
