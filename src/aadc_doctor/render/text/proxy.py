"""`proxy` on a terminal: the sources table and the effective proxy per component."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.proxyconfig.effective import ComponentProxy
    from aadc_doctor.results import ProxyResults, ProxySource

ORIGIN_LABELS = {"exe.config": "its own .exe.config", "machine.config": "machine.config",
                 "system": "IE settings / WPAD", "own": "its own settings", "unknown": "machine.config not read"}


def _source_summary(source: ProxySource) -> str:
    from aadc_doctor.results import DotnetConfigSource, PacSource, UnreadSource, WinhttpSource

    if isinstance(source, DotnetConfigSource):
        if not source.declared:
            return "no <defaultProxy>"
        if source.enabled is False:
            return 'enabled="false": direct'
        automatic = ([f"scriptLocation {source.script_location} (PAC)"] if source.script_location else []) + (
            ["autoDetect (WPAD)"] if source.auto_detect else [])
        fallback = "" if automatic else "no proxyaddress (IE settings of the account)"
        parts = [*automatic, *([source.proxy or fallback] if source.proxy or fallback else [])]
        if source.bypass_on_local:
            parts.append("bypassonlocal")
        if source.bypass:
            parts.append("bypass: " + _shown_list(source.bypass))
        if source.use_default_credentials:
            parts.append("useDefaultCredentials")
        return ", ".join(parts)
    if isinstance(source, UnreadSource):
        return f"not read: {source.error}"
    if isinstance(source, WinhttpSource):
        automatic = [f"PAC {source.auto_config_url}"] if source.auto_config_url else []
        automatic += ["auto-detect (WPAD)"] if source.auto_detect else []
        if source.direct:
            return ", ".join(["Direct access (no proxy server)", *automatic])
        bypass = _shown_list(source.bypass) or "(none)"
        return ", ".join([f"{source.proxy}, bypass: {bypass}", *automatic])
    if isinstance(source, PacSource):
        return ", ".join(f"{u.split('/')[2]} -> {p or 'DIRECT'}" for u, p in source.samples.items())
    return ", ".join(f"{k}={v}" for k, v in source.variables.items())


def _effective_summary(item: ComponentProxy) -> str:
    proxy = item.proxy
    url = proxy.display_url if proxy is not None else None
    if item.origin in ("own", "unknown"):
        return "-"
    automatic = ([f"PAC {item.script_location}"] if item.script_location else []) + (
        ["WPAD (auto-detect)"] if item.auto_detect else [])
    if automatic:  # .NET asks the script first; the static address only when the script gives no answer
        return ", ".join(automatic) + (f", else {url}" if url else "")
    if proxy is None or (url is None and item.origin == "system"):
        return "depends on the account"
    if url is None:
        return "direct"
    return url


AUTH_LABELS = {"supported": "supported", "unsupported": "not supported", "no-basic": "not HTTP Basic"}


def _auth_summary(item: ComponentProxy) -> str:
    """What the component can do about a 407, and what its setting would answer one with (never 'sends': .NET
    offers credentials only when the proxy asks)."""
    proxy = item.proxy
    parts = [AUTH_LABELS.get(item.component.proxy_auth, str(item.component.proxy_auth))]
    if proxy is not None and proxy.use_default_credentials:
        parts.append("useDefaultCredentials")
    if proxy is not None and "@" in (proxy.display_url or ""):
        parts.append("user in the URL")
    return "; ".join(parts)


def render(results: ProxyResults, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    sources = Table(title="Proxy sources", title_justify="left", show_lines=False)
    for column in ("source", "file", "says"):
        sources.add_column(column, overflow="fold")
    for source in results.sources:
        component = getattr(source, "component", None)
        label = source.kind + (f" ({component})" if component else "")
        sources.add_row(Text(label), Text(str(getattr(source, "path", "-"))), Text(_source_summary(source)))
    console.print(sources)

    effective = Table(title="Effective proxy per component", title_justify="left")
    for column in ("component", "runs as", "comes from", "proxy", "proxy auth"):
        effective.add_column(column, overflow="fold", no_wrap=column == "proxy")  # a folded URL misleads
    for item in results.effective.values():
        origin = ORIGIN_LABELS[item.origin]
        effective.add_row(Text(item.component.name), Text(item.component.runs_as or "-"), Text(origin),
                          Text(_effective_summary(item)), Text(_auth_summary(item)))
    console.print(effective)


SHOWN_BYPASS_ENTRIES = 20


def _shown_list(entries: tuple[str, ...]) -> str:
    """The first entries of a bypass list; a list of thousands is counted, not printed (--json has them all)."""
    shown = "; ".join(entries[:SHOWN_BYPASS_ENTRIES])
    if len(entries) > SHOWN_BYPASS_ENTRIES:
        shown += f"; ... and {len(entries) - SHOWN_BYPASS_ENTRIES:,} more (--json lists every entry)"
    return shown
