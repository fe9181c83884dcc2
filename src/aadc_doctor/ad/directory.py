"""Talking to a DC over LDAP with ldap3: one way to open a connection (LDAPS, StartTLS or plain) and to read
what a failure means, for `ad logon`, `ad sso` and the survey. Never raises for network trouble.

The password goes to ldap3 only; every text that leaves this module went through `secrets.scrub`.
"""

from __future__ import annotations

import math
import re
import ssl
from dataclasses import dataclass
from typing import Any

from aadc_doctor.secrets import scrub

TRANSPORT_PORTS = {"ldaps": 636, "starttls": 389, "ldap": 389}
_DATA_CODE = re.compile(r"\bdata ([0-9a-fA-F]{1,8})\b")


@dataclass(frozen=True)
class TlsOptions:
    ca_file: str | None = None
    insecure: bool = False  # lab only: no certificate verification


@dataclass(frozen=True)
class LinkFailure:
    """Why no LDAP conversation happened: "refused", "timeout", "unreachable", "tls_untrusted", "tls_reset",
    "tls_failed", "not_ldap"."""

    kind: str
    message: str


@dataclass
class BindOutcome:
    connection: Any | None  # an open ldap3 Connection (bound or anonymous) when the conversation happened
    failure: LinkFailure | None = None
    result: int | None = None  # LDAP resultCode of the bind
    description: str = ""
    message: str = ""

    @property
    def data_code(self) -> str | None:
        """The AcceptSecurityContext `data` code AD puts in the diagnostic message (52e, 775...)."""
        match = _DATA_CODE.search(self.message)
        return match.group(1).lower() if match else None


def data_code_of(message: str) -> str | None:
    match = _DATA_CODE.search(message)
    return match.group(1).lower() if match else None


def classify(exc: BaseException) -> LinkFailure:
    """An ldap3 or socket exception as one of the failure kinds, with a text free of secrets."""
    text = scrub(str(exc)) or type(exc).__name__
    low = text.lower()
    if "certificate verify failed" in low or "certificate_verify_failed" in low or "doesn't match" in low:
        return LinkFailure("tls_untrusted", text)
    if "timed out" in low or "timeout" in low:
        return LinkFailure("timeout", text)
    if "refused" in low:
        return LinkFailure("refused", text)
    if "reset by peer" in low or "eof occurred" in low or "unexpected eof" in low or "errno 104" in low:
        return LinkFailure("tls_reset", text)
    if "ssl" in low or "tls" in low or "handshake" in low:
        return LinkFailure("tls_failed", text)
    if "unreachable" in low or "no route" in low:
        return LinkFailure("unreachable", text)
    return LinkFailure("not_ldap", text)


def _server(address: str, transport: str, timeout: float, tls: TlsOptions, port: int | None = None,
            tls_name: str | None = None) -> Any:
    import ldap3

    # ldap3 builds the context from this machine's roots, or only --ca-file when given, and then checks the
    # certificate's names against the address and tls_name itself. A version, not None: with None it would use
    # ssl.create_default_context, which on Python 3.13 (the Windows zip) adds VERIFY_X509_STRICT and rejects a CA
    # without an Authority Key Identifier (Samba's own, many private CAs) that Windows' LDAP client accepts.
    tls_config = ldap3.Tls(validate=ssl.CERT_NONE if tls.insecure else ssl.CERT_REQUIRED,
                           ca_certs_file=tls.ca_file, valid_names=[tls_name] if tls_name else None,
                           version=ssl.PROTOCOL_TLS_CLIENT)
    return ldap3.Server(address, port=port or TRANSPORT_PORTS[transport], use_ssl=transport == "ldaps",
                        tls=tls_config, get_info=ldap3.NONE, connect_timeout=timeout)


def open_and_bind(address: str, transport: str, timeout: float, tls: TlsOptions, *, user: str | None = None,
                  password: str | None = None, port: int | None = None, tls_name: str | None = None) -> BindOutcome:
    """Open a connection (TLS first when asked), then a simple bind as `user`, or none (anonymous)."""
    import ldap3
    from ldap3.core.exceptions import LDAPException

    server = _server(address, transport, timeout, tls, port, tls_name)
    # receive_timeout: ldap3 packs it into SO_RCVTIMEO as an int
    conn = ldap3.Connection(server, user=user, password=password,
                            authentication=ldap3.SIMPLE if user else ldap3.ANONYMOUS,
                            receive_timeout=math.ceil(timeout), raise_exceptions=False, read_only=True,
                            auto_referrals=False)
    try:
        conn.open()
        if transport == "starttls" and not conn.start_tls():
            failure = LinkFailure("tls_failed", scrub(f"StartTLS refused: {conn.result}"))
            _close(conn)
            return BindOutcome(None, failure)
        if user is None:
            return BindOutcome(conn, result=0, description="anonymous")
        conn.bind()
    except (LDAPException, OSError, ssl.SSLError) as exc:
        _close(conn)
        return BindOutcome(None, classify(exc))
    result = conn.result or {}
    return BindOutcome(conn, result=result.get("result"), description=str(result.get("description", "")),
                       message=scrub(str(result.get("message", ""))))


def _close(conn: Any) -> None:
    from contextlib import suppress

    with suppress(Exception):  # closing a half-open ldap3 connection can raise anything; nothing to report
        conn.unbind()


def close(conn: Any | None) -> None:
    if conn is not None:
        _close(conn)


def search_one(conn: Any, base: str, filter_text: str, attributes: list[str], *, scope: str = "SUBTREE"
               ) -> dict[str, Any] | None:
    """The attributes of the first entry found (raw lists of values), or None."""
    import ldap3
    from ldap3.core.exceptions import LDAPException

    try:
        ok = conn.search(base, filter_text, search_scope=getattr(ldap3, scope), attributes=attributes,
                         size_limit=2)
    except (LDAPException, OSError):
        return None
    if not ok:
        return None
    for entry in conn.response or ():
        if entry.get("type") == "searchResEntry":
            data = dict(entry.get("raw_attributes", {}))
            data["dn"] = entry.get("dn", "")
            return data
    return None


def first_text(values: Any) -> str | None:
    if not values:
        return None
    value = values[0] if isinstance(values, list) else values
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def first_int(values: Any) -> int | None:
    text = first_text(values)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
