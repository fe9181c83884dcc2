"""`pta trace` / `pta events` in the HTML report: the summary, failures by hour × reason (an SVG heat map), the
reasons with their Windows message and AADSTS code, then the rest of the analysis as bounded tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aadc_doctor.logs.event_xml import format_iso_time
from aadc_doctor.render.html_doc import Element, h
from aadc_doctor.render.html_tables import FindingIndex, data_sections, kv_table, table

if TYPE_CHECKING:
    from aadc_doctor.results.pta import HourReasonCount, PtaResults, ReasonRow

MAX_COLUMNS = 96  # time buckets across the heat map; a longer span is drawn in wider buckets
BUCKET_HOURS = (1, 2, 3, 6, 12, 24, 48, 168, 720, 8760)
MAX_REASON_ROWS = 12  # the rest are one "other reasons" row
MAX_REQUEST_ROWS = 50
LEVELS = ("#fde7e5", "#f9c0ba", "#f2877d", "#e04f43", "#b42318")  # fewer to more failures
EMPTY = "#f6f8fa"
# geometry of the heat map (SVG user units)
LABEL, ROW, TOP, AXIS, PLOT = 330, 22, 8, 40, 760


def _hour(text: str) -> int | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp()) // 3600


def _hour_label(hour: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=hour)).strftime("%Y-%m-%d %H:00")


def _reason_label(reason: int | None, titles: Mapping[int | None, str]) -> str:
    title = titles.get(reason, "")
    code = "no reason" if reason is None else str(reason)
    text = f"{code} {title}".strip()
    return text if len(text) <= 44 else text[:43] + "…"


def heat_map(cells: Sequence[HourReasonCount], by_reason: Sequence[ReasonRow]) -> list[Element]:
    """Rows: reasons (most failures first); columns: hours (or wider buckets for a long span); colour: count."""
    dated = [(hour, c.reason, c.count) for c in cells if (hour := _hour(c.hour)) is not None]
    if not dated:
        return [h("p", "No dated failure to draw.", class_="note")]
    first = min(hour for hour, _, _ in dated)
    last = max(hour for hour, _, _ in dated)
    bucket = next((b for b in BUCKET_HOURS if (last - first + 1) / b <= MAX_COLUMNS), BUCKET_HOURS[-1])
    columns = (last - first) // bucket + 1
    totals: Counter[int | None] = Counter()
    for _, reason, count in dated:
        totals[reason] += count
    ranked = [reason for reason, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or 0))]
    shown = ranked[:MAX_REASON_ROWS]
    other = len(ranked) > MAX_REASON_ROWS
    grid: Counter[tuple[int, int]] = Counter()  # (row, column) -> failures
    for hour, reason, count in dated:
        row = shown.index(reason) if reason in shown else MAX_REASON_ROWS
        grid[(row, (hour - first) // bucket)] += count
    most = max(grid.values())
    titles = {entry.reason: entry.title for entry in by_reason}
    labels = [_reason_label(reason, titles) for reason in shown] + ([f"{len(ranked) - MAX_REASON_ROWS} other "
                                                                      "reasons"] if other else [])
    width = max(min(PLOT / columns, 28.0), 4.0)
    height = TOP + ROW * len(labels) + AXIS
    parts: list[Element] = []
    for row, label in enumerate(labels):
        y = TOP + row * ROW
        row_total = sum(count for (r, _), count in grid.items() if r == row)
        parts.append(h("text", f"{label} ({row_total:,})", x=4, y=y + 15, font_size=12, fill="#1f2328"))
        for column in range(columns):
            count = grid.get((row, column), 0)
            level = LEVELS[min(int(count / most * len(LEVELS)), len(LEVELS) - 1)] if count else EMPTY
            start = first + column * bucket
            span = _hour_label(start) + (f" (+{bucket} h)" if bucket > 1 else "")
            parts.append(h("rect", h("title", f"{label}, {span} UTC: {count:,} failure{'s' if count != 1 else ''}"),
                           x=round(LABEL + column * width, 1), y=y + 2, width=round(max(width - 1, 1.0), 1),
                           height=ROW - 4, fill=level))
    axis_y = TOP + ROW * len(labels) + 14
    for column in sorted({0, columns // 2, columns - 1}):
        x = round(LABEL + column * width, 1)
        parts.append(h("text", _hour_label(first + column * bucket), x=x, y=axis_y, font_size=11, fill="#59636e",
                       text_anchor="start" if column == 0 else "end" if column == columns - 1 else "middle"))
    plot_width = round(LABEL + columns * width + 8)
    svg = h("svg", h("title", "PTA failures by hour and reason"), parts, xmlns="http://www.w3.org/2000/svg",
            viewbox=f"0 0 {plot_width} {height}", width=plot_width, height=height, role="img",
            aria_label="PTA failures by hour and reason")
    legend = h("p", "Fewer ", (h("span", class_="swatch", style=f"background:{colour}") for colour in LEVELS),
               f" more failures per {'hour' if bucket == 1 else f'{bucket} hours'} (most in one cell: {most:,}). "
               "Hover a cell for its count. Times are UTC.", class_="legend note")
    return [legend, h("div", svg, class_="scroll")]


def _reasons(by_reason: Sequence[ReasonRow]) -> Element:
    return table(["Reason", "Name", "What it means", "AADSTS the user saw", "Failures", "By the PTA agent",
                  "First seen", "Last seen"],
                 ([r.reason, r.name, h("span", h("strong", r.title), h("div", r.message, class_="muted")),
                   r.aadsts, r.count, r.pta_agent_count, r.first_seen, r.last_seen] for r in by_reason), numeric=(4, 5))


def _requests(results: PtaResults) -> list[Element]:
    if not results.requests:
        return []
    latest = results.requests[-MAX_REQUEST_ROWS:][::-1]
    total = results.requests_total or len(results.requests)
    return [h("h3", f"Failed PTA requests, latest first ({total:,})"),
            table(["Time", "Request id", "Reason", "AADSTS", "Agent", "From"],
                  ([format_iso_time(r.attempt.time), h("code", r.attempt.request_id or "–"), r.attempt.reason,
                    r.aadsts, r.attempt.agent or None, r.attempt.origin] for r in latest),
                  total=total, limit=MAX_REQUEST_ROWS)]


def sections(results: PtaResults, _links: FindingIndex) -> list[Element]:
    """The PTA section: summary, heat map, reasons, latest requests, then the other lists as generic tables."""
    import dataclasses

    from aadc_doctor.json_data import to_json_data

    summary = results.summary
    out: list[Element] = [kv_table([
        ("Failed sign-ins", f"{summary.failed:,}"),
        ("Failed by the PTA agent", f"{summary.failed_by_agent:,}"),
        ("Succeeded by the PTA agent", f"{results.successes.count:,}"),
        ("Trace entries", f"{summary.trace_entries:,}"),
        ("Security events", f"{summary.security_events:,}"),
        ("Agents seen", ", ".join(summary.agents) or "–"),
    ])]
    out += [h("h3", "Failures by hour and reason"), *heat_map(results.by_hour_reason, results.by_reason)]
    if results.by_reason:
        out += [h("h3", "Failures by reason"), _reasons(results.by_reason)]
    out += _requests(results)
    # the other lists (by status, bursts, agent events, files...) as bounded tables of their JSON data
    drawn = {"summary", "successes", "by_reason", "by_hour", "requests", "requests_total", "requests_truncated",
             "by_hour_reason"}
    out += data_sections({f.name: to_json_data(getattr(results, f.name)) for f in dataclasses.fields(results)
                          if f.name not in drawn})
    return out
