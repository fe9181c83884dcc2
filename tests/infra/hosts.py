"""Host names the lab impersonates on 127.0.0.1: the real Microsoft endpoints plus two neutral test names.

The concrete `bba800-anchor` / `bwsc02-relay` names stand for the articles' wildcard log entries
(`*bba800-anchor*.microsoftonline.com`), which are region-specific in real life.
"""

from __future__ import annotations

import os
from pathlib import Path

from .tools import INSTALL_HINT, ComponentMissing

MICROSOFT_HOSTS: tuple[str, ...] = (
    "login.microsoftonline.com",
    "login.windows.net",
    "adminwebservice.microsoftonline.com",
    "provisioningapi.microsoftonline.com",
    "bba800-anchor.microsoftonline.com",
    "bba900-anchor.microsoftonline.com",
    "bwsc02-relay.microsoftonline.com",
    "secure.aadcdn.microsoftonline-p.com",
    "aadcdn.msauth.net",
    "aadcdn.msftauth.net",
    "graph.windows.net",
    "enterpriseregistration.windows.net",
    "management.azure.com",
    "policykeyservice.dc.ad.msft.net",
    "autologon.microsoftazuread-sso.com",
    "contoso.registration.msappproxy.net",
    "contoso.pta.bootstrap.his.msappproxy.net",
    "hisconnectorregistrationca.msappproxy.net",
    "autoupdate.msappproxy.net",
    "contoso.servicebus.windows.net",
    "crl.microsoft.com",
    "mscrl.microsoft.com",
    "oneocsp.microsoft.com",
    "ocsp.msocsp.com",
    "ocsp.digicert.com",
    "crl3.digicert.com",
    "crl4.digicert.com",
    "ctldl.windowsupdate.com",
    "www.microsoft.com",
    "dc.services.visualstudio.com",
)

ALLOWED_TEST_HOST = "allowed.example.com"
DENIED_TEST_HOST = "denied.example.com"

# Everything the lab maps to 127.0.0.1 (squid hosts_file, dnsmasq A records, TLS certificate names).
LAB_HOSTS: tuple[str, ...] = (*MICROSOFT_HOSTS, ALLOWED_TEST_HOST, DENIED_TEST_HOST)

# The default squid allow-list: Microsoft domains the articles tell admins to open, and the neutral allowed host.
# DENIED_TEST_HOST (and anything else) is outside it, so CONNECT to it gets 403.
DEFAULT_ALLOWED_DOMAINS: tuple[str, ...] = (
    ".microsoftonline.com",
    ".microsoftonline-p.com",
    ".windows.net",
    ".msappproxy.net",
    ".msauth.net",
    ".msftauth.net",
    ".microsoft.com",
    ".msocsp.com",
    ".digicert.com",
    ".windowsupdate.com",
    ".azure.com",
    ".msft.net",
    ".microsoftazuread-sso.com",
    ".visualstudio.com",
    ALLOWED_TEST_HOST,
)


NSS_WRAPPER_PATHS = ("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so", "/usr/lib/aarch64-linux-gnu/libnss_wrapper.so",
                     "/usr/lib64/libnss_wrapper.so", "/usr/lib/libnss_wrapper.so")


def find_nss_wrapper() -> str:
    for path in NSS_WRAPPER_PATHS:
        if Path(path).is_file():
            return path
    raise ComponentMissing(f"libnss_wrapper.so (Debian package libnss-wrapper) is not installed; {INSTALL_HINT}")


def private_hosts_env(hosts_file: Path) -> dict[str, str]:
    """Environment that makes a child resolve names from `hosts_file` only (nss_wrapper), nothing global."""
    env = dict(os.environ)
    env.update({"LD_PRELOAD": find_nss_wrapper(), "NSS_WRAPPER_HOSTS": str(hosts_file)})
    return env
