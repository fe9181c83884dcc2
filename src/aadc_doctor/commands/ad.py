"""`aadc-doctor ad dcs|logon|sso`: Active Directory as the PTA agent and Seamless SSO see it.

`dcs` finds the domain controllers (DNS SRV, CLDAP ping) and probes each at once (ports, rootDSE, LDAP policy,
LDAPS certificate, clock); `logon` validates one user's password the way the agent's LogonUser does and says
why it fails, in the words `pta trace` uses; `sso` checks the AZUREADSSOACC computer account and, from DC
Security logs, the encryption of the service tickets issued for it (event 4769).
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aadc_doctor.commands import CommandResult, RunContext
from aadc_doctor.errors import UsageError
from aadc_doctor.model import Finding, Report

if TYPE_CHECKING:
    from rich.console import Console

HELP = "Active Directory as the PTA agent sees it: domain controllers (dcs), a user's logon (logon), Seamless SSO (sso)"
DEFAULT_TIMEOUT = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from aadc_doctor.cli import add_global_options

    sub = parser.add_subparsers(dest="ad_command", metavar="SUBCOMMAND", parser_class=type(parser))
    sub.required = True
    dcs = sub.add_parser("dcs", help="find the domain controllers and probe each (ports, LDAP, LDAPS, clock)",
                         description="DC discovery through DNS SRV records and a CLDAP ping, then for every DC at "
                                     "once: TCP 53/88/135/389/445/636/3268/3269, UDP 88/389, the rootDSE, whether "
                                     "a simple bind needs TLS, the LDAPS certificate, the clock offset.")
    dcs.add_argument("--domain", help="the AD domain's DNS name (default: USERDNSDOMAIN on Windows)")
    dcs.add_argument("--dc", action="append", default=[], metavar="HOST",
                     help="probe this DC (name or address) instead of those DNS lists (repeatable)")
    dcs.add_argument("--site", help="also look up the site-specific DC records of SITE")
    _common(dcs)
    add_global_options(dcs, suppress_defaults=True)

    logon = sub.add_parser("logon", help="validate a user's password against a DC and explain the answer",
                           description="A simple bind as the user over LDAPS (or StartTLS; plain LDAP only when "
                                       "asked), the directory's answer mapped to the Reason the PTA agent logs, "
                                       "and the account's logon hours, Log On To, expiry, password age and lockout.")
    logon.add_argument("upn", metavar="UPN", help="the user, as user@domain (or DOMAIN\\user)")
    logon.add_argument("--dc", metavar="HOST", help="the DC to ask (default: the first DC DNS lists for the "
                                                    "UPN's domain)")
    logon.add_argument("--password-env", metavar="VAR",
                       help="read the password from environment variable VAR (default: prompt)")
    logon.add_argument("--transport", choices=["ldaps", "starttls", "ldap"], default="ldaps",
                       help="ldaps (636, default), starttls (389) or ldap (389, password in clear text)")
    logon.add_argument("--starttls", dest="transport", action="store_const", const="starttls",
                       help="same as --transport starttls")
    logon.add_argument("--tls-name", metavar="NAME",
                       help="the name the DC's certificate must carry when --dc is an address")
    logon.add_argument("--agent-server", action="append", default=[], metavar="NAME",
                       help="a server running a PTA agent, checked against the user's Log On To list "
                            "(repeatable; default: this computer)")
    logon.add_argument("--utc-offset", default="UTC", metavar="±HH:MM",
                       help="show logon hours in this zone (the DCs' time zone, e.g. +01:00; default UTC)")
    _reader(logon)
    _common(logon)
    add_global_options(logon, suppress_defaults=True)

    sso = sub.add_parser("sso", help="check the AZUREADSSOACC account; with --events, the 4769 ticket types",
                         description="Seamless SSO's computer account AZUREADSSOACC: present, enabled, key age "
                                     "(roll over every 30 days), msDS-SupportedEncryptionTypes (RC4-only breaks in "
                                     "2026), SPNs. --events reads DC Security logs for event 4769.")
    sso.add_argument("--domain", help="the AD domain's DNS name (default: USERDNSDOMAIN on Windows)")
    sso.add_argument("--dc", metavar="HOST", help="the DC to read from (default: the first DC DNS lists)")
    sso.add_argument("--events", nargs="+", default=[], metavar="FILE",
                     help="DC Security logs (.evtx or Event Viewer XML): report 4769 for AZUREADSSOACC$; "
                          "with --events alone nothing is read from AD")
    sso.add_argument("--transport", choices=["ldaps", "starttls", "ldap"], default="ldaps",
                     help="how to read the directory (default ldaps)")
    sso.add_argument("--tls-name", metavar="NAME", help="the name the DC's certificate must carry")
    _reader(sso)
    _common(sso)
    add_global_options(sso, suppress_defaults=True)


def _reader(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reader", metavar="UPN", help="an account that may read users (to explain the account)")
    parser.add_argument("--reader-password-env", metavar="VAR", help="the --reader password's environment variable")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                        help=f"seconds per network step (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--dns-server", metavar="ADDR[:PORT]", help="ask this DNS server for the SRV records")
    parser.add_argument("--ca-file", metavar="PEM", help="trust this CA for LDAPS (instead of the system store)")
    parser.add_argument("--insecure-tls", action="store_true", help="do not verify the LDAPS certificate (lab only)")


def run(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    if not 0 < args.timeout <= 300:
        raise UsageError(f"--timeout {args.timeout:g}: give seconds between 0 and 300")
    if args.ca_file and not Path(args.ca_file).is_file():
        raise UsageError(f"--ca-file {args.ca_file}: no such file")
    if args.ad_command == "dcs":
        return _run_dcs(args, ctx)
    if args.ad_command == "logon":
        return _run_logon(args, ctx)
    return _run_sso(args, ctx)


def _domain(args: argparse.Namespace, ctx: RunContext, *, needed: bool) -> str:
    domain = (getattr(args, "domain", None) or ctx.env.get("USERDNSDOMAIN") or "").strip().rstrip(".").lower()
    if needed and not domain:
        raise UsageError("give --domain (the AD domain's DNS name) or --dc HOST")
    if domain and (" " in domain or "/" in domain or ("." not in domain and len(domain) > 63)):
        raise UsageError(f"--domain {domain}: not a DNS domain name")
    return domain


def _nameserver(args: argparse.Namespace) -> tuple[str, int] | None:
    from aadc_doctor.ad.discovery import parse_nameserver

    return parse_nameserver(args.dns_server) if args.dns_server else None


def _run_dcs(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    from aadc_doctor.ad.dc_findings import dc_findings, discovery_findings, summary_finding
    from aadc_doctor.ad.dc_survey import survey
    from aadc_doctor.ad.discovery import discover

    dcs = [d.strip() for d in args.dc if d.strip()]
    domain = _domain(args, ctx, needed=not dcs)
    findings: list[Finding] = []
    results: dict[str, Any] = {"domain": domain or None, "discovery": None, "dcs": []}
    addresses: dict[str, list[str]] = {}
    if not dcs:
        discovery = discover(domain, site=args.site, nameserver=_nameserver(args), timeout=args.timeout)
        results["discovery"] = discovery.to_dict()
        findings += discovery_findings(discovery, args.site)
        dcs = discovery.dc_hosts()
        addresses = discovery.addresses
    import time

    start = time.monotonic()
    surveys = survey(dcs, domain=domain, timeout=args.timeout, ca_file=args.ca_file, known_addresses=addresses)
    results["wall_ms"] = round((time.monotonic() - start) * 1000, 1)
    results["dcs"] = [dc.to_dict() for dc in surveys]
    for dc in surveys:
        findings += dc_findings(dc, domain)
    summary = summary_finding(surveys)
    if summary is not None:
        findings.append(summary)
    return CommandResult(Report(command="ad dcs", findings=findings, results=results))


def _secret(ctx: RunContext, var: str | None, what: str, prompt: str) -> str | None:
    from aadc_doctor.secrets import register_secret

    if var:
        value = ctx.env.get(var)
        if value is None:
            raise UsageError(f"{what}: environment variable {var} is not set")
    elif ctx.interactive:
        import getpass

        value = getpass.getpass(prompt)
    else:
        return None
    if not value:
        raise UsageError(f"{what}: the password is empty (an empty password is an anonymous bind in LDAP)")
    register_secret(value)
    return value


def _first_dc(domain: str, args: argparse.Namespace) -> tuple[str, str]:
    """The first DC DNS lists for the domain: (address to connect to, name its certificate must carry)."""
    from aadc_doctor.ad.discovery import discover
    from aadc_doctor.errors import RunIncomplete

    discovery = discover(domain, site=None, nameserver=_nameserver(args), timeout=args.timeout)
    hosts = discovery.dc_hosts()
    if not hosts:
        lookup = discovery.lookups[0]
        raise RunIncomplete(f"no domain controller of {domain} found in DNS ({lookup.record}: {lookup.describe()})",
                            hint="give --dc HOST, or check the domain name and DNS (aadc-doctor ad dcs)")
    addresses = discovery.addresses.get(hosts[0]) or [hosts[0]]
    return addresses[0], hosts[0]


def _tls(args: argparse.Namespace) -> Any:
    from aadc_doctor.ad.directory import TlsOptions

    return TlsOptions(ca_file=args.ca_file, insecure=bool(args.insecure_tls))


def _run_logon(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    import socket

    from aadc_doctor.ad.logon import LogonRequest, validate
    from aadc_doctor.ad.logon_hours import parse_utc_offset

    upn = args.upn.strip()
    if not upn or ("@" not in upn and "\\" not in upn):
        raise UsageError(f"{args.upn!r}: give the user as user@domain or DOMAIN\\user")
    try:
        offset = parse_utc_offset(args.utc_offset)
    except ValueError:
        raise UsageError(f"--utc-offset {args.utc_offset}: give UTC or ±HH:MM (e.g. +01:00)") from None
    password = _secret(ctx, args.password_env, "--password-env", f"Password for {upn}: ")
    if password is None:
        raise UsageError("no password: pass --password-env VAR (or run interactively to be prompted)")
    reader_password = None
    if args.reader:
        reader_password = _secret(ctx, args.reader_password_env, "--reader-password-env",
                                  f"Password for {args.reader}: ")
    dc, tls_name = (args.dc, args.tls_name) if args.dc else _first_dc(
        upn.split("@", 1)[1] if "@" in upn else _domain(args, ctx, needed=True), args)
    tls_name = args.tls_name or tls_name
    agents = [a.strip() for a in args.agent_server if a.strip()] or [socket.gethostname().split(".")[0]]
    zone = "UTC" if offset == timedelta(0) else f"UTC{args.utc_offset}"
    request = LogonRequest(upn=upn, dc=dc, transport=args.transport, timeout=args.timeout, tls=_tls(args),
                           tls_name=tls_name, agents=agents, utc_offset=offset, zone=zone,
                           reader=args.reader, reader_password=reader_password)
    findings, results = validate(request, password)
    return CommandResult(Report(command="ad logon", findings=findings, results=results))


def _run_sso(args: argparse.Namespace, ctx: RunContext) -> CommandResult:
    findings: list[Finding] = []
    results: dict[str, Any] = {"domain": None, "dc": None, "account": None, "tickets": None}
    if args.events:
        from aadc_doctor.ad.sso_tickets import read_ticket_events, ticket_findings

        tally, files = read_ticket_events([Path(p) for p in args.events])
        results["tickets"] = {**tally.to_dict(), "files": files}
        findings += ticket_findings(tally)
    if args.events and not (args.dc or args.domain):
        return CommandResult(Report(command="ad sso", findings=findings, results=results))
    domain = _domain(args, ctx, needed=not args.dc)
    dc, tls_name = (args.dc, args.tls_name) if args.dc else _first_dc(domain, args)
    results["dc"] = dc
    findings += _read_sso(args, ctx, dc, domain, args.tls_name or tls_name, results)
    return CommandResult(Report(command="ad sso", findings=findings, results=results))


def _read_sso(args: argparse.Namespace, ctx: RunContext, dc: str, domain: str, tls_name: str | None,
              results: dict[str, Any]) -> list[Finding]:
    from aadc_doctor.ad.directory import close, first_text, open_and_bind, search_one
    from aadc_doctor.ad.sso_account import describe, read_sso_account, sso_findings
    from aadc_doctor.errors import RunIncomplete

    password = _secret(ctx, args.reader_password_env, "--reader-password-env",
                       f"Password for {args.reader}: ") if args.reader else None
    outcome = open_and_bind(dc, args.transport, args.timeout, _tls(args), user=args.reader, password=password,
                            tls_name=tls_name)
    try:
        if outcome.failure is not None:
            raise RunIncomplete(f"cannot read the directory on {dc}: {outcome.failure.message}",
                                hint="check the DC with `aadc-doctor ad dcs --dc HOST`")
        if outcome.result != 0:
            raise RunIncomplete(f"{dc} refused the --reader bind: {outcome.message or outcome.description}")
        root = search_one(outcome.connection, "", "(objectClass=*)", ["defaultNamingContext"], scope="BASE") or {}
        base = first_text(root.get("defaultNamingContext"))
        if not base:
            raise RunIncomplete(f"{dc} did not say its domain (no defaultNamingContext): is it a DC?")
        domain = domain or ".".join(p.split("=", 1)[1] for p in base.split(",")).lower()
        results["domain"] = domain
        entry = read_sso_account(outcome.connection, base)
        account = describe(entry) if entry is not None else None
        results["account"] = account
        return sso_findings(domain, account)
    finally:
        close(outcome.connection)


# ---- rendering ------------------------------------------------------------------------------------


def render(report: Report, console: Console) -> None:
    results = report.results
    if report.command == "ad dcs":
        _render_dcs(results, console)
    elif report.command == "ad logon":
        _render_logon(results, console)
    else:
        _render_sso(results, console)


def _render_dcs(results: Any, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"Domain controllers{' of ' + results['domain'] if results.get('domain') else ''}")
    for column in ("DC", "address", "LDAP", "CLDAP", "ports not open", "simple bind", "LDAPS", "clock", "ms"):
        table.add_column(column)
    for dc in results["dcs"]:
        root = dc.get("root_dse") or {}
        closed = [k for k, v in dc["ports"].items() if v["state"] not in ("open", "answered")]
        strong = (dc.get("strong_auth") or {}).get("state", "-")
        offset = dc.get("clock_offset_s")
        table.add_row(dc["name"], dc["address"] or "-", root.get("outcome", "-"),
                      (dc.get("cldap") or {}).get("outcome", "-"), ", ".join(closed) or "-",
                      {"required": "needs TLS", "not_required": "allowed"}.get(strong, strong),
                      (dc.get("ldaps") or {}).get("outcome", "-"),
                      f"{round(offset):+d} s" if offset is not None else "-", f"{dc['probe_ms']:.0f}")
    console.print(table)


def _render_logon(results: Any, console: Console) -> None:
    console.print(f"{results['upn']} against {results['dc']} over {results['transport']}: {results['outcome']}"
                  + (f", data {results['data_code']} -> Reason {results['reason']}" if results.get("reason") else ""),
                  markup=False, highlight=False)
    account = results.get("account")
    if not account:
        return
    lines = [f"  userAccountControl: {account['user_account_control']} ({', '.join(account['uac_flags'])})",
             f"  pwdLastSet: {account['pwd_last_set'] or '0 (must change)'}; expires: "
             f"{account['password_expires'] or 'never'}",
             f"  accountExpires: {account['account_expires'] or 'never'}",
             f"  lockoutTime: {account['lockout_time'] or '-'} (locked: {account['locked_out']})"]
    if account["workstations"]:
        lines.append(f"  Log On To: {', '.join(account['workstations'])} (agent servers "
                     f"{', '.join(account['agent_servers'])} allowed: {account['agent_servers_allowed']})")
    hours = account.get("logon_hours")
    if hours:
        lines.append(f"  logon hours ({hours['zone']}): {hours['summary']}")
        lines += [f"    {day} {row}" for day, row in hours["week"].items()]
    for line in lines:
        console.print(line, markup=False, highlight=False)


def _render_sso(results: Any, console: Console) -> None:
    account = results.get("account")
    if account:
        console.print(f"{account['sam_account_name']} on {results['dc']}: enabled {account['enabled']}, key "
                      f"{account['key_age_days']} days old, encryption types "
                      f"{', '.join(account['encryption_types']) or 'unset'}", markup=False, highlight=False)
    tickets = results.get("tickets")
    if tickets:
        kinds = ", ".join(f"{t['name']} ({t['type']}) ×{t['count']}" for t in tickets["by_encryption_type"])
        console.print(f"4769 for AZUREADSSOACC$: {tickets['tickets']} ticket(s) {kinds}".rstrip(),
                      markup=False, highlight=False)
