"""Real-component test infrastructure: Squid, dnsmasq, TLS/HTTP origins, stalled and closed ports, lab PKI.

Everything listens on loopback. The pytest fixtures wrapping these live in tests/integration/conftest.py.
"""

from __future__ import annotations

from .certs import (
    MICROSOFT_CRL_PATH,
    build_crl,
    issue_server_cert,
    make_ca,
    write_ca_bundle,
    write_ca_pem,
    write_server_pem,
)
from .dnsmasq import DEFAULT_CNAMES, NXDOMAIN_HOST, DnsConfig, Dnsmasq
from .hosts import ALLOWED_TEST_HOST, DEFAULT_ALLOWED_DOMAINS, DENIED_TEST_HOST, LAB_HOSTS, MICROSOFT_HOSTS
from .nsd import Nsd
from .ports import (
    CannedProxy,
    CannedResponse,
    ClosedPort,
    StalledProxy,
    closed_port,
    free_port,
    spare_loopback_address,
)
from .squid import SquidConfig, SquidProxy
from .tls_servers import HttpOrigin, Route, SeenRequest, TlsOrigin, crl_route, ocsp_route
from .tools import INSTALL_HINT, ComponentMissing

__all__ = [
    "ALLOWED_TEST_HOST",
    "DEFAULT_ALLOWED_DOMAINS",
    "DEFAULT_CNAMES",
    "DENIED_TEST_HOST",
    "INSTALL_HINT",
    "LAB_HOSTS",
    "MICROSOFT_CRL_PATH",
    "MICROSOFT_HOSTS",
    "NXDOMAIN_HOST",
    "CannedProxy",
    "CannedResponse",
    "ClosedPort",
    "ComponentMissing",
    "DnsConfig",
    "Dnsmasq",
    "HttpOrigin",
    "Nsd",
    "Route",
    "SeenRequest",
    "SquidConfig",
    "SquidProxy",
    "StalledProxy",
    "TlsOrigin",
    "build_crl",
    "closed_port",
    "crl_route",
    "free_port",
    "issue_server_cert",
    "make_ca",
    "ocsp_route",
    "spare_loopback_address",
    "write_ca_bundle",
    "write_ca_pem",
    "write_server_pem",
]
