"""`collect` in the HTML report: the zip written, what it holds and what could not be collected, from the same
manifest view `analyze` shows (collect's report carries manifest.json without its file list; the zip has it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aadc_doctor.render.html_analyze import manifest_sections
from aadc_doctor.render.html_doc import Element, h
from aadc_doctor.render.html_tables import FindingIndex, kv_table

if TYPE_CHECKING:
    from aadc_doctor.results import CollectResults


def sections(results: CollectResults, _links: FindingIndex) -> list[Element]:
    out: list[Element] = [kv_table([
        ("Zip", h("code", results.zip)), ("Files", results.files), ("Size", f"{results.bytes:,} bytes"),
        ("Redaction map", h("code", results.redaction_map) if results.redaction_map else "– (not redacted)"),
    ])]
    if results.messages:
        out += [h("h3", "Notes"), h("ul", (h("li", message) for message in results.messages))]
    out += manifest_sections(results.manifest)
    return out
