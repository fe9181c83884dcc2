"""`proxylog` in the HTML report: what was read, the wizard's phases, the denial timeline (inline SVG), then the
endpoints, clients and files, each table bounded (the results are already counts, never one row per log line)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from aadc_doctor.json_data import to_json_data
from aadc_doctor.render.html_doc import Element, h
from aadc_doctor.render.html_tables import FindingIndex, data_sections, kv_table, more_note, table

if TYPE_CHECKING:
    from aadc_doctor.analysis.proxylog_summary import EndpointSummary, HostTimeline, ProxyLogSummary
    from aadc_doctor.results import ProxylogResults

MAX_TIMELINE_HOSTS = 25
MAX_ENDPOINT_ROWS = 100
PHASE_BADGE = {"complete": "ok", "partial": "warn", "not_seen": "skip"}

# the timeline's geometry (SVG user units; the SVG scales to the page)
WIDTH, LABEL, ROW, TOP, AXIS = 1100, 330, 22, 8, 36
PLOT = WIDTH - LABEL - 16


def _time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _clock(seconds: float, span: float) -> str:
    """A tick label as precise as the axis needs: seconds on a span under an hour, no minutes over a week."""
    from datetime import UTC

    pattern = "%Y-%m-%d %H:%M:%S" if span < 3600 else "%Y-%m-%d %H:%M" if span < 7 * 86400 else "%Y-%m-%d"
    return datetime.fromtimestamp(seconds, UTC).strftime(pattern)


def _short(text: str, size: int = 46) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _statuses(statuses: Mapping[str, int]) -> str:
    return ", ".join(f"{status} ×{count}" for status, count in statuses.items()) or "–"


def denial_timeline(timeline: Sequence[HostTimeline]) -> list[Element]:
    """One row per host, a bar per time bucket with denials (darker = more; amber when all were 407)."""
    hosts = [t for t in timeline if t.points][:MAX_TIMELINE_HOSTS]
    points = [(host, p, _time(p.start)) for host in hosts for p in host.points]
    dated = [(host, p, t) for host, p, t in points if t is not None]
    if not dated:
        return [h("p", "No denial was logged.", class_="note")]
    start = min(t for _, _, t in dated)
    end = max(t + float(host.bucket_seconds or 60) for host, _, t in dated)
    span = max(end - start, 60.0)
    most = max(p.denied for _, p, _ in dated) or 1
    height = TOP + ROW * len(hosts) + AXIS
    rows: list[Element] = []
    for index, host in enumerate(hosts):
        y = TOP + index * ROW
        total = sum(p.denied for p in host.points)
        label = f"{host.host}:{host.port}"
        rows.append(h("text", f"{_short(label)} ({total:,})", x=4, y=y + 15, font_size=12, fill="#1f2328"))
        rows.append(h("line", x1=LABEL, x2=LABEL + PLOT, y1=y + ROW / 2, y2=y + ROW / 2, stroke="#eaeef2"))
        bucket = float(host.bucket_seconds or 60)
        for point in host.points:
            at = _time(point.start)
            if at is None:
                continue
            denied = point.denied
            statuses = point.statuses
            colour = "#9a6700" if statuses and set(statuses) == {"407"} else "#b42318"
            x = LABEL + (at - start) / span * PLOT
            rows.append(h("rect", h("title", f"{label}, from {point.start} ({bucket / 60:g} min): {denied:,} "
                                             f"denied ({_statuses(statuses)})"),
                          x=round(x, 1), y=y + 4, width=round(max(bucket / span * PLOT, 3.0), 1), height=ROW - 8,
                          fill=colour, fill_opacity=round(0.35 + 0.65 * denied / most, 2)))
    axis_y = TOP + ROW * len(hosts) + 6
    ticks: list[Element] = [h("line", x1=LABEL, x2=LABEL + PLOT, y1=axis_y, y2=axis_y, stroke="#59636e")]
    for step in range(5):
        x = LABEL + PLOT * step / 4
        ticks.append(h("line", x1=round(x, 1), x2=round(x, 1), y1=axis_y, y2=axis_y + 5, stroke="#59636e"))
        ticks.append(h("text", _clock(start + span * step / 4, span), x=round(x, 1), y=axis_y + 20, font_size=11,
                       fill="#59636e", text_anchor="start" if step == 0 else "end" if step == 4 else "middle"))
    svg = h("svg", h("title", "Denials over time, per host"), rows, ticks, xmlns="http://www.w3.org/2000/svg",
            viewbox=f"0 0 {WIDTH} {height}", width=WIDTH, height=height, role="img",
            aria_label="Denials over time, per host")
    note = more_note(len(hosts), sum(1 for t in timeline if t.points), "hosts with denials")
    return [h("p", "Each bar is a time bucket with denials (403, 407, a block page...); darker bars hold more, amber "
                   "bars only 407 (proxy sign-in). Hover a bar for its counts. Times are UTC.", class_="note"),
            h("div", svg, class_="scroll"), *([note] if note is not None else [])]


def _phases(analysis: ProxyLogSummary) -> list[Element]:
    phases = analysis.phases
    summary = analysis.phase_summary
    out: list[Element] = [h("p", (
        f"Wizard phases seen from client {summary.client}: reached "
        f"{', '.join(summary.reached) or 'none'}; stops at {summary.stops_at or '–'}."
        if summary.client is not None else
        "No client looks like an Azure AD Connect server running the wizard, so no phase is followed."),
        class_="note")]
    if not phases:
        return out
    rows = []
    for phase in phases:
        blocked = phase.blocked
        next_step = phase.next_step
        rows.append([
            h("span", h("strong", phase.current_name or phase.name),
              h("div", f"as {phase.identity}", class_="muted") if phase.identity else None),
            h("span", phase.status, class_=f"badge {PHASE_BADGE.get(phase.status, 'fail')}"),
            f"{phase.matched_steps} of {phase.total_steps}",
            phase.first_seen, phase.last_seen,
            f"{blocked.host}:{blocked.port} answered {blocked.status} ×{blocked.count}" if blocked else "–",
            (f"step {next_step.step}: {next_step.expects} ({next_step.describes})"
             if next_step and phase.status != "complete" else "–"),
        ])
    out.append(table(["Phase", "Status", "Steps", "First seen", "Last seen", "Blocked", "Next expected"], rows))
    return out


def _endpoints(endpoints: Sequence[EndpointSummary]) -> Element:
    rows = ([f"{e.host}:{e.port}", e.classification, e.requests, e.allowed, e.denied, e.auth_challenges,
             _statuses(e.statuses), e.first_seen, e.last_seen] for e in endpoints)
    classes = ["denied" if e.denied else None for e in endpoints[:MAX_ENDPOINT_ROWS]]
    return table(["Endpoint", "Class", "Requests", "Allowed", "Denied", "407", "Statuses", "First seen", "Last seen"],
                 rows, total=len(endpoints), limit=MAX_ENDPOINT_ROWS, numeric=(2, 3, 4, 5), row_class=classes)


def sections(results: ProxylogResults, _links: FindingIndex) -> list[Element]:
    analysis = results.analysis
    counts = to_json_data(analysis.line_counts)
    filters = analysis.filters
    out: list[Element] = [kv_table([
        ("Format", results.format), ("Files", len(results.files)), ("Lines", f"{analysis.lines:,}"),
        ("Records", f"{analysis.records:,}"),
        ("Not read as records", ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items()
                                          if k != "records" and v) or "–"),
        ("Filters", "–" if filters is None
         else ", ".join(f"{k}={v}" for k, v in to_json_data(filters).items())),
    ])]
    out += [h("h3", "Phases of the wizard"), *_phases(analysis)]
    out += [h("h3", "Denial timeline"), *denial_timeline(analysis.timeline)]
    out += [h("h3", "Microsoft endpoints in the log"), _endpoints(analysis.endpoints)]
    clients = analysis.clients
    out += [h("h3", f"Clients ({analysis.clients_total:,})"),
            table(["Client", "Requests", "Denied", "407", "Looks like Azure AD Connect", "Probe run", "Phases reached"],
                  ([c.client or "–", c.requests, c.denied, c.auth_407, c.azure_ad_connect_like, c.probe_run,
                    ", ".join(c.phases_reached)] for c in clients), total=analysis.clients_total or len(clients),
                  numeric=(1, 2, 3))]
    # the rest (ignorable hosts, 407 runs, tunnel durations) as the generic key/value view of their JSON
    out += data_sections(to_json_data(analysis), skip=(
        "lines", "records", "skipped", "line_counts", "filters", "phases", "phase_summary", "timeline", "endpoints",
        "clients", "clients_total", "format"))
    out += [h("h3", "Files"), table(
        ["File", "Format", "Encoding", "Lines", "Bad lines", "Notes"],
        ([f.path, f.format_description or f.format, f.encoding + (", compressed" if f.compressed else ""), f.lines,
          f.bad_lines, "; ".join(n for n in (f.truncated or "", f.ignored_tail or "",
                                             f"{f.nul_bytes_skipped:,} NUL bytes skipped" if f.nul_bytes_skipped
                                             else "") if n) or "–"] for f in results.files), numeric=(3, 4))]
    if results.bad_line_samples:
        out += [h("h3", "Lines that could not be read (samples)"), table(
            ["File", "Line", "Why", "Text"],
            ([s.file, s.line, s.reason, h("code", s.text)] for s in results.bad_line_samples), numeric=(1,))]
    return out
