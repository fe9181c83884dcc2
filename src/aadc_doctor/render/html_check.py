"""`check` in the HTML report: the endpoint × layer matrix (dns, tcp, proxy CONNECT, tls, http) with outcome colours
and timings, then what was not probed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aadc_doctor.render.html_doc import Element, anchor_link, h
from aadc_doctor.render.html_tables import FindingIndex, kv_table, more_note

if TYPE_CHECKING:
    from aadc_doctor.net.outcome import EndpointResult
    from aadc_doctor.results import CheckResults

MAX_ENDPOINTS = 500  # a check probes tens of endpoints; --endpoint given by a script could be more
LAYERS = (("dns", "DNS"), ("tcp", "TCP"), ("connect", "Proxy CONNECT"), ("tls", "TLS"), ("http", "HTTP"))
CELL_MEANING = (("pass", "passed (ms)"), ("fail", "failed here"), ("unreached", "not reached"),
                ("unused", "not used (e.g. no CONNECT when direct, no TLS on port 80)"))


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.0f} ms"


def layer_states(row: EndpointResult) -> list[tuple[str, str]]:
    """(state, text) per layer: "pass", "fail" (the layer the probe stopped at), "unreached", "unused"."""
    timings = row.phases
    values = {"dns": timings.dns_ms, "tcp": timings.tcp_ms, "connect": timings.connect_ms, "tls": timings.tls_ms,
              "http": timings.http_ms}
    failed_at = row.phase.value if row.phase is not None and not row.ok else None
    order = [name for name, _ in LAYERS]
    failed_index = order.index(failed_at) if failed_at in order else None
    states = []
    for index, name in enumerate(order):
        ms = _ms(values[name])
        status = ""
        if name == "connect" and row.connect_status is not None:
            status = str(row.connect_status)
        elif name == "http" and row.http_status is not None:
            status = str(row.http_status)
        text = " ".join(part for part in (status, ms) if part)
        if failed_index is not None and index == failed_index:
            states.append(("fail", text or row.outcome.value))
        elif failed_index is not None and index > failed_index:
            states.append(("unreached", "not reached"))
        elif values[name] is not None or status:
            states.append(("pass", text))
        else:
            states.append(("unused", "–"))
    return states


def _detail(row: EndpointResult) -> str:
    tls = row.tls
    if row.outcome.value in ("tls_intercepted", "tls_failure") and tls is not None and tls.issuer:
        return f"issuer {tls.issuer_organization or tls.issuer}: {tls.verify_error or row.error or ''}"
    if not row.ok:
        return str(row.error or "")
    parts = []
    if row.crl is not None and row.crl.parsed:
        parts.append("CRL ok" + (f" until {str(row.crl.next_update)[:10]}" if row.crl.next_update else ""))
    if tls is not None:
        parts.append(str(tls.version or ""))
        if tls.issuer_organization or tls.issuer:
            parts.append(f"issuer {tls.issuer_organization or tls.issuer}")
    if row.proxy_auth_scheme:
        parts.append(f"proxy sign-in {row.proxy_auth_scheme}")
    return ", ".join(p for p in parts if p)


def outcome_class(row: EndpointResult) -> str:
    if row.ok:
        return "ok"
    return "warn" if row.outcome.value == "http_error" else "fail"


def _endpoint_cell(row: EndpointResult, *, show_route: bool) -> list[Element | str]:
    target = row.target
    cell: list[Element | str] = [h("code", f"{target.host}:{target.port}")]
    if target.rule_pattern and target.rule_pattern != target.host:
        cell.append(h("div", f"for {target.rule_pattern}", class_="muted"))
    if show_route:
        cell.append(h("div", f"via {row.via_proxy or 'DIRECT'}", class_="muted"))
    if row.connect_to:
        cell.append(h("div", f"connected to {row.connect_to}", class_="muted"))
    return cell


def _outcome_cell(row: EndpointResult, links: FindingIndex) -> Element | str:
    """The outcome, linked to the finding about this endpoint when there is one."""
    badge = h("span", row.outcome.value, class_=f"badge {outcome_class(row)}")
    anchor = None if row.ok else links.by_subject.get(f"{row.target.host}:{row.target.port}")
    return anchor_link(anchor, badge)


def matrix(endpoints: tuple[EndpointResult, ...], links: FindingIndex | None = None) -> Element:
    head = h("tr", h("th", "Endpoint", scope="col"), h("th", "Outcome", scope="col"),
             (h("th", title, scope="col") for _, title in LAYERS), h("th", "Total", scope="col", class_="num"),
             h("th", "Detail", scope="col"))
    rows = []
    show_route = len({row.via_proxy for row in endpoints}) > 1  # a PAC script or a bypass list chose per URL
    for row in endpoints[:MAX_ENDPOINTS]:
        rows.append(h("tr",
                      h("td", _endpoint_cell(row, show_route=show_route)),
                      h("td", _outcome_cell(row, links or FindingIndex())),
                      (h("td", text, class_=f"layer {state}") for state, text in layer_states(row)),
                      h("td", _ms(row.elapsed_ms), class_="num"),
                      h("td", _detail(row))))
    return h("div", h("table", h("thead", head), h("tbody", rows), class_="data matrix"),
             more_note(min(len(endpoints), MAX_ENDPOINTS), len(endpoints), "endpoints"), class_="scroll")


def _outcome_counts(endpoints: tuple[EndpointResult, ...]) -> Element:
    counts: dict[str, tuple[int, str]] = {}
    for row in endpoints:
        seen, _ = counts.get(row.outcome.value, (0, ""))
        counts[row.outcome.value] = (seen + 1, outcome_class(row))
    ordered = sorted(counts.items(), key=lambda kv: (kv[0] != "ok", -kv[1][0], kv[0]))
    return h("p", "Outcomes: ", ((h("span", outcome, class_=f"badge {kind}"), f" {count}  ")
                                 for outcome, (count, kind) in ordered))


def legend() -> Element:
    return h("p", (h("span", h("span", class_=f"swatch {state}"), text) for state, text in CELL_MEANING),
             class_="legend")


def sections(results: CheckResults, links: FindingIndex) -> list[Element]:
    proxy = results.proxy
    endpoints = results.endpoints
    ok = sum(1 for e in endpoints if e.ok)
    wall = results.wall_ms
    out: list[Element] = [
        kv_table([("Proxy", proxy.description or f"{proxy.config.display_url or 'direct'} ({proxy.config.source})"),
                  ("Proxy sign-in", results.auth.mode + (f" as {results.auth.user}" if results.auth.user else "")),
                  ("Profiles", ", ".join(results.profiles) or "–"),
                  ("Timeout", f"{results.timeout_s:g} s"), ("Concurrency", results.concurrency),
                  ("Result", h("strong", f"{ok} of {len(endpoints)} endpoints ok in "
                                         + (f"{wall / 1000:.1f} s" if wall >= 1000 else f"{wall:.0f} ms"),
                               class_="verdict-ok" if ok == len(endpoints) else "verdict-bad"))]),
        h("h3", "Endpoints by layer"),
        _outcome_counts(endpoints),
        h("p", "Each probe runs the layers left to right; a cell shows the proxy's answer to CONNECT or the "
               "endpoint's HTTP status (any status, even 4xx, means reachable) and the time the layer took.",
          class_="note"),
        legend(),
        matrix(endpoints, links),
    ]
    if results.not_probed:
        out.append(h("h3", "Not probed"))
        out.append(h("ul", (h("li", h("code", f"{item.pattern}:{item.port}"), f" {item.reason}")
                            for item in results.not_probed)))
    for spec in results.connect_to_unused:
        out.append(h("p", f"--connect-to {spec} matched no probed endpoint: HOST:PORT must be a probed URL's host "
                          "and port (443 for https://, 80 for http://)", class_="note"))
    return out
