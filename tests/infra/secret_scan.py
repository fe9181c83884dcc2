"""The canary scanner: does any form of a planted secret appear in what a run produced?

For every feature that can print, write or bundle something (stdout, stderr, --output files, HTML reports,
collect bundles): plant secrets, run the feature, then ``assert_no_secret(planted, texts_or_paths)``.

The forms are computed here, independently of ``aadc_doctor.secrets``, so a form the tool forgets to
register is a failing test, not a blind spot shared with the code under test:
- the secret as is, URL-encoded (``quote``, ``quote_plus``), JSON- and HTML-escaped;
- the Basic token of ``user:secret`` (standard and URL-safe base64, with and without padding), for each user
  the secret may be paired with, and the base64 characters that carry the secret at each byte alignment;
- each of these split across wrapped lines: the scan also runs over the text with ANSI escape sequences,
  whitespace and table borders removed.
Zip files (collect bundles) are scanned member by member; other binary files as Latin-1 text.
"""

from __future__ import annotations

import base64
import html
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_LAYOUT = re.compile(r"[\s\u2500-\u257f|]+")  # whitespace and box drawing: what wrapping and tables add
_MIN_CORE = 8


@dataclass(frozen=True)
class Planted:
    """A secret put into a run, and the users it may be sent with (in a Basic token)."""

    secret: str
    users: tuple[str, ...] = ()
    label: str = ""


@dataclass
class Leak:
    label: str
    form: str
    where: str
    wrapped: bool = False


@dataclass
class ScanResult:
    leaks: list[Leak] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.leaks)


def base64_cores(data: bytes) -> set[str]:
    """The base64 characters made only of ``data``'s bits, for ``data`` at byte offset 0, 1 and 2 of a token."""
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\xff" * offset + data + b"\xff\xff\xff").decode()
        bits_before, bits_end = offset * 8, (offset + len(data)) * 8
        chars = [c for i, c in enumerate(encoded) if i * 6 >= bits_before and i * 6 + 6 <= bits_end]
        core = "".join(chars)
        if len(core) >= _MIN_CORE:
            cores.update({core, core.replace("+", "-").replace("/", "_")})
    return cores


def forms_of(planted: Planted) -> dict[str, str]:
    """form -> description, for every way the secret may be written out."""
    secret = planted.secret
    forms: dict[str, str] = {}
    for form, what in ((secret, "plain"), (quote(secret, safe=""), "URL-encoded"), (quote(secret), "URL-encoded"),
                       (quote_plus(secret), "form-encoded"), (json.dumps(secret)[1:-1], "JSON-escaped"),
                       (json.dumps(secret, ensure_ascii=False)[1:-1], "JSON-escaped"),
                       (html.escape(secret), "HTML-escaped")):
        forms.setdefault(form, what)
    for core in base64_cores(secret.encode()):
        forms.setdefault(core, "inside base64")
    for user in planted.users:
        raw = f"{user}:{secret}".encode()
        for token in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
            forms.setdefault(token, f"Basic token of {user}:...")
            forms.setdefault(token.rstrip("="), f"Basic token of {user}:... (unpadded)")
    return {form: what for form, what in forms.items() if len(form) >= 3}


def _texts_of(item: str | bytes | Path) -> Iterable[tuple[str, str]]:
    if isinstance(item, Path):
        if item.is_dir():
            for inner in sorted(item.rglob("*")):
                if inner.is_file():
                    yield from _texts_of(inner)
            return
        data = item.read_bytes()
        if zipfile.is_zipfile(item):
            with zipfile.ZipFile(item) as bundle:
                for name in bundle.namelist():
                    yield f"{item}!{name}", bundle.read(name).decode("utf-8", "replace")
            return
        for encoding in ("utf-8", "utf-16"):
            try:
                yield str(item), data.decode(encoding)
                return
            except UnicodeDecodeError:
                continue
        yield str(item), data.decode("latin-1")
        return
    if isinstance(item, bytes):
        yield "bytes", item.decode("utf-8", "replace")
        return
    yield "text", item


def scan(planted: Iterable[Planted], items: Iterable[str | bytes | Path | tuple[str, str]]) -> ScanResult:
    """Every form of every planted secret found in the items (texts, files, folders, zips)."""
    result = ScanResult()
    all_forms = [(p, form, what) for p in planted for form, what in forms_of(p).items()]
    for item in items:
        named = [item] if isinstance(item, tuple) else list(_texts_of(item))
        for where, text in named:
            plain = _ANSI.sub("", text)
            squeezed = _LAYOUT.sub("", plain)
            for p, form, what in all_forms:
                if form in plain:
                    result.leaks.append(Leak(p.label or p.secret[:4] + "...", what, where))
                elif _LAYOUT.sub("", form) in squeezed:
                    result.leaks.append(Leak(p.label or p.secret[:4] + "...", what, where, wrapped=True))
    return result


def assert_no_secret(planted: Iterable[Planted], items: Iterable[str | bytes | Path | tuple[str, str]]) -> None:
    found = scan(list(planted), list(items))
    assert not found, "secrets leaked: " + "; ".join(
        f"{leak.label} ({leak.form}{', split across lines' if leak.wrapped else ''}) in {leak.where}"
        for leak in found.leaks)
