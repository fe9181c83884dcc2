"""`proxy` in the HTML report: which proxy each component really uses and where that comes from, then every source
read (machine.config, .exe.config, netsh winhttp, PAC, environment) as the generic tables draw it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aadc_doctor.json_data import to_json_data
from aadc_doctor.render.html_doc import Element, h
from aadc_doctor.render.html_tables import FindingIndex, table, value_view

if TYPE_CHECKING:
    from aadc_doctor.proxyconfig.effective import ComponentProxy
    from aadc_doctor.results import ProxyResults


def _proxy_cell(item: ComponentProxy) -> Element | str:
    proxy = item.proxy
    if proxy is None:
        return h("span", "not set by a file (system or own setting)", class_="muted")
    if proxy.pac is not None:
        return h("span", h("code", f"PAC {proxy.pac.location}"))
    text = proxy.display_url or "DIRECT"
    notes = []
    if proxy.bypass:
        notes.append(f"bypass: {', '.join(proxy.bypass[:10])}" + (" …" if len(proxy.bypass) > 10 else ""))
    if proxy.bypass_on_local:
        notes.append("bypass on local")
    if proxy.use_default_credentials:
        notes.append("signs in as its account (useDefaultCredentials)")
    return h("span", h("code", text), (h("div", note, class_="muted") for note in notes))


def sections(results: ProxyResults, _links: FindingIndex) -> list[Element]:
    rows = ([h("strong", item.component.name), _proxy_cell(item),
             h("span", item.origin, h("div", item.origin_path, class_="muted") if item.origin_path else None),
             item.component.runs_as or "–", item.component.proxy_auth, item.explanation]
            for item in results.effective.values())
    out: list[Element] = [
        h("h3", "The proxy each component uses"),
        table(["Component", "Proxy", "From", "Runs as", "Proxy sign-in", "Why"], rows),
        h("h3", "Sources read"),
    ]
    view = value_view(to_json_data(list(results.sources)), 1)
    out.append(view if isinstance(view, Element) else h("p", view))
    return out
