"""Options shared by several commands, declared once and turned into settings once: the global options every
command takes, and the proxy, sign-in and connection options of `check`, `account` and `ad`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aadc_doctor.errors import UsageError
from aadc_doctor.model import Severity

if TYPE_CHECKING:
    from aadc_doctor.proxyconfig.model import ProxyConfig


def add_global_options(parser: argparse.ArgumentParser, *, suppress_defaults: bool) -> None:
    """The options every command takes, accepted before or after the command name."""
    default = argparse.SUPPRESS if suppress_defaults else None
    group = parser.add_argument_group("global options")
    group.add_argument("--json", action="store_true", default=argparse.SUPPRESS if suppress_defaults else False,
                       help="print the machine-readable report (schema_version 1) on stdout")
    group.add_argument("--output", metavar="FILE", default=default,
                       help="also write the report to FILE: FILE.json the machine-readable report, FILE.html a "
                            "self-contained page to read offline, print or send")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS if suppress_defaults else False,
                       help="show tracebacks for internal errors")
    group.add_argument("--fail-on", choices=[s.value for s in Severity], default=default,
                       help="exit 1 when a finding at or above this severity exists (default: error)")


# -- the network options of check, account and ad: declared once, turned into settings once ------------------

EMPTY_HINTS = {"proxy": "for no proxy at all use --direct", "proxy_user": "leave --proxy-user out for no sign-in"}
# every option whose empty value must be refused rather than read as "not given" (`--proxy "$PROXY"` with PROXY
# unset would otherwise fall back to another proxy source, or to none)
NON_EMPTY_OPTIONS = ("proxy", "pac", "machine_config", "ca_file", "lab_microsoft_root", "dns_server", "proxy_user",
                     "proxy_password_env", "password_env", "reader_password_env")


def add_proxy_options(parser: argparse.ArgumentParser, *, title: str, exclusive: bool) -> argparse._ArgumentGroup:
    """Where the proxy comes from (the first that applies) and how to sign in to it.

    `exclusive`: the sources are alternatives (account) rather than an order of precedence (check).
    """
    group = parser.add_argument_group(title)
    source: argparse._ActionsContainer = group.add_mutually_exclusive_group() if exclusive else group
    source.add_argument("--proxy", metavar="URL",
                        help="use this proxy, e.g. http://proxy:8080 (proxy:8080 alone means http://; https:// "
                             "means TLS to the proxy itself, which most proxies do not speak)")
    source.add_argument("--direct", action="store_true", help="use no proxy")
    source.add_argument("--pac", metavar="FILE_OR_URL", help="use the proxy a PAC script chooses for each URL")
    source.add_argument("--machine-config", metavar="PATH",
                        help="use <system.net><defaultProxy> of this machine.config (read by default on Windows)")
    group.add_argument("--proxy-user", metavar="USER", help="proxy user (DOMAIN\\user for NTLM); on Windows NTLM and "
                       "Negotiate without a user sign in as the current user")
    group.add_argument("--proxy-password-env", metavar="VAR",
                       help="read the proxy password from this environment variable (else it is asked for on a "
                            "terminal)")
    return group


def add_connection_options(parser: argparse.ArgumentParser, *, timeout: float, max_timeout: float,
                           timeout_help: str) -> argparse._ArgumentGroup:
    """--timeout, --resolve, --connect-to and --ca-file, as curl has them; the group, for a command's extras."""
    net = parser.add_argument_group("network")
    net.add_argument("--timeout", type=float, default=timeout, metavar="SECONDS",
                     help=f"{timeout_help} (default {timeout:g}, at most {max_timeout:g})")
    net.add_argument("--resolve", action="append", default=[], metavar="HOST:PORT:ADDRESS",
                     help="use ADDRESS for HOST:PORT instead of DNS (repeatable, as in curl); through a proxy it "
                          "applies to the proxy's own name, since the proxy resolves the endpoints")
    net.add_argument("--connect-to", action="append", default=[], metavar="HOST:PORT:HOST2:PORT2",
                     help="for HOST:PORT connect to HOST2:PORT2 instead (repeatable, as in curl; the first that "
                          "matches wins). The real name stays in SNI, certificate verification and Host. Through a "
                          "proxy, CONNECT goes to HOST2:PORT2 (http:// URLs are then tunnelled too, as curl does)")
    net.add_argument("--ca-file", metavar="PEM",
                     help="extra trusted root certificates (PEM). This only adds trust: a CA in it never counts as "
                          "one of Microsoft's roots, so an inspecting proxy's CA given here is still reported")
    return net


def reject_empty_values(args: argparse.Namespace) -> None:
    """An option given with an empty value is a usage error, never "not given"."""
    for name in NON_EMPTY_OPTIONS:
        value = getattr(args, name, None)
        if isinstance(value, str) and not value.strip():
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option}: the value is empty", hint=EMPTY_HINTS.get(name))


def check_timeout(value: float, maximum: float, option: str = "--timeout") -> float:
    if not 0 < value <= maximum:  # also NaN and infinity, which float() accepts
        raise UsageError(f"{option} {value:g}: expected seconds, more than 0 and at most {maximum:g}")
    return float(value)


def select_proxy_of(args: argparse.Namespace, env: Mapping[str, str]) -> ProxyConfig:
    """The effective proxy the options (or, failing them, the machine and the environment) give."""
    from aadc_doctor.proxyconfig.select import select_proxy

    reject_empty_values(args)
    return select_proxy(proxy=args.proxy, direct=bool(args.direct), pac=args.pac,
                        machine_config=args.machine_config, env=env)


@dataclass(frozen=True)
class ProxyCredentials:
    user: str | None
    password: str | None = field(default=None, repr=False)


def proxy_credentials(args: argparse.Namespace, env: Mapping[str, str], ask: PasswordPrompt,
                      proxy_url: str | None) -> ProxyCredentials:
    """The one password rule: --proxy-user with the password from --proxy-password-env (set and not empty), else
    asked for on a terminal, else a usage error; without --proxy-user, the user:password of the proxy URL."""
    from urllib.parse import unquote, urlsplit

    from aadc_doctor.secrets import register_secret

    reject_empty_values(args)
    user: str | None = args.proxy_user
    password: str | None = None
    if args.proxy_password_env and not user:
        raise UsageError("--proxy-password-env needs --proxy-user")
    if user:
        password = secret_from(env, ask, args.proxy_password_env, "--proxy-password-env",
                               f"Proxy password for {user}: ", user=user)
        if password is None:
            raise UsageError(f"--proxy-user {user}: no password given and no terminal to ask for one",
                             hint="put the password in an environment variable and pass --proxy-password-env VAR")
    elif proxy_url:
        parts = urlsplit(proxy_url)
        if parts.username:
            user = unquote(parts.username)
            password = unquote(parts.password) if parts.password is not None else None
    register_secret(password, user=user)
    return ProxyCredentials(user, password)


def secret_from(env: Mapping[str, str], ask: PasswordPrompt, var: str | None, option: str, prompt: str, *,
                user: str | None = None) -> str | None:
    """A password from environment variable `var` (it must be set and not empty), else from the terminal; None
    when there is no terminal to ask on. Registered as a secret, so no output ever shows it."""
    from aadc_doctor.secrets import register_secret

    if var:
        value = env.get(var)
        if value is None:
            raise UsageError(f"{option} {var}: that variable is not set")
        if not value:
            raise UsageError(f"{option} {var}: that variable is empty")
    else:
        value = ask(prompt)
        if value is None:
            return None
        if not value:
            raise UsageError("no password entered")
    register_secret(value, user=user)
    return value


PasswordPrompt = Callable[[str], "str | None"]


def ask_on_terminal(prompt: str) -> str | None:
    """The password typed on the terminal (not echoed); None when standard input is not a terminal."""
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        return None
    import getpass

    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise UsageError("no password entered") from None
