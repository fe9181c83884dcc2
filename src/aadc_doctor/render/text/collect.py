"""`collect` on a terminal: what went into the zip, and how to read it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.results import CollectResults

SUMMARY = False


def render(results: CollectResults, console: Console) -> None:
    r = results
    m = r.manifest
    console.print(f"Collected {r.files} files ({r.bytes / 1_048_576:.1f} MB before compression) into {r.zip}")
    console.print(f"  host {m['host']}, {m['collected_at']}, aadc-doctor {m['tool_version']}")
    console.print(f"  absent (not installed): {len(m['absent'])}; could not be read: {len(m['not_collected'])}; "
                  f"left out: {len(m['trimmed'])} (manifest.json lists each with its reason)")
    if r.redaction_map:
        console.print(f"  redacted; the mapping is in {r.redaction_map} (not in the zip: keep it on the server)")
    console.print(f"Read it anywhere with: aadc-doctor analyze {r.zip}")
