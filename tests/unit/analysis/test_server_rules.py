"""Entra Connect version deadlines and TLS rules, judged from registry exports as of an injected date."""

from __future__ import annotations

from datetime import date

import pytest

from aadc_doctor.analysis.server_rules import ServerEvidence, server_findings
from aadc_doctor.model import Severity
from aadc_doctor.serverfiles.registry_export import RegistryExport, format_export, parse_export

UNINSTALL = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
NET = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\.NETFramework\v4.0.30319"
NET32 = r"HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\.NETFramework\v4.0.30319"
SCH = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols"
STRONG = {"SchUseStrongCrypto": 1, "SystemDefaultTlsVersions": 1}
TLS12_ON = {SCH + r"\TLS 1.2\Client": {"Enabled": 1, "DisabledByDefault": 0},
            SCH + r"\TLS 1.2\Server": {"Enabled": 1, "DisabledByDefault": 0}}


def _evidence(version: str | None, keys: dict[str, dict[str, int | str]] | None = None,
              app_auth: bool | None = None) -> ServerEvidence:
    all_keys: dict[str, dict[str, int | str]] = dict(keys or {})
    if version is not None:
        all_keys[UNINSTALL + r"\{X}"] = {"DisplayName": "Microsoft Entra Connect Sync", "DisplayVersion": version}
    registry = parse_export(format_export(all_keys))  # through the text, as `analyze` reads it
    return ServerEvidence(registry=registry, app_auth=app_auth)


def _ids(evidence: ServerEvidence, today: date = date(2026, 12, 5)) -> dict[str, Severity]:
    findings, _ = server_findings(evidence, today)
    return {f.id: f.severity for f in findings}


@pytest.mark.parametrize(("version", "expected"), [
    ("2.5.78.9", {"connect-version-sync-stopped": Severity.ERROR, "connect-upgrade-by-2027-04-07": Severity.WARNING}),
    ("2.5.79.0", {"connect-upgrade-by-2027-04-07": Severity.WARNING}),
    ("2.6.83.99", {"connect-upgrade-by-2027-04-07": Severity.WARNING}),
    ("2.6.84.0", {"connect-app-auth-unverified": Severity.INFO}),
    ("2.10.1.0", {"connect-app-auth-unverified": Severity.INFO}),  # compared as numbers, not text
])
def test_version_deadlines(version: str, expected: dict[str, Severity]) -> None:
    keys = {NET: STRONG, NET32: STRONG, **TLS12_ON}
    assert _ids(_evidence(version, keys)) == expected


def test_deadlines_move_with_the_run_date() -> None:
    evidence = _evidence("2.5.0.0", {NET: STRONG, NET32: STRONG})
    assert _ids(evidence, date(2026, 9, 29))["connect-version-sync-stopped"] == Severity.WARNING
    assert _ids(evidence, date(2026, 9, 30))["connect-version-sync-stopped"] == Severity.ERROR
    findings, _ = server_findings(evidence, date(2027, 4, 1))
    late = next(f for f in findings if f.id == "connect-upgrade-by-2027-04-07")
    assert late.severity == Severity.WARNING and "(in 6 days)" in late.detail


def test_app_auth_known_absent_fails_the_second_deadline_even_on_a_new_version() -> None:
    ids = _ids(_evidence("2.6.84.0", {NET: STRONG, NET32: STRONG}, app_auth=False))
    assert ids == {"connect-upgrade-by-2027-04-07": Severity.WARNING}
    assert _ids(_evidence("2.6.84.0", {NET: STRONG, NET32: STRONG}, app_auth=True)) == {}


@pytest.mark.parametrize("version", ["2.3.20.0", "2.4.18.0", "2.4.129.0"])
def test_explicit_tls12_enforcement_for_2_3_20_to_2_4_129(version: str) -> None:
    findings, _ = server_findings(_evidence(version, {NET: STRONG, NET32: {"SchUseStrongCrypto": 1}}),
                                  date(2026, 12, 5))
    enforcement = next(f for f in findings if f.id == "tls12-enforcement-missing")
    assert enforcement.severity == Severity.ERROR
    assert "(WOW6432Node) SystemDefaultTlsVersions (not set)" in enforcement.detail
    assert r"TLS 1.2\Client Enabled=(not set)" in enforcement.detail
    ok = _ids(_evidence(version, {NET: STRONG, NET32: STRONG, **TLS12_ON}))
    assert "tls12-enforcement-missing" not in ok


def test_newer_versions_need_no_enforcement_but_strong_crypto_is_warned() -> None:
    assert "tls12-enforcement-missing" not in _ids(_evidence("2.4.131.0", {NET: STRONG, NET32: STRONG}))
    ids = _ids(_evidence("2.4.131.0", {NET: {}, NET32: STRONG}))
    assert ids["tls12-strong-crypto-missing"] == Severity.WARNING


def test_tls_keys_not_collected_are_not_judged() -> None:
    ids = _ids(_evidence("2.4.129.0", {}))
    assert "tls12-enforcement-missing" not in ids and "tls12-strong-crypto-missing" not in ids


def test_tls13_enforced_is_a_warning_and_tls12_disabled_an_error() -> None:
    enforced = {NET: STRONG, NET32: STRONG, SCH + r"\TLS 1.2\Client": {"Enabled": 0},
                SCH + r"\TLS 1.3\Client": {"Enabled": 1, "DisabledByDefault": 0}}
    ids = _ids(_evidence("2.5.79.0", enforced))
    assert ids["tls13-enforced"] == Severity.WARNING and "tls12-disabled" not in ids
    disabled = {NET: STRONG, NET32: STRONG, SCH + r"\TLS 1.2\Client": {"Enabled": 1, "DisabledByDefault": 1}}
    assert _ids(_evidence("2.5.79.0", disabled))["tls12-disabled"] == Severity.ERROR


def test_registry_export_round_trip_and_utf16() -> None:
    keys: dict[str, dict[str, int | str | list[str] | bytes]] = {
        NET: {"SchUseStrongCrypto": 1, "Path": 'C:\\x "y"', "Multi": ["a", "b"], "Bin": b"\x01\x02"}}
    text = format_export(keys, absent=(NET32,))
    export = parse_export(text)
    assert export.values("HKLM\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319") == {
        "schusestrongcrypto": 1, "path": 'C:\\x "y"', "multi": ["a", "b"], "bin": b"\x01\x02"}
    assert export.knows(NET32) and export.values(NET32) is None
    merged = RegistryExport()
    merged.merge(export)
    assert merged.value(NET, "SCHUSESTRONGCRYPTO") == 1


def test_a_file_that_is_no_export_is_refused() -> None:
    from aadc_doctor.errors import InputError

    with pytest.raises(InputError, match="not a 'reg export' file"):
        parse_export("hello")


def test_stopped_component_services_and_a_disabled_credential_manager() -> None:
    from aadc_doctor.analysis.server_rules import service_findings

    services = [
        {"name": "ADSync", "state": "RUNNING", "start_type": "AUTO_START", "account": r"CONTOSO\svc"},
        {"name": "AADConnectProvisioningAgent", "state": "STOPPED", "start_type": "AUTO_START", "account": "gmsa$"},
        {"name": "VaultSvc", "state": "STOPPED", "start_type": "DISABLED", "account": "LocalSystem"},
        {"name": "Spooler", "state": "STOPPED", "start_type": "DISABLED", "account": "LocalSystem"},
    ]
    findings = {f.id: f for f in service_findings(services)}
    assert set(findings) == {"service-stopped", "vaultsvc-disabled"}
    assert findings["service-stopped"].subject == "service AADConnectProvisioningAgent"
    assert findings["service-stopped"].remedy.startswith("Start-Service AADConnectProvisioningAgent")
    assert findings["vaultsvc-disabled"].severity == Severity.ERROR
    assert service_findings(services[:1] + services[2:]) == []  # no provisioning agent: VaultSvc is not ours to judge
