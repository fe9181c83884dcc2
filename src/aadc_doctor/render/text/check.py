"""`check` on a terminal: the proxy used, the endpoint table (live while probing), what was not probed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

    from aadc_doctor.net.outcome import EndpointResult, EndpointTarget
    from aadc_doctor.results import CheckResults

OUTCOME_STYLE = {"ok": "green", "http_error": "yellow"}
ENDPOINT_WIDTH = 48
DETAIL_MIN_WIDTH = 30  # narrower than this, the Detail column is unreadable (or dropped): list layout instead
# Above the table, where a first-time reader looks: what the two number columns mean.
TABLE_LEGEND = (
    "CONNECT/HTTP: the proxy's answer to CONNECT / the endpoint's HTTP status (any status, even 4xx, means reachable)",
    "ms: time per layer, dns/tcp/CONNECT/tls/http ('-' = layer not used, e.g. no CONNECT when direct, or not reached)",
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _status(row: EndpointResult) -> str:
    connect, http = row.connect_status, row.http_status
    if connect is None and http is None:
        return "-"
    return f"{connect if connect is not None else '-'}/{http if http is not None else '-'}"


def _detail(row: EndpointResult) -> str:
    tls = row.tls
    outcome = row.outcome.value
    if outcome in ("tls_intercepted", "tls_failure") and tls and tls.issuer:
        issuer = tls.issuer_organization or tls.issuer
        return f"issuer {issuer}: {tls.verify_error or row.error or ''}"
    if outcome != "ok":
        return str(row.error or "")
    crl = row.crl
    if crl and crl.parsed:
        until = str(crl.next_update or "")[:10]
        return "CRL ok" + (f" until {until}" if until else "")
    parts = []
    if tls:
        parts.append(str(tls.version or ""))
        if tls.issuer_organization or tls.issuer:
            parts.append(f"issuer {tls.issuer_organization or tls.issuer}")
    if row.proxy_auth_scheme:
        parts.append(f"proxy sign-in {row.proxy_auth_scheme}")
    if not tls and row.http_status is not None:
        parts.append(f"answered {row.http_status}")
    return ", ".join(p for p in parts if p)


def _row_label(row: EndpointResult) -> tuple[str, str]:
    pattern = (row.target.rule_pattern if row.target.rule_id else None) or "-"
    return f"{row.target.host}:{row.target.port}", pattern


def _timings(row: EndpointResult) -> str:
    p = row.phases
    return "/".join(_ms(None if v is None else round(v, 1)) for v in (p.dns_ms, p.tcp_ms, p.connect_ms, p.tls_ms,
                                                                        p.http_ms))


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _endpoint_cell(label: str, pattern: str, connect_to: str | None = None) -> Text:
    from rich.text import Text

    host = label.rsplit(":", 1)[0]
    if len(label) > ENDPOINT_WIDTH and "." in label[:ENDPOINT_WIDTH]:
        # a tenant host (<tenant-id>.pta.bootstrap.his.msappproxy.net, 70 characters) would squeeze the Detail column
        # out of a 120-column table: break it after a dot
        cut = label.rindex(".", 0, ENDPOINT_WIDTH) + 1
        label = label[:cut] + "\n  " + label[cut:]
    cell = Text(label)
    if pattern not in ("-", host):
        cell.append(f"\n  for {pattern}", style="dim")
    if connect_to:
        cell.append(f"\n  connected to {connect_to}", style="dim")
    return cell


def build_table(rows: Sequence[EndpointResult | None], targets: Sequence[tuple[str, str]] = ()) -> Table:
    """The endpoint table; `None` rows (probes still running) show as pending with their target label.

    A wildcard catalog row is probed through a concrete host: the cell shows the row it stands for.
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    # no_wrap: host:port stays whole (a label over ENDPOINT_WIDTH is broken at a dot by _endpoint_cell). Letting rich
    # fold this column made it squeeze ordinary names, and a min_width made it crop the Detail text by a character.
    table.add_column("Endpoint", no_wrap=True)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("CONNECT/HTTP", justify="right", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column("Detail", overflow="fold", ratio=1, min_width=DETAIL_MIN_WIDTH)
    for index, row in enumerate(rows):
        if row is None:
            label, pattern = targets[index] if index < len(targets) else ("?", "-")
            table.add_row(_endpoint_cell(label, pattern), Text("probing...", style="dim"), "", "", "")
            continue
        label, pattern = _row_label(row)
        outcome = row.outcome.value
        table.add_row(_endpoint_cell(label, pattern, row.connect_to),
                      Text(outcome, style=OUTCOME_STYLE.get(outcome, "bold red")),
                      _status(row), _timings(row), _short(_detail(row)))
    return table


def _fixed_columns_width(rows: Sequence[EndpointResult | None], targets: Sequence[tuple[str, str]]) -> int:
    """Width the table needs besides Detail: Endpoint, Outcome, CONNECT/HTTP, ms and the four separators."""
    labels = [_row_label(row)[0] if row is not None else (targets[i][0] if i < len(targets) else "?")
              for i, row in enumerate(rows)]
    endpoint = max([len("Endpoint"), *(min(len(label), ENDPOINT_WIDTH) for label in labels)])
    done = [row for row in rows if row is not None]
    outcome = max([len("probing..."), *(len(row.outcome.value) for row in done)])
    status = max([len("CONNECT/HTTP"), *(len(_status(row)) for row in done)])
    timings = max([len("ms"), *(len(_timings(row)) for row in done)])
    return endpoint + outcome + status + timings + 4 * 3


def build_view(rows: Sequence[EndpointResult | None], targets: Sequence[tuple[str, str]] = (), *,
               width: int = 120) -> RenderableType:
    """The table when the console leaves its Detail column DETAIL_MIN_WIDTH characters (rich drops a column that does
    not fit, and with it the cause), else one line per endpoint with the detail indented under it."""
    if width - _fixed_columns_width(rows, targets) >= DETAIL_MIN_WIDTH:
        return build_table(rows, targets)
    from rich.console import Group
    from rich.text import Text

    lines: list[Text] = []
    for index, row in enumerate(rows):
        if row is None:
            label = targets[index][0] if index < len(targets) else "?"
            lines.append(Text(label) + Text("  probing...", style="dim"))
            continue
        label, pattern = _row_label(row)
        outcome = row.outcome.value
        head = Text(label)
        head.append(f"  {outcome}", style=OUTCOME_STYLE.get(outcome, "bold red"))
        head.append(f"  {_status(row)}  {_timings(row)} ms")
        notes = [f"for {pattern}"] if pattern not in ("-", row.target.host) else []
        if row.connect_to:
            notes.append(f"connected to {row.connect_to}")
        notes.append(_short(_detail(row), 200))
        lines.append(head)
        lines.append(Text("    " + "; ".join(n for n in notes if n), style="dim"))
    return Group(*lines)


class LiveTable:
    """The table on a terminal, each row filling in as its probe completes."""

    def __init__(self, console: Console, targets: Sequence[EndpointTarget]) -> None:
        from rich.live import Live

        self._labels = [(t.label, t.rule_pattern or "-") for t in targets]
        self._rows: list[EndpointResult | None] = [None] * len(targets)
        self._width = console.width
        self._live = Live(build_view(self._rows, self._labels, width=self._width), console=console,
                          transient=True, refresh_per_second=8)

    def update(self, index: int, result: EndpointResult) -> None:
        self._rows[index] = result
        self._live.update(build_view(self._rows, self._labels, width=self._width))

    def __enter__(self) -> LiveTable:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)


def render(results: CheckResults, console: Console) -> None:
    from rich.text import Text

    proxy = results.proxy
    where = proxy.description or f"{proxy.config.display_url or 'direct'} ({proxy.config.source})"
    console.print(Text("Proxy: ", style="bold") + Text(str(where)))
    endpoints = list(results.endpoints)
    # a PAC script, NO_PROXY or a bypass list picks per URL: say what was picked, or a DIRECT route goes unnoticed
    routes: dict[str, int] = {}
    for row in endpoints:
        route = row.via_proxy or "DIRECT"
        routes[route] = routes.get(route, 0) + 1
    is_pac = proxy.config.source.startswith("pac")
    if is_pac or len(routes) > 1:
        chosen = ", ".join(f"{route} ({count} endpoint{'s' if count != 1 else ''})" for route, count in routes.items())
        console.print(Text("PAC chose: " if is_pac else "Routes: ", style="bold") + Text(chosen or "-"))
    for line in TABLE_LEGEND:
        console.print(Text(line, style="dim"))
    console.print(build_view(endpoints, width=console.width))
    ok = sum(1 for e in endpoints if e.ok)
    wall = results.wall_ms
    timing = f" in {wall / 1000:.1f} s" if wall >= 1000 else f" in {wall:.0f} ms"
    console.print(Text(f"{ok} of {len(endpoints)} endpoints ok{timing}", style="bold"))
    if results.not_probed:
        console.print(Text("Not probed:", style="dim"))
        for item in results.not_probed:
            console.print(Text(f"  {item.pattern}:{item.port}  {item.reason}", style="dim"))
    for spec in results.connect_to_unused:
        console.print(Text(f"--connect-to {spec} matched no probed endpoint: HOST:PORT must be a probed URL's "
                           "host and port (443 for https://, 80 for http://)", style="yellow"))
