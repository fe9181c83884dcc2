"""`collect --redact`: UPNs, user, host and domain names and IP addresses replaced by stable pseudonyms.

Two passes over the gathered files: ``learn`` finds the names (the server's own identity, UPNs, the account and
machine fields of event records, service accounts, proxy hosts), then ``apply`` replaces every occurrence in every
file with the same pseudonym, so a user seen in a trace and in a Security event is still one user. The mapping is
returned to the caller, which keeps it out of the zip.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

UPN = re.compile(r"(?<![\w.+-])(?P<user>[A-Za-z0-9][\w.+'-]{0,63})@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
EVENT_FIELD = re.compile(r'<Data Name="(?P<name>[A-Za-z]+)">(?P<value>[^<]{1,256})</Data>')
COMPUTER = re.compile(r"<Computer>(?P<value>[^<]{1,256})</Computer>")
ACCOUNT = re.compile(r"(?P<domain>[A-Za-z0-9][\w.-]{0,62})\\(?P<user>[\w.$ -]{1,64})")
PROXY_HOST = re.compile(r"(?:proxyaddress\s*=\s*\"(?:https?://)?|Proxy Server\(s\)\s*:\s*(?:[a-z]+=)?|https?://)"
                        r"(?:[^@\s\"/]*@)?"
                        r"(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*)", re.IGNORECASE)
USER_FIELDS = {"targetusername", "subjectusername", "username", "accountname", "targetoutboundusername"}
HOST_FIELDS = {"workstationname", "workstation", "targetservername", "computername", "clientname"}
DOMAIN_FIELDS = {"targetdomainname", "subjectdomainname", "accountdomain", "targetoutbounddomainname"}
KEEP = {"", "-", "system", "local service", "network service", "nt authority", "anonymous logon", "localhost",
        "nt service", "builtin", "localsystem", "font driver host", "window manager", "n/a", "null", "workgroup",
        # built-in, well-known account names: not personal, and "Admin" is also the last word of every Admin channel
        "admin", "administrator", "administrators", "guest", "defaultaccount", "krbtgt", "virtual users", "users",
        "domain users", "domain admins", "everyone", "iusr", "dwm-1", "umfd-0", "umfd-1"}
VERSION_BEFORE = re.compile(r"version\W{0,3}$|v$", re.IGNORECASE)
MICROSOFT_SUFFIXES = (".microsoft.com", ".microsoftonline.com", ".windows.net", ".msappproxy.net", ".azure.com",
                      ".microsoftonline-p.com", ".msftauth.net", ".msauth.net", ".digicert.com", ".verisign.com",
                      ".entrust.net", ".d-trust.net", ".msocsp.com", ".microsoftazuread-sso.com", ".live.com",
                      ".office.com", ".office365.com", ".visualstudio.com", ".windowsupdate.com", ".chinacloudapi.cn",
                      ".microsoftonline.us", ".microsoftonline.de", ".digicert.cn", ".nsatc.net", ".w3.org",
                      ".xmlsoap.org", ".example", ".invalid")


def _is_microsoft(name: str) -> bool:
    low = "." + name.lower().rstrip(".")
    return low.endswith(MICROSOFT_SUFFIXES)


def _keep_ip(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return True  # not an address at all (a version number with an octet over 255, a time...)
    return address.is_loopback or address.is_unspecified or address.is_multicast or str(address) == "255.255.255.255"


@dataclass
class Redactor:
    """Learns names, then replaces them; ``mapping`` (original → pseudonym) never goes into the zip."""

    mapping: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    domains: set[str] = field(default_factory=set)  # DNS domains learned (the server's, UPN suffixes, FQDNs)
    _pattern: re.Pattern[str] | None = None

    def _pseudonym(self, kind: str, original: str) -> str:
        key = original.lower()
        if key in self.mapping:
            return self.mapping[key]
        n = self.counters[kind] = self.counters.get(kind, 0) + 1
        value = {"user": f"user{n}", "host": f"host{n}", "domain": f"domain{n}.example", "netbios": f"DOMAIN{n}",
                 "ip": _test_net(n), "ip6": f"2001:db8::{n:x}"}[kind]
        self.mapping[key] = value
        self._pattern = None
        return value

    def add(self, kind: str, name: str) -> None:
        name = name.strip().rstrip("$")
        if name.lower() in KEEP or len(name) < 2 or _is_microsoft(name) or name.lower() in self.mapping:
            return
        if kind == "host" and "." in name:  # an FQDN: its host part and its domain, each with their own pseudonym
            host, _, domain = name.partition(".")
            self.add("domain", domain)
            self.add("host", host)
            self.mapping[name.lower()] = f"{self.mapping.get(host.lower(), host)}.{self.mapping.get(domain.lower())}"
            self._pattern = None
            return
        if kind == "domain":
            self.domains.add(name.lower())
        self._pseudonym(kind, name)

    def learn_hosts(self, text: str) -> None:
        """Host names in a learned domain (``AADC02.contoso.local`` once ``contoso.local`` is known), wherever they
        appear: a trace names other servers and DCs in free text. Call it after ``learn`` has seen every file."""
        if not self.domains:
            return
        domains = "|".join(re.escape(d) for d in sorted(self.domains, key=len, reverse=True))
        pattern = re.compile(r"(?<![\w.-])[A-Za-z0-9][A-Za-z0-9-]{0,62}\.(?:" + domains + r")(?![\w-])", re.IGNORECASE)
        for match in pattern.finditer(text):
            self.add("host", match.group(0))

    def learn(self, text: str) -> None:
        for match in UPN.finditer(text):
            domain = match.group("domain")
            if not _is_microsoft(domain) and not domain.lower().endswith((".exe", ".dll", ".config")):
                self.add("domain", domain)
                self.add("user", match.group("user"))
        for match in EVENT_FIELD.finditer(text):
            name, value = match.group("name").lower(), match.group("value")
            if name in USER_FIELDS:
                self.add("user", value)
            elif name in HOST_FIELDS:
                self.add("host", value.lstrip("\\"))
            elif name in DOMAIN_FIELDS:
                self.add("domain" if "." in value else "netbios", value)
        for match in COMPUTER.finditer(text):
            self.add("host", match.group("value"))
        for match in PROXY_HOST.finditer(text):
            host = match.group("host").rstrip(".")
            if not _is_ip_like(host):
                self.add("host", host)

    def learn_identity(self, names: dict[str, str]) -> None:
        kinds = {"user": "user", "computer": "host", "domain": "netbios", "dns_domain": "domain"}
        for kind, value in names.items():
            self.add(kinds.get(kind, "host"), value)

    def learn_accounts(self, text: str) -> None:
        """``DOMAIN\\user`` as services and event records write it (only in the fields that hold accounts)."""
        for match in ACCOUNT.finditer(text.replace("\\\\", "\\")):  # JSON doubles the backslash
            self.add("netbios", match.group("domain"))
            self.add("user", match.group("user"))

    def apply(self, text: str) -> str:
        text = UPN.sub(self._upn, text)
        text = IPV4.sub(self._ipv4, text)
        text = IPV6.sub(self._ipv6, text)
        pattern = self._names_pattern()
        if pattern is not None:
            text = pattern.sub(lambda m: self.mapping[m.group(0).lower()], text)
        return text

    def _names_pattern(self) -> re.Pattern[str] | None:
        if self._pattern is None:
            names = sorted((k for k in self.mapping if not _is_ip_like(k)), key=len, reverse=True)
            if not names:
                return None
            self._pattern = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w-])",
                                       re.IGNORECASE)
        return self._pattern

    def _upn(self, match: re.Match[str]) -> str:
        domain = match.group("domain")
        if _is_microsoft(domain) or domain.lower().endswith((".exe", ".dll", ".config")):
            return match.group(0)
        self.add("domain", domain)
        self.add("user", match.group("user"))
        return f"{self.mapping.get(match.group('user').lower(), 'user')}@{self.mapping[domain.lower()]}"

    def _ipv4(self, match: re.Match[str]) -> str:
        text = match.group(0)
        before = match.string[max(0, match.start() - 12):match.start()]
        if _keep_ip(text) or VERSION_BEFORE.search(before):
            return text
        return self._pseudonym("ip", text)

    def _ipv6(self, match: re.Match[str]) -> str:
        text = match.group(0)
        if text.count(":") < 2 or ("::" not in text and text.count(":") < 7) or _keep_ip(text):
            return text
        return self._pseudonym("ip6", text)


def _is_ip_like(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _test_net(n: int) -> str:
    """Documentation addresses (RFC 5737): 192.0.2.x, then 198.51.100.x, then 203.0.113.x."""
    nets = ("192.0.2", "198.51.100", "203.0.113")
    block, host = divmod(n - 1, 254)
    return f"{nets[block % 3]}.{host + 1}"
