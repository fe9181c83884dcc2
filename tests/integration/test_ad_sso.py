"""`ad sso` against the real Samba DC's AZUREADSSOACC (RC4 only, key from 2026-01-01), and 4769 events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import CORPUS, REPO_ROOT, CliRun
from tests.infra.samba import SambaDC

ADMIN_VAR = "AADC_TEST_AD_ADMIN"
EVENTS_XML = REPO_ROOT / "tests" / "fixtures" / "ad" / "dc_security_4769.xml"


def test_rc4_only_and_old_key(run_cli: Callable[..., CliRun], samba_dc: SambaDC) -> None:
    run = run_cli("ad", "sso", "--dc", samba_dc.address, "--reader", samba_dc.admin_upn, "--reader-password-env",
                  ADMIN_VAR, "--ca-file", str(samba_dc.ca_file), "--tls-name", "dc1.contoso.test", "--json",
                  env={ADMIN_VAR: samba_dc.admin_password})
    assert run.code == 1, run.stderr
    assert [f["id"] for f in run.json()["findings"]] == ["ad-sso-rc4-only", "ad-sso-key-old"]
    account = run.json()["results"]["account"]
    assert account["supported_encryption_types"] == 4 and account["encryption_types"] == ["RC4-HMAC"]
    assert account["key_last_set"].startswith("2026-01-01T00:00:0")
    assert account["enabled"] is True
    assert account["spns"] == ["HTTP/aadg.windows.net.nsatc.net", "HTTP/autologon.microsoftazuread-sso.com"]
    assert run.json()["results"]["domain"] == "contoso.test"


def test_reader_refused_is_one_line(run_cli: Callable[..., CliRun], samba_dc: SambaDC) -> None:
    run = run_cli("ad", "sso", "--dc", samba_dc.address, "--reader", samba_dc.admin_upn, "--reader-password-env",
                  ADMIN_VAR, "--insecure-tls", env={ADMIN_VAR: "wrong-admin-password"})
    assert run.code == 3
    assert run.stderr.startswith("aadc-doctor: error:") and "Traceback" not in run.stderr
    assert "wrong-admin-password" not in run.stderr


def test_4769_ticket_encryption(run_cli: Callable[..., CliRun]) -> None:
    run = run_cli("ad", "sso", "--events", str(EVENTS_XML), "--json")
    assert run.code == 1
    assert [f["id"] for f in run.json()["findings"]] == ["ad-sso-tickets-rc4", "ad-sso-tickets-failed"]
    tickets = run.json()["results"]["tickets"]
    assert tickets["by_encryption_type"] == [{"type": "0x17", "name": "RC4-HMAC", "count": 2},
                                             {"type": "0x12", "name": "AES256-CTS-HMAC-SHA1-96", "count": 1}]
    assert tickets["failures"] == [{"status": "0xe", "count": 1}]
    assert (tickets["records_4769"], tickets["tickets"], tickets["accounts"]) == (5, 3, 3)


def test_4769_in_a_real_evtx_without_sso(run_cli: Callable[..., CliRun]) -> None:
    evtx = CORPUS / "evtx" / "omerbenamram-evtx_security.evtx"
    run = run_cli("ad", "sso", "--events", str(evtx), "--json")
    assert run.code == 0
    assert [f["id"] for f in run.json()["findings"]] == ["ad-sso-tickets-none"]
    assert run.json()["results"]["tickets"]["files"][0]["format"] == "evtx"


def test_not_an_event_log(run_cli: Callable[..., CliRun], tmp_path: Path) -> None:
    junk = tmp_path / "x.txt"
    junk.write_text("hello")
    run = run_cli("ad", "sso", "--events", str(junk))
    assert run.code == 2 and "not an event log" in run.stderr
