"""The HTML report printed by real headless Chromium (``--print-to-pdf``, issue 15: "readable offline and printable").

A long `analyze` report (a collected fixture server with corpus .evtx archives: findings, analysers, a manifest of
every file) is printed; the PDF must be valid and have several pages, nothing may load from the network, every finding
must be whole on one page (the print CSS avoids breaks inside a finding), no solid area may be dark and every text
colour must read on white paper. A control page with a dark finding background forced into print shows the check
catches it.

The PDF is read here with a small reader of what Chromium (Skia) writes: numbered objects, Flate streams, Type0
fonts with a ToUnicode map, text shown by Tj/TJ, solid areas as filled outlines (``re``, or a rounded box's curves).
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliRun
from tests.infra.chromium import PrintedPage, print_to_pdf

pytestmark = pytest.mark.integration

Runner = Callable[..., CliRun]
TODAY = "2026-12-05"
CLOSED_PROXY = ("--proxy", "http://127.0.0.1:9", "--timeout", "2")
Colour = tuple[float, float, float]


# ---- a minimal reader of Chromium's PDF ------------------------------------------------------------------------


@dataclass
class PdfPage:
    text: str  # every shown string, in paint order, joined by spaces
    solid_fills: list[tuple[Colour, float, float]] = field(default_factory=list)  # (colour, width, height), CSS px
    text_colours: set[Colour] = field(default_factory=set)


_OBJ = re.compile(rb"(\d+) 0 obj\s*")
_TOKEN = re.compile(rb"<([0-9A-Fa-f]*)>|\[|\]|/([^\s/\[\]<>()]+)|(-?\d*\.?\d+)|([A-Za-z'\"*]+)|\((?:\\.|[^\\)])*\)")


def _objects(data: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Object number -> (its dictionary text, its decoded stream or None)."""
    objects: dict[int, tuple[bytes, bytes | None]] = {}
    pos = 0
    while match := _OBJ.search(data, pos):
        start = match.end()
        end = data.index(b"endobj", start)
        body, stream = data[start:end], None
        at = body.find(b"stream")
        length = re.search(rb"/Length (\d+)", body[:at]) if at >= 0 else None
        if length:
            begin = start + at + len(b"stream")
            begin += 2 if data[begin:begin + 2] == b"\r\n" else 1
            raw = data[begin:begin + int(length.group(1))]
            stream = zlib.decompress(raw) if b"/FlateDecode" in body[:at] else raw
            end = data.index(b"endobj", begin + len(raw))
            body = body[:at]
        objects[int(match.group(1))] = (body, stream)
        pos = end + len(b"endobj")
    return objects


def _ref(body: bytes, key: bytes) -> int | None:
    match = re.search(rb"/" + key + rb" (\d+) 0 R", body)
    return int(match.group(1)) if match else None


def _to_unicode(cmap: bytes) -> dict[int, str]:
    table: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            table[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be", "replace")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            base = bytes.fromhex(dst.decode()).decode("utf-16-be", "replace")
            for i, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                table[code] = base[:-1] + chr(ord(base[-1]) + i)
    return table


class _ContentReader:
    """Runs a page's content stream far enough to know its text and the areas it fills."""

    def __init__(self, fonts: dict[bytes, dict[int, str]]) -> None:
        self.fonts = fonts
        self.page = PdfPage("")
        self.shown: list[str] = []
        self.font: dict[int, str] = {}
        self.fill: Colour = (0.0, 0.0, 0.0)
        self.operands: list[tuple[str, Any]] = []
        self.points: list[tuple[float, float]] = []  # of the path being built
        self.subpaths = 0
        self.clipped = [False]  # per graphics state: drawing is clipped to a ring (a border's shape)
        self.clip_next = False

    def read(self, stream: bytes) -> PdfPage:
        for token in _TOKEN.finditer(stream):
            if token.group(4) is not None:
                self._operator(token.group(4))
                self.operands = []
            elif token.group(1) is not None:
                self.operands.append(("hex", token.group(1).decode()))
            elif token.group(2) is not None:
                self.operands.append(("name", token.group(2)))
            elif token.group(3) is not None:
                self.operands.append(("num", float(token.group(3))))
        self.page.text = " ".join(self.shown)
        return self.page

    def _operator(self, op: bytes) -> None:
        numbers = [v for k, v in self.operands if k == "num"]
        if op == b"rg" and len(numbers) >= 3:
            self.fill = (numbers[-3], numbers[-2], numbers[-1])
        elif op == b"g" and numbers:
            self.fill = (numbers[-1],) * 3
        elif op == b"Tf":
            names = [v for k, v in self.operands if k == "name"]
            self.font = self.fonts.get(names[-1], {}) if names else {}
        elif op in (b"Tj", b"TJ"):
            self._show()
        elif op == b"re" and len(numbers) >= 4:
            x, y, w, h = numbers[-4:]
            self.points += [(x, y), (x + w, y + h)]
            self.subpaths += 1
        elif op in (b"m", b"l", b"c", b"v", b"y"):
            self.points += list(zip(numbers[0::2], numbers[1::2], strict=False))
            self.subpaths += op == b"m"
        elif op == b"q":
            self.clipped.append(self.clipped[-1])
        elif op == b"Q" and len(self.clipped) > 1:
            self.clipped.pop()
        elif op in (b"W", b"W*"):
            self.clip_next = True
        elif op in (b"f", b"f*", b"B", b"B*", b"n", b"S", b"s", b"b", b"b*"):
            self._end_path(filled=op in (b"f", b"f*", b"B", b"B*"))

    def _show(self) -> None:
        text = "".join(self.font.get(int(h[i:i + 4], 16), "\ufffd") for k, h in self.operands if k == "hex"
                       for i in range(0, len(h) - 3, 4))
        self.shown.append(text)
        if text.strip():
            self.page.text_colours.add(self.fill)

    def _end_path(self, *, filled: bool) -> None:
        """One filled outline (a rectangle, a rounded box) not clipped to a ring is a solid area, measured by its
        bounding box. Chromium paints a border as a box filled under a clip of the border's ring (outer and inner
        outline), or as a ring itself: neither is an area."""
        if filled and self.subpaths == 1 and self.points and not self.clipped[-1]:
            xs, ys = [p[0] for p in self.points], [p[1] for p in self.points]
            self.page.solid_fills.append((self.fill, max(xs) - min(xs), max(ys) - min(ys)))
        if self.clip_next:
            self.clipped[-1] = self.clipped[-1] or self.subpaths >= 2
        self.points, self.subpaths, self.clip_next = [], 0, False


def _page(objects: dict[int, tuple[bytes, bytes | None]], number: int) -> PdfPage:
    body = objects[number][0]
    fonts: dict[bytes, dict[int, str]] = {}
    resources = re.search(rb"/Font <<(.*?)>>", body, re.S)
    for name, font in re.findall(rb"/(\w+) (\d+) 0 R", resources.group(1) if resources else b""):
        cmap = _ref(objects[int(font)][0], b"ToUnicode")
        fonts[name] = _to_unicode(objects[cmap][1] or b"") if cmap else {}
    contents = re.search(rb"/Contents (\[.*?\]|\d+ 0 R)", body, re.S)
    assert contents, f"page object {number} has no /Contents"
    stream = b"".join(objects[int(c)][1] or b"" for c in re.findall(rb"(\d+) 0 R", contents.group(1)))
    return _ContentReader(fonts).read(stream)


def read_pdf(data: bytes) -> list[PdfPage]:
    """The pages in document order (the page tree walked from the catalog)."""
    assert data.startswith(b"%PDF-1."), data[:16]
    assert data.rstrip().endswith(b"%%EOF")
    objects = _objects(data)
    root = re.search(rb"/Root (\d+) 0 R", data)
    assert root, "no /Root in the trailer"
    pages: list[int] = []

    def walk(number: int) -> None:
        body = objects[number][0]
        if re.search(rb"/Type /Pages\b", body):
            kids = re.search(rb"/Kids \[(.*?)\]", body, re.S)
            count = re.search(rb"/Count (\d+)", body)
            before = len(pages)
            for kid in re.findall(rb"(\d+) 0 R", kids.group(1) if kids else b""):
                walk(int(kid))
            assert count and int(count.group(1)) == len(pages) - before, "page tree /Count disagrees with its kids"
        else:
            assert re.search(rb"/Type /Page\b", body), f"object {number} in the page tree is no page"
            pages.append(number)

    catalog = _ref(objects[int(root.group(1))][0], b"Pages")
    assert catalog is not None
    walk(catalog)
    return [_page(objects, number) for number in pages]


# ---- what the print must keep -----------------------------------------------------------------------------------


def _flat(text: str) -> str:
    """Text compared without whitespace or ligatures (Chromium splits runs where kerning changes, joins "fi")."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _luminance(colour: Colour) -> float:
    """WCAG relative luminance of an sRGB colour given as 0..1 components."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast_on_white(colour: Colour) -> float:
    return 1.05 / (_luminance(colour) + 0.05)


def _finding_pages(pages: list[PdfPage], finding: dict[str, Any]) -> list[int]:
    """The pages holding the finding whole: its title and id, then (further on the same page) its remedy."""
    head, remedy = _flat(finding["title"] + finding["id"]), _flat(finding["remedy"])
    found = []
    for number, page in enumerate(pages):
        text = _flat(page.text)
        at = text.find(head)
        if at >= 0 and text.find(remedy, at) > at:
            found.append(number)
    return found


def _heat_map_colours() -> list[Colour]:
    """The PTA heat map's cell colours: data drawn in colour on purpose (no text is drawn on a cell)."""
    from aadc_doctor.render.html_pta import LEVELS

    return [(int(c[1:3], 16) / 255, int(c[3:5], 16) / 255, int(c[5:7], 16) / 255) for c in LEVELS]


def _is_heat_map_cell(colour: Colour) -> bool:
    return any(all(abs(a - b) < 0.01 for a, b in zip(colour, level, strict=True)) for level in _heat_map_colours())


def _dark_areas(pages: list[PdfPage]) -> list[tuple[int, Colour, float, float]]:
    """Solid areas at least 12 px each way (a background, not a border or a rule) that are not light; the heat
    map's cells are left aside (a colour scale, with no text on it)."""
    return [(n, colour, w, h) for n, page in enumerate(pages) for colour, w, h in page.solid_fills
            if w >= 12 and h >= 12 and _luminance(colour) < 0.6 and not _is_heat_map_cell(colour)]


def test_the_heat_map_is_in_the_print(printed: tuple[PrintedPage, list[PdfPage]]) -> None:
    """The report holds PTA failures by hour and reason: its cells reach the paper in their colours."""
    _, pages = printed
    assert any(_is_heat_map_cell(colour) for page in pages for colour, _, _ in page.solid_fills)


@pytest.fixture(scope="module")
def long_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """`analyze --output report.html` on a collected fixture server whose event-log folder holds corpus archives."""
    from tests.conftest import _run_cli  # the in-process CLI runner behind the run_cli fixture
    from tests.fixtures.server import fake_server

    from aadc_doctor.commands import RunContext
    from aadc_doctor.commands.collect import collect_with

    tmp = tmp_path_factory.mktemp("print")
    system = fake_server.build(tmp / "server")
    logs = tmp / "server" / "Windows/System32/winevt/Logs"
    logs.mkdir(parents=True)
    for name, source in (("Archive-Security-2026-12-01-10-00-00-123.evtx", "omerbenamram-evtx_Security_with_size_t"),
                         ("Archive-Security-2026-11-02-10-00-00-456.evtx", "e2m_ID4625_bruteforce_valid_users")):
        shutil.copyfile(fake_server.CORPUS / "evtx" / f"{source}.evtx", logs / name)
    bundle = tmp / "case.zip"
    collect_with(system, argparse.Namespace(out=str(bundle), since=None, max_mb=200.0, redact=False, no_check=False),
                 RunContext(json_mode=True, stdout=io.StringIO(), stderr=io.StringIO(), env={}),
                 check_args=CLOSED_PROXY)
    page = tmp / "report.html"
    run = _run_cli("analyze", str(bundle), "--today", TODAY, "--output", str(page), "--json")
    assert run.code in (0, 1), run.stderr
    report: dict[str, Any] = run.json()
    return page, report


@pytest.fixture(scope="module")
def printed(long_report: tuple[Path, dict[str, Any]]) -> tuple[PrintedPage, list[PdfPage]]:
    """The long report printed once by Chromium, and its pages as read back."""
    result = print_to_pdf(long_report[0])
    return result, read_pdf(result.pdf)


def test_a_long_report_prints_to_a_valid_multi_page_pdf(long_report: tuple[Path, dict[str, Any]],
                                                        printed: tuple[PrintedPage, list[PdfPage]]) -> None:
    _, report = long_report
    result, pages = printed
    assert result.console_messages == []
    assert result.page_requests == []  # printing loads nothing either
    assert len(pages) > 1, len(pages)
    assert all(p.text.strip() for p in pages)  # no blank page
    assert len(report["findings"]) >= 10


def test_every_finding_prints_whole_on_one_page(long_report: tuple[Path, dict[str, Any]],
                                                printed: tuple[PrintedPage, list[PdfPage]]) -> None:
    _, report = long_report
    _, pages = printed
    split = [f["id"] for f in report["findings"] if len(_finding_pages(pages, f)) != 1]
    assert split == [], f"findings not whole on one page: {split}"
    # the findings come first, by severity, over more than one page: the check above crossed page breaks
    first_pages = [_finding_pages(pages, f)[0] for f in report["findings"]]
    assert first_pages == sorted(first_pages) and first_pages[-1] >= 1


def test_the_print_has_no_dark_area_and_its_text_reads_on_paper(printed: tuple[PrintedPage, list[PdfPage]]) -> None:
    _, pages = printed
    assert _dark_areas(pages) == []
    colours = set().union(*(p.text_colours for p in pages))
    assert colours
    faint = {c: round(_contrast_on_white(c), 2) for c in colours if _contrast_on_white(c) < 4.5}
    assert faint == {}, f"text colours below 4.5:1 on white paper: {faint}"


def test_the_checks_catch_a_dark_background_forced_into_print(long_report: tuple[Path, dict[str, Any]],
                                                              tmp_path: Path) -> None:
    """Control: the same page with a dark finding background that prints (print-color-adjust: exact)."""
    page, report = long_report
    html = page.read_text("utf-8")
    dark = ("@media print { article.finding { background: #202020 !important; color: #eee !important; "
            "-webkit-print-color-adjust: exact; print-color-adjust: exact; } }\n")
    marked = tmp_path / "dark.html"
    marked.write_text(html.replace("</style>", dark + "</style>", 1), encoding="utf-8")
    pages = read_pdf(print_to_pdf(marked).pdf)
    assert len(_dark_areas(pages)) >= len(report["findings"])
    assert any(_contrast_on_white(c) < 4.5 for p in pages for c in p.text_colours)
