"""A tiny HTML element tree that is safe by construction: the HTML report is built from it, never from f-strings.

Every text node and attribute value goes through one function (``_safe``) when the tree is written: secrets
removed (the same ``scrub`` as the JSON and terminal output), control characters and lone surrogates replaced by
visible stand-ins (``render/safe_text.py``), a value longer than MAX_TEXT shortened in the middle, then escaped
(``<``, ``>``, ``&`` and both quotes). So a log line holding ``<script>`` or ``</style>`` is text on the page.

What the tree refuses, so a bug cannot make the page load or run anything: tags outside ALLOWED_TAGS (no
``script``, ``img``, ``link``, ``iframe``...), attributes named ``on*`` or ``src``/``srcset``/``action``, and an
``href`` that is neither an in-page ``#anchor`` nor an http(s) URL (a reference is a link to click, never loaded).
The only raw text is the stylesheet, a constant of ``render/html.py`` (``Css``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from aadc_doctor.render.safe_text import neutralize_controls
from aadc_doctor.secrets import scrub

MAX_TEXT = 10_000  # characters of one value: a report is read, not searched for megabyte-long lines

ALLOWED_TAGS = frozenset({
    "html", "head", "body", "meta", "title", "style", "header", "footer", "main", "nav", "section", "article",
    "h1", "h2", "h3", "h4", "p", "div", "span", "code", "pre", "strong", "em", "small", "a", "ul", "ol", "li",
    "dl", "dt", "dd", "table", "caption", "thead", "tbody", "tr", "th", "td", "details", "summary",
    "svg", "g", "rect", "line", "text", "circle", "path",
})
VOID_TAGS = frozenset({"meta"})
_ATTRIBUTE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
_FORBIDDEN_ATTRIBUTES = frozenset({"src", "srcset", "action", "formaction", "background", "poster", "data", "ping",
                                   "xlink:href"})
_SAFE_HREF = re.compile(r"^(#[A-Za-z0-9_.:-]*|https?://[^\s<>\"'`]+)$")


class HtmlError(ValueError):
    """The tree was asked for something it never writes (a bug of ours, caught before the page is written)."""


@dataclass(frozen=True, slots=True)
class Css:
    """The one raw text of the page: the stylesheet constant."""

    text: str

    def __post_init__(self) -> None:
        if "<" in self.text:
            raise HtmlError("a stylesheet may not hold '<'")


@dataclass(frozen=True, slots=True)
class Element:
    tag: str
    attributes: tuple[tuple[str, str], ...]
    children: tuple[Element | Css | str, ...]


# what h() takes as children: nested iterables (generators, lists) are flattened, None skipped
Child: TypeAlias = "Element | Css | str | int | float | Iterable[Child] | None"


def h(tag: str, *children: Child, **attributes: str | int | float | bool | None) -> Element:
    """An element: ``h("td", "text", class_="num")``. Keyword names: a trailing ``_`` is dropped (``class_``),
    other underscores become hyphens (``text_anchor`` -> ``text-anchor``); None and False leave it out, True
    writes the bare name. Children: elements, texts, numbers, None (skipped), or iterables of those."""
    if tag not in ALLOWED_TAGS:
        raise HtmlError(f"tag <{tag}> is not written in the report")
    attrs: list[tuple[str, str]] = []
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        if name == "viewbox":
            name = "viewBox"
        if not _ATTRIBUTE_NAME.match(name) or name.lower().startswith("on") or name.lower() in _FORBIDDEN_ATTRIBUTES:
            raise HtmlError(f"attribute {name!r} is not written in the report")
        text = "" if value is True else _number(value) if isinstance(value, int | float) else str(value)
        if name == "href" and not _SAFE_HREF.match(text):
            raise HtmlError(f"href {text[:80]!r} is neither an in-page anchor nor an http(s) URL")
        attrs.append((name, text))
    return Element(tag, tuple(attrs), tuple(_flatten(children)))


def _number(value: int | float) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value == value else "NaN"
    return str(value)


def _flatten(children: Iterable[object]) -> Iterable[Element | Css | str]:
    for child in children:
        if child is None:
            continue
        if isinstance(child, Element | Css | str):
            yield child
        elif isinstance(child, int | float):
            yield _number(child)
        elif isinstance(child, Iterable):
            yield from _flatten(child)
        else:
            raise HtmlError(f"a {type(child).__name__} is not an HTML child")


def link(url: str, text: str | None = None) -> Element | str:
    """A reference: a link when it is an http(s) URL (shown as written; clicking opens it, nothing loads it),
    else plain text."""
    if _SAFE_HREF.match(url) and not url.startswith("#"):
        return h("a", text or url, href=url, rel="noreferrer noopener")
    return text or url


def anchor_link(anchor: str | None, text: Element | str) -> Element | str:
    """A link to an element of the page, or plain text when the anchor is missing or not a plain id (a finding id
    read from a saved report is input)."""
    if anchor and _SAFE_HREF.match("#" + anchor):
        return h("a", text, href="#" + anchor)
    return text


def safe_text(value: str) -> str:
    """A value as it may appear on the page (before escaping): no secret, no control character, bounded."""
    text = neutralize_controls(scrub(value))
    if len(text) > MAX_TEXT:
        keep = MAX_TEXT // 2 - 50
        text = f"{text[:keep]} ... {len(text) - 2 * keep:,} characters not shown ... {text[-keep:]}"
    return text


def _safe(value: str) -> str:
    return html.escape(safe_text(value), quote=True)


def write(node: Element, out: list[str]) -> None:
    """Append the HTML of ``node`` to ``out``."""
    out.append("<" + node.tag)
    for name, value in node.attributes:
        out.append(f' {name}="{_safe(value)}"')
    out.append(">")
    if node.tag in VOID_TAGS:
        return
    for child in node.children:
        if isinstance(child, Element):
            write(child, out)
        elif isinstance(child, Css):
            if node.tag != "style":
                raise HtmlError("a stylesheet outside <style>")
            out.append(child.text)
        else:
            out.append(_safe(child))
    out.append(f"</{node.tag}>")


def document(root: Element) -> str:
    """The whole page, with its doctype; scrubbed once more as a last guard (as the terminal's stream is)."""
    out = ["<!DOCTYPE html>\n"]
    write(root, out)
    return scrub("".join(out)) + "\n"
