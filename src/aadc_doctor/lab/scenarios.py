"""The demo's scenarios: each sets the lab up like one situation of the articles and says what `check` must find.

The registry is an explicit dict (`SCENARIOS`); a scenario is data plus one function that configures the lab
and returns the `check` command line to run against it. `judge` compares a check report with the expectation,
so the demo (and CI) can tell a right diagnosis from a wrong one.
"""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aadc_doctor.lab.lab import Lab
from aadc_doctor.lab.proxy import ProxyPolicy
from aadc_doctor.secrets import register_secret

PROXY_HOSTNAME = "fabrikamproxy"
PROXY_USER = "svc-aadsync"
PASSWORD_ENV = "AADC_DOCTOR_LAB_PROXY_PASSWORD"
DENIED_HOST = "secure.aadcdn.microsoftonline-p.com"
PROBE_TIMEOUT = "5"
S1 = "Troubleshoot connectivity issues with Azure AD Connect"
PREREQS = "Azure AD Connect: Prerequisites (current documentation)"


@dataclass(frozen=True)
class Expected:
    """What a correct diagnosis looks like: outcomes per host or per endpoint kind, and required finding ids."""

    hosts: Mapping[str, str] = field(default_factory=dict)  # host -> outcome of every endpoint on it
    kinds: Mapping[str, str] = field(default_factory=dict)  # "https"/"crl"/"ocsp" -> outcome (after hosts)
    others: str = "ok"  # outcome of every remaining endpoint
    findings: tuple[str, ...] = ()  # finding ids that must be present
    no_errors: bool = False  # no finding of severity error may be present

    def outcome_for(self, host: str, kind: str) -> str:
        return self.hosts.get(host) or self.kinds.get(kind) or self.others

    def describe(self) -> str:
        parts = [f"{host}: {outcome}" for host, outcome in self.hosts.items()]
        parts += [f"{kind} endpoints: {outcome}" for kind, outcome in self.kinds.items()]
        parts.append(f"{'others' if parts else 'all'}: {self.others}")
        if self.findings:
            parts.append("findings " + ", ".join(self.findings))
        return "; ".join(parts)


@dataclass(frozen=True)
class CheckPlan:
    """The `check` command line for one scenario and the extra environment it needs (never a secret value
    on the command line: the password travels in an environment variable, as `--proxy-password-env` wants)."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    verify_lab: Callable[[Lab], list[str]] | None = None  # lab-side evidence the run must leave


@dataclass(frozen=True)
class AccountExpectation:
    """What `account` must report for one run of the tenant emulator's demo (matched by UPN and arguments)."""

    upn: str
    args: tuple[str, ...]
    exit_code: int
    findings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A `check` scenario (kind "check": `prepare` configures the lab) or the `account` runs against the tenant
    emulator (kind "account": `accounts` lists what each run must find)."""

    name: str
    title: str
    setup: str  # what the lab sets up, for the demo's header
    mirrors: str  # the article section the scenario reproduces
    expected: Expected = field(default_factory=Expected)
    prepare: Callable[[Lab], CheckPlan] | None = None
    kind: str = "check"
    accounts: tuple[AccountExpectation, ...] = ()


@dataclass(frozen=True)
class Verdict:
    passed: bool
    got: dict[str, Any]
    problems: tuple[str, ...]

    def describe(self) -> str:
        if "exit_code" in self.got:
            text = f"exit {self.got['exit_code']}"
            return text + ("; " + ", ".join(self.got["findings"]) if self.got["findings"] else "")
        outcomes: dict[str, int] = {}
        for outcome in self.got["outcomes"].values():
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        text = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        if self.got["findings"]:
            text += "; findings " + ", ".join(self.got["findings"])
        return text or "no endpoints"


def base_argv(lab: Lab) -> list[str]:
    """What every scenario passes: the sync profile, a short timeout and the lab root, declared as the lab's
    stand-in for Microsoft's roots (--lab-microsoft-root: a lab run takes the same code path as a real one)."""
    return ["check", "--profile", "sync", "--timeout", PROBE_TIMEOUT, "--lab-microsoft-root", str(lab.files.ca_file)]


def proxy_argv(port: int) -> list[str]:
    """The proxy by name, as machine.config names it, with the name pinned to the lab (no DNS query at all)."""
    return ["--proxy", f"http://{PROXY_HOSTNAME}:{port}", "--resolve", f"{PROXY_HOSTNAME}:{port}:127.0.0.1"]


def _proxied(lab: Lab, policy: ProxyPolicy, *extra: str) -> CheckPlan:
    proxy = lab.add_proxy(policy)
    return CheckPlan((*base_argv(lab), *proxy_argv(proxy.port), *extra))


def _healthy(lab: Lab) -> CheckPlan:
    return _proxied(lab, ProxyPolicy(hostname=PROXY_HOSTNAME))


def _url_not_opened(lab: Lab) -> CheckPlan:
    return _proxied(lab, ProxyPolicy(deny=(DENIED_HOST,), hostname=PROXY_HOSTNAME))


def _auth_proxy(lab: Lab) -> tuple[int, str]:
    """One Basic-authenticating proxy per lab, shared by the two authentication scenarios: (port, password)."""
    for proxy in lab.proxies:
        if proxy.policy.requires_auth and proxy.policy.basic_password:
            return proxy.port, proxy.policy.basic_password
    password = secrets.token_urlsafe(12)
    register_secret(password)
    proxy = lab.add_proxy(ProxyPolicy(basic_user=PROXY_USER, basic_password=password, hostname=PROXY_HOSTNAME))
    return proxy.port, password


def _auth_required(lab: Lab) -> CheckPlan:
    port, _ = _auth_proxy(lab)
    return CheckPlan((*base_argv(lab), *proxy_argv(port)))


def _auth_with_credentials(lab: Lab) -> CheckPlan:
    port, password = _auth_proxy(lab)
    return CheckPlan((*base_argv(lab), *proxy_argv(port), "--proxy-auth", "basic", "--proxy-user", PROXY_USER,
                      "--proxy-password-env", PASSWORD_ENV), env={PASSWORD_ENV: password})


def _direct_dns_used(lab: Lab) -> list[str]:
    if not lab.dns.queries:
        return ["the lab DNS server got no query: check did not resolve through --dns-server"]
    return []


def _direct(lab: Lab) -> CheckPlan:
    # Every name is resolved by the lab's DNS server (NXDOMAIN for internet names, as internal DNS behind a
    # proxy answers), so the direct calls fail before any packet could leave the machine.
    argv = (*base_argv(lab), "--direct", "--dns-server", lab.dns.address)
    return CheckPlan(argv, verify_lab=_direct_dns_used)


def _filtering_dns_used(lab: Lab) -> list[str]:
    if not lab.filtering_dns.queries:
        return ["the lab's filtering DNS server got no query: check did not resolve through --dns-server"]
    return []


def _dns_filtered(lab: Lab) -> CheckPlan:
    # The filtering DNS answers 127.0.0.1 for every Microsoft name, as a DNS filter's sinkhole does. No
    # --lab-dns-answer is passed: a real run and this one take the same path, and nothing connects to the sinkhole.
    argv = (*base_argv(lab), "--direct", "--dns-server", lab.filtering_dns.address)
    return CheckPlan(argv, verify_lab=_filtering_dns_used)


def _inspection(lab: Lab) -> CheckPlan:
    return _proxied(lab, ProxyPolicy(inspect_tls=True, hostname=PROXY_HOSTNAME))


def _trusted_inspection(lab: Lab) -> CheckPlan:
    # the inspection CA is trusted by this machine (--ca-file stands for the group policy that deploys it): the
    # chains verify, and are still not Microsoft's
    return _proxied(lab, ProxyPolicy(inspect_tls=True, hostname=PROXY_HOSTNAME), "--ca-file",
                    str(lab.files.inspecting_ca_file))


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario(
        name="healthy",
        title="Proxy configured and every required URL opened",
        setup=f"proxy '{PROXY_HOSTNAME}' allows every URL of the sync profile",
        mirrors=f"{S1} > Verify proxy connectivity: 'If the proxy is correctly configured, you should get a "
                "success status'",
        expected=Expected(no_errors=True),
        prepare=_healthy,
    ),
    Scenario(
        name="url-not-opened",
        title="One required URL not opened on the proxy",
        setup=f"proxy '{PROXY_HOSTNAME}' denies {DENIED_HOST} (Squid ACL, 403 ERR_ACCESS_DENIED)",
        mirrors=f"{S1} > 403 Forbidden: 'The proxy has not been opened for the requested URL'; "
                "The MFA endpoint cannot be reached",
        expected=Expected(hosts={DENIED_HOST: "proxy_forbidden"},
                          findings=("proxy-forbidden", "mfa-endpoint-unreachable")),
        prepare=_url_not_opened,
    ),
    Scenario(
        name="proxy-auth-required",
        title="Proxy requires authentication, none configured",
        setup=f"proxy '{PROXY_HOSTNAME}' requires Basic authentication; check sends no credentials",
        mirrors=f"{S1} > 407 Proxy Authentication Required: 'The proxy server required sign in and none was "
                "provided'",
        expected=Expected(others="proxy_auth_required", findings=("proxy-auth-required",)),
        prepare=_auth_required,
    ),
    Scenario(
        name="proxy-auth-credentials",
        title="Same proxy, with credentials",
        setup=f"the same proxy; check authenticates as {PROXY_USER} (--proxy-user, --proxy-password-env)",
        mirrors=f"{S1} > 407: 'If your proxy server requires authentication, make sure to have this configured'",
        expected=Expected(no_errors=True),
        prepare=_auth_with_credentials,
    ),
    Scenario(
        name="direct-no-proxy",
        title="No proxy configured: a direct call",
        setup="no proxy (machine.config without <defaultProxy>); internal DNS does not resolve internet names",
        mirrors=f"{S1} > Verify proxy connectivity: 'Unable to connect to the remote server' (a direct call "
                "without the proxy, or DNS not correctly configured)",
        expected=Expected(others="dns_failure", findings=("no-dns",)),
        prepare=_direct,
    ),
    Scenario(
        name="dns-filtered",
        title="A DNS filter sinkholes Microsoft's names",
        setup="no proxy; the internal DNS server answers 127.0.0.1 (a sinkhole) for every Microsoft name",
        mirrors=f"{S1} > Verify proxy connectivity: 'DNS is not correctly configured' (here a DNS filter: the fix "
                "is the DNS server's filter policy, not the proxy)",
        expected=Expected(others="dns_filtered", findings=("dns-filtered",)),
        prepare=_dns_filtered,
    ),
    Scenario(
        name="tls-inspection",
        title="Proxy inspects TLS (re-signs with its own CA)",
        setup=f"proxy '{PROXY_HOSTNAME}' terminates TLS with certificates from 'Fabrikam TLS Inspection CA'",
        mirrors=f"{PREREQS} > TLS inspection of the traffic between Azure AD Connect and Azure AD is not "
                "supported",
        expected=Expected(kinds={"https": "tls_intercepted"}, findings=("tls-intercepted",)),
        prepare=_inspection,
    ),
    Scenario(
        name="tls-inspection-trusted",
        title="Proxy inspects TLS with a CA this machine trusts",
        setup=f"proxy '{PROXY_HOSTNAME}' re-signs with 'Fabrikam TLS Inspection CA', which this machine trusts "
              "(--ca-file, as group policy deploys it)",
        mirrors=f"{PREREQS} > TLS inspection is not supported; PTA quick start: the agent's client certificate "
                "cannot pass an inspecting proxy",
        expected=Expected(kinds={"https": "tls_intercepted"}, findings=("tls-intercepted",)),
        prepare=_trusted_inspection,
    ),
)}


def _account_scenario() -> Scenario | None:
    """The `account` runs, when the tenant emulator (lab/tenant) is part of this build."""
    if importlib.util.find_spec("aadc_doctor.lab.tenant.demo") is None:
        return None
    return Scenario(
        name="account",
        title="The wizard's account checks against a tenant emulator",
        setup="a local Entra ID / Microsoft Graph emulator with healthy, unverified-domain, wrong-password, MFA, "
              "PIM-eligible and single-PTA-agent accounts",
        mirrors=f"{S1} > Authentication errors (Invalid Grant, Unknown User Type, PrivilegedIdentityManagement...)",
        kind="account",
        accounts=(
            AccountExpectation("admin@contoso.com", (), 0),
            AccountExpectation("admin@nothere.example", (), 1, ("unknown-user-type",)),
            AccountExpectation("admin@contoso.com", ("--password-env", "WRONG_PASSWORD"), 1, ("invalid-grant",)),
            AccountExpectation("mfa@contoso.com", ("--password-env", "AADC_DOCTOR_LAB_PASSWORD"), 1,
                               ("mfa-required",)),
            AccountExpectation("pim@contoso.com", (), 1, ("privileged-identity-management",)),
            AccountExpectation("admin@tailspintoys.com", ("--this-server", "AADC01"), 0, ("pta-last-active-agent",)),
        ),
    )


_account = _account_scenario()
if _account is not None:
    SCENARIOS[_account.name] = _account


def select(names: list[str] | None) -> list[Scenario]:
    """The scenarios to run, in registry order; ValueError naming the unknown ones."""
    if not names:
        return list(SCENARIOS.values())
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario(s): {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    wanted = set(names)
    return [s for s in SCENARIOS.values() if s.name in wanted]


def judge_account(expectation: AccountExpectation | None, exit_code: int, report: Mapping[str, Any] | None,
                  label: str) -> Verdict:
    """One `account` run: the exit code and the finding ids it must report (only completion when unlisted)."""
    finding_ids = sorted({f["id"] for f in (report or {}).get("findings", [])})
    problems: list[str] = []
    if report is None:
        problems.append(f"{label}: no report was written (exit code {exit_code})")
    if expectation is None:
        if exit_code not in (0, 1):
            problems.append(f"{label}: exit code {exit_code} (the run did not complete)")
    else:
        if exit_code != expectation.exit_code:
            problems.append(f"{label}: exit code {exit_code}, expected {expectation.exit_code}")
        problems += [f"{label}: finding {fid} missing" for fid in expectation.findings if fid not in finding_ids]
    return Verdict(not problems, {"exit_code": exit_code, "findings": finding_ids}, tuple(problems))


def judge(expected: Expected, report: Mapping[str, Any], lab_problems: list[str] | None = None) -> Verdict:
    """Compare a `check` JSON report (schema 1) with what the scenario expects."""
    endpoints = report.get("results", {}).get("endpoints", [])
    finding_ids = sorted({f["id"] for f in report.get("findings", [])})
    errors = [f["id"] for f in report.get("findings", []) if f.get("severity") == "error"]
    outcomes: dict[str, str] = {}
    problems: list[str] = list(lab_problems or [])
    if not endpoints:
        problems.append("check probed no endpoint")
    for ep in endpoints:
        label = f"{ep.get('host')}:{ep.get('port')}"
        got = str(ep.get("outcome"))
        outcomes[ep.get("url") or label] = got
        want = expected.outcome_for(str(ep.get("host")), str(ep.get("kind", "https")))
        if got != want:
            problems.append(f"{label}: expected {want}, got {got}")
    for host in expected.hosts:
        if not any(ep.get("host") == host for ep in endpoints):
            problems.append(f"{host}: not probed")
    for fid in expected.findings:
        if fid not in finding_ids:
            problems.append(f"finding {fid} missing")
    if expected.no_errors and errors:
        problems.append("unexpected error finding(s): " + ", ".join(sorted(set(errors))))
    got_summary = {"outcomes": outcomes, "findings": finding_ids}
    return Verdict(not problems, got_summary, tuple(problems))
