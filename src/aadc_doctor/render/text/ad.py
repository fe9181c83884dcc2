"""`ad dcs|logon|sso` on a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from aadc_doctor.ad.logon import LogonResult
    from aadc_doctor.results import AdDcsResults, AdResults, AdSsoResults


def render(results: AdResults, console: Console) -> None:
    from aadc_doctor.results import AdDcsResults, AdLogonResults

    if isinstance(results, AdDcsResults):
        _render_dcs(results, console)
    elif isinstance(results, AdLogonResults):
        _render_logon(results.logon, console)
    else:
        _render_sso(results, console)


def _render_dcs(results: AdDcsResults, console: Console) -> None:
    from rich.table import Table

    from aadc_doctor.ad.dc_survey import ordered_ports

    table = Table(title=f"Domain controllers{' of ' + results.domain if results.domain else ''}")
    for column in ("DC", "address", "LDAP", "CLDAP", "ports not open", "simple bind", "LDAPS", "clock", "ms"):
        table.add_column(column)
    for dc in results.dcs:
        closed = [k for k, v in ordered_ports(dc.ports) if v.state not in ("open", "answered")]
        strong = dc.strong_auth.state if dc.strong_auth else "-"
        offset = dc.root_dse.clock_offset_s() if dc.root_dse else None
        table.add_row(dc.name, dc.address or "-", dc.root_dse.outcome if dc.root_dse else "-",
                      dc.cldap.outcome if dc.cldap else "-", ", ".join(closed) or "-",
                      {"required": "needs TLS", "not_required": "allowed"}.get(strong, strong),
                      dc.ldaps.outcome if dc.ldaps else "-",
                      f"{round(offset):+d} s" if offset is not None else "-", f"{dc.probe_ms:.0f}")
    console.print(table)


def _render_logon(results: LogonResult, console: Console) -> None:
    console.print(f"{results.upn} against {results.dc} over {results.transport}: {results.outcome}"
                  + (f", data {results.data_code} -> Reason {results.reason}" if results.reason else ""),
                  markup=False, highlight=False)
    account = results.account
    if account is None:
        return
    lines = [f"  userAccountControl: {account.user_account_control} ({', '.join(account.uac_flags)})",
             f"  pwdLastSet: {account.pwd_last_set or '0 (must change)'}; expires: "
             f"{account.password_expires or 'never'}",
             f"  accountExpires: {account.account_expires or 'never'}",
             f"  lockoutTime: {account.lockout_time or '-'} (locked: {account.locked_out})"]
    if account.workstations:
        lines.append(f"  Log On To: {', '.join(account.workstations)} (agent servers "
                     f"{', '.join(account.agent_servers)} allowed: {account.agent_servers_allowed})")
    hours = account.logon_hours
    if hours:
        lines.append(f"  logon hours ({hours.zone}): {hours.summary}")
        lines += [f"    {day} {row}" for day, row in hours.week.items()]
    for line in lines:
        console.print(line, markup=False, highlight=False)


def _render_sso(results: AdSsoResults, console: Console) -> None:
    account = results.account
    if account:
        console.print(f"{account.sam_account_name} on {results.dc}: enabled {account.enabled}, key "
                      f"{account.key_age_days} days old, encryption types "
                      f"{', '.join(account.encryption_types) or 'unset'}", markup=False, highlight=False)
    tickets = results.tickets
    if tickets:
        kinds = ", ".join(f"{t.name} ({t.type}) ×{t.count}" for t in tickets.by_encryption_type)
        console.print(f"4769 for AZUREADSSOACC$: {tickets.tickets} ticket(s) {kinds}".rstrip(),
                      markup=False, highlight=False)
