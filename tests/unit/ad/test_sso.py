"""AZUREADSSOACC findings and the 4769 tally (pure parts of `ad sso`)."""

from __future__ import annotations

from datetime import UTC, datetime

from aadc_doctor.ad.sso_account import SsoAccount, describe, sso_findings
from aadc_doctor.ad.sso_tickets import TicketFile, TicketTally, ticket_findings
from aadc_doctor.json_data import to_json_data
from aadc_doctor.logs.event_xml import EventRecord

NOW = datetime(2026, 12, 6, tzinfo=UTC)
RECENT = str(int((datetime(2026, 11, 30, tzinfo=UTC) - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds()
                 * 10_000_000)).encode()


def account(enctypes: bytes | None, uac: bytes = b"4096", spns: tuple[bytes, ...] = (
        b"HTTP/autologon.microsoftazuread-sso.com",)) -> SsoAccount:
    entry: dict[str, object] = {"sAMAccountName": [b"AZUREADSSOACC$"], "userAccountControl": [uac],
                                "pwdLastSet": [RECENT], "servicePrincipalName": list(spns)}
    if enctypes is not None:
        entry["msDS-SupportedEncryptionTypes"] = [enctypes]
    return describe(entry, NOW)


def test_healthy_account() -> None:
    assert [f.id for f in sso_findings("contoso.test", account(b"24"))] == ["ad-sso-ok"]
    assert account(b"24").encryption_types == ("AES128-CTS-HMAC-SHA1-96", "AES256-CTS-HMAC-SHA1-96")


def test_each_problem() -> None:
    assert [f.id for f in sso_findings("c", None)] == ["ad-sso-account-missing"]
    assert [f.id for f in sso_findings("c", account(None))] == ["ad-sso-enctypes-unset"]
    assert [f.id for f in sso_findings("c", account(b"28", uac=b"4098", spns=()))] == [
        "ad-sso-account-disabled", "ad-sso-spn-missing"]


def record(service: str, enctype: str, status: str = "0x0") -> EventRecord:
    return EventRecord(event_id=4769, time="2026-11-30T08:00:00Z", channel="Security", provider="", computer="dc1",
                       data={"ServiceName": service, "TicketEncryptionType": enctype, "Status": status,
                             "TargetUserName": "u@C"})


def test_tally_counts_only_azureadssoacc() -> None:
    tally = TicketTally()
    for r in (record("AZUREADSSOACC$", "0x12"), record("krbtgt", "0x17"), record("azureadssoacc$", "0x17"),
              record("AZUREADSSOACC$", "0xffffffff", "0xE")):
        tally.add(r)
    files = (TicketFile("dc1.evtx", "evtx", 4, 0),)
    assert to_json_data(tally.summary(files)) == {
        "records_4769": 4, "tickets": 2,
        "by_encryption_type": [{"type": "0x12", "name": "AES256-CTS-HMAC-SHA1-96", "count": 1},
                               {"type": "0x17", "name": "RC4-HMAC", "count": 1}],
        "failures": [{"status": "0xe", "count": 1}], "accounts": 1, "first_seen": "2026-11-30T08:00:00Z",
        "last_seen": "2026-11-30T08:00:00Z",
        "files": [{"name": "dc1.evtx", "format": "evtx", "records": 4, "errors": 0}]}
    assert [f.id for f in ticket_findings(tally)] == ["ad-sso-tickets-rc4", "ad-sso-tickets-failed"]
    assert [f.id for f in ticket_findings(TicketTally())] == ["ad-sso-tickets-none"]


def test_ticket_events_in_a_log_the_evtx_package_loops_on_end_with_the_file_counted_damaged(tmp_path):
    """`ad sso --events` reads a damaged .evtx through the guarded reader: it ends, and says the file is damaged."""
    import time
    from pathlib import Path

    from tests.infra.spinning_evtx import write_spinning_evtx

    from aadc_doctor.ad.sso_tickets import read_ticket_events
    from aadc_doctor.logs.evtx_guard import EvtxGuard

    corpus = Path(__file__).resolve().parents[3] / "corpus"
    spins = write_spinning_evtx(corpus, tmp_path / "Security.evtx")
    intact = tmp_path / "intact.evtx"
    intact.write_bytes((corpus / "evtx" / "omerbenamram-evtx_security.evtx").read_bytes())
    started = time.monotonic()
    with EvtxGuard(stall_seconds=1.0) as guard:
        _, files = read_ticket_events([spins, intact], guard)
    assert time.monotonic() - started < 20
    assert [(Path(f.name).name, f.errors > 0) for f in files] == [("Security.evtx", True), ("intact.evtx", False)]
    assert files[1].records == 2261
