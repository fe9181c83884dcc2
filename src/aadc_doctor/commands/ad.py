"""`aadc-doctor ad dcs|logon|sso`: Active Directory as the PTA agent and Seamless SSO see it.

`dcs` finds the domain controllers (DNS SRV, CLDAP ping) and probes each at once (ports, rootDSE, LDAP policy,
LDAPS certificate, clock); `logon` validates one user's password the way the agent's LogonUser does and says
why it fails, in the words `pta trace` uses; `sso` checks the AZUREADSSOACC computer account and, from DC
Security logs, the encryption of the service tickets issued for it (event 4769).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aadc_doctor.commands import RunContext
from aadc_doctor.errors import UsageError
from aadc_doctor.model import Finding
from aadc_doctor.options import check_timeout, reject_empty_values, secret_from
from aadc_doctor.pipeline import Analysis, BaseCommand
from aadc_doctor.results import AdDcsResults, AdLogonResults, AdResults, AdSsoResults

if TYPE_CHECKING:
    from aadc_doctor.ad.dc_survey import DcSurvey
    from aadc_doctor.ad.discovery import Discovery
    from aadc_doctor.ad.logon import LogonResult
    from aadc_doctor.ad.sso_account import SsoAccount
    from aadc_doctor.ad.sso_tickets import TicketFile, TicketTally

HELP = "Active Directory as the PTA agent sees it: domain controllers (dcs), a user's logon (logon), Seamless SSO (sso)"
DEFAULT_TIMEOUT = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from aadc_doctor.options import add_global_options

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


@dataclass(frozen=True)
class DcsEvidence:
    domain: str
    site: str | None
    discovery: Discovery | None
    surveys: tuple[DcSurvey, ...]
    wall_ms: float


@dataclass(frozen=True)
class LogonEvidence:
    """The bind and the account read; ad/logon.validate judges the answer as it reads (it needs the reader)."""

    findings: tuple[Finding, ...]
    results: LogonResult


@dataclass(frozen=True)
class SsoEvidence:
    tickets: tuple[TicketTally, tuple[TicketFile, ...]] | None  # 4769 tally and the files read (--events)
    dc: str | None = None
    domain: str | None = None
    account: SsoAccount | None = None  # AZUREADSSOACC as ad/sso_account.describe reads it


class AdCommand(BaseCommand):
    name = "ad"
    help = HELP

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def report_name(self, args: argparse.Namespace) -> str:
        return f"ad {args.ad_command}"

    def collect(self, args: argparse.Namespace, ctx: RunContext) -> DcsEvidence | LogonEvidence | SsoEvidence:
        reject_empty_values(args)
        check_timeout(args.timeout, 300)
        if args.ca_file and not Path(args.ca_file).is_file():
            raise UsageError(f"--ca-file {args.ca_file}: no such file")
        if args.ad_command == "dcs":
            return _collect_dcs(args, ctx)
        if args.ad_command == "logon":
            return _collect_logon(args, ctx)
        return _collect_sso(args, ctx)

    def analyse(self, evidence: DcsEvidence | LogonEvidence | SsoEvidence) -> Analysis[AdResults]:
        if isinstance(evidence, DcsEvidence):
            return _analyse_dcs(evidence)
        if isinstance(evidence, LogonEvidence):
            return Analysis(AdLogonResults(evidence.results), evidence.findings)
        return _analyse_sso(evidence)


COMMAND = AdCommand()


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


def _collect_dcs(args: argparse.Namespace, ctx: RunContext) -> DcsEvidence:
    import time

    from aadc_doctor.ad.dc_survey import survey
    from aadc_doctor.ad.discovery import discover

    dcs = [d.strip() for d in args.dc if d.strip()]
    domain = _domain(args, ctx, needed=not dcs)
    discovery = None
    addresses: dict[str, list[str]] = {}
    if not dcs:
        discovery = discover(domain, site=args.site, nameserver=_nameserver(args), timeout=args.timeout)
        dcs = discovery.dc_hosts()
        addresses = discovery.addresses
    start = time.monotonic()
    surveys = survey(dcs, domain=domain, timeout=args.timeout, ca_file=args.ca_file, known_addresses=addresses)
    return DcsEvidence(domain, args.site, discovery, tuple(surveys), round((time.monotonic() - start) * 1000, 1))


def _analyse_dcs(evidence: DcsEvidence) -> Analysis[AdResults]:
    from aadc_doctor.ad.dc_findings import dc_findings, discovery_findings, summary_finding

    findings: list[Finding] = []
    if evidence.discovery is not None:
        findings += discovery_findings(evidence.discovery, evidence.site)
    for dc in evidence.surveys:
        findings += dc_findings(dc, evidence.domain)
    summary = summary_finding(list(evidence.surveys))
    if summary is not None:
        findings.append(summary)
    return Analysis(AdDcsResults(evidence.domain or None, evidence.discovery, evidence.surveys, evidence.wall_ms),
                    findings)


def _secret(ctx: RunContext, var: str | None, what: str, prompt: str) -> str | None:
    """The password rule of options.secret_from; an empty one would be an anonymous bind in LDAP, so it is refused
    there too."""
    return secret_from(ctx.env, ctx.ask_password, var, what, prompt)


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


def _collect_logon(args: argparse.Namespace, ctx: RunContext) -> LogonEvidence:
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
    return LogonEvidence(tuple(findings), results)


def _collect_sso(args: argparse.Namespace, ctx: RunContext) -> SsoEvidence:
    tickets = None
    if args.events:
        from aadc_doctor.ad.sso_tickets import read_ticket_events

        tally, files = read_ticket_events([Path(p) for p in args.events])
        tickets = (tally, tuple(files))
    if args.events and not (args.dc or args.domain):
        return SsoEvidence(tickets)
    domain = _domain(args, ctx, needed=not args.dc)
    dc, tls_name = (args.dc, args.tls_name) if args.dc else _first_dc(domain, args)
    domain, account = _read_sso(args, ctx, dc, domain, args.tls_name or tls_name)
    return SsoEvidence(tickets, dc, domain, account)


def _analyse_sso(evidence: SsoEvidence) -> Analysis[AdResults]:
    findings: list[Finding] = []
    tickets = None
    if evidence.tickets is not None:
        from aadc_doctor.ad.sso_tickets import ticket_findings

        tally, files = evidence.tickets
        tickets = tally.summary(files)
        findings += ticket_findings(tally)
    if evidence.domain is not None:
        from aadc_doctor.ad.sso_account import sso_findings

        findings += sso_findings(evidence.domain, evidence.account)
    return Analysis(AdSsoResults(evidence.domain, evidence.dc, evidence.account, tickets), findings)


def _read_sso(args: argparse.Namespace, ctx: RunContext, dc: str, domain: str,
              tls_name: str | None) -> tuple[str, SsoAccount | None]:
    """The domain (from the DC when not given) and the AZUREADSSOACC account, None when it does not exist."""
    from aadc_doctor.ad.directory import close, first_text, open_and_bind, search_one
    from aadc_doctor.ad.sso_account import describe, read_sso_account
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
        entry = read_sso_account(outcome.connection, base)
        return domain, describe(entry) if entry is not None else None
    finally:
        close(outcome.connection)
