"""`collect` from the release's Windows CPython (under Wine) on a prefix populated as an Entra Connect server, then
`analyze` of the zip on Linux, unredacted and redacted (issue 15).

The prefix gets the fake server's files (tests/fixtures/server/fake_server.py: both machine.config files, the sync
engine's and the PTA agent's .exe.config, PTA and provisioning-agent traces with UPNs, host names and addresses)
at their default paths, and registry values written with `reg add` in the prefix: an Entra Connect Uninstall
entry with an old version, a PTA agent entry, and the .NET v4.0.30319 key without SchUseStrongCrypto.
Wine has no working `netsh winhttp`, `wevtutil` or service manager for these services: what they would give is
listed in the manifest's not_collected/absent lists with a reason, which is what this test asserts for them.

Real event logs reach the zip the way Windows leaves them when a log is full: as archives,
``C:\\Windows\\System32\\winevt\\Logs\\Archive-<channel>-<time>.evtx``, plain files `collect` copies (Wine's wevtutil
cannot export a live log). The prefix gets corpus .evtx files there: two Security archives and one named as the PTA
agent's Admin channel (the corpus has no PTA Admin .evtx: a Security sample stands in, so the test covers the ``%4``
file name, and its records read as Security events).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.server import fake_server
from tests.infra.wine import WindowsRelease, WinePrefix

REPO = Path(__file__).resolve().parents[2]
CONNECT_VERSION = "2.4.18.0"  # below 2.5.79.0 (sync stopped on 2026-09-30) and in 2.3.20.0-2.4.129.0 (explicit TLS)
UNINSTALL = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
REGISTRY: list[tuple[str, str, str, str]] = [  # key, value, type, data
    (UNINSTALL + r"\{7D8F1C3B-AADC-4E2A-9C11-000000000001}", "DisplayName", "REG_SZ", "Microsoft Azure AD Connect"),
    (UNINSTALL + r"\{7D8F1C3B-AADC-4E2A-9C11-000000000001}", "DisplayVersion", "REG_SZ", CONNECT_VERSION),
    (UNINSTALL + r"\{7D8F1C3B-AADC-4E2A-9C11-000000000001}", "Publisher", "REG_SZ", "Microsoft Corporation"),
    (UNINSTALL + r"\{7D8F1C3B-AADC-4E2A-9C11-000000000002}", "DisplayName", "REG_SZ",
     "Microsoft Azure AD Connect Authentication Agent"),
    (UNINSTALL + r"\{7D8F1C3B-AADC-4E2A-9C11-000000000002}", "DisplayVersion", "REG_SZ", "1.5.2482.0"),
    (r"HKLM\SOFTWARE\Microsoft\.NETFramework\v4.0.30319", "SystemDefaultTlsVersions", "REG_DWORD", "1"),
    (r"HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2\Client", "Enabled",
     "REG_DWORD", "1"),
]
# (top-level folder of fake_server's drive, the same folder in the Wine prefix's drive_c)
DRIVE_FOLDERS = (("Windows", "windows"), ("Program Files", "Program Files"), ("ProgramData", "ProgramData"))
LOGS = "Windows/System32/winevt/Logs"  # in the zip
EVTX = REPO / "corpus" / "evtx"
ARCHIVES = {  # file name in the log folder -> (corpus file, its channel)
    "Archive-Security-2026-12-01-10-00-00-123.evtx": (EVTX / "e2m_ID4625_bruteforce_valid_users.evtx", "Security"),
    "Archive-Security-2026-11-20-07-15-42-900.evtx": (EVTX / "omerbenamram-evtx_Security_short_selected.evtx",
                                                      "Security"),
    "Archive-Microsoft-AzureADConnect-AuthenticationAgent%4Admin-2026-11-30-23-59-59-001.evtx":
        (EVTX / "e2m_ID4625_account_restriction.evtx", "Microsoft-AzureADConnect-AuthenticationAgent/Admin"),
}
# what --redact must remove, from the archives (corpus/evtx/README.md: their Computer and the accounts in them)
EVTX_ORIGINALS = ("fs01.offsec.lan", "FS03.offsec.lan", "offsec.lan", "fs01", "FS03", "OFFSEC", "admmig", "sshd_4332",
                  "temporal", "23.94.153.202", "10.23.23.9")


def _word(text: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])" + re.escape(text) + r"(?![\w-])", re.IGNORECASE)


@pytest.fixture
def server_prefix(wine: WinePrefix, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The prefix populated as a server; everything added is removed again (the session's prefix is shared)."""
    layout = tmp_path / "server"
    fake_server.build(layout)
    added: list[Path] = []
    for source, target in DRIVE_FOLDERS:
        for path in sorted((layout / source).rglob("*")):
            if path.is_file():
                destination = wine.drive_c / target / path.relative_to(layout / source)
                if not destination.exists():
                    added.append(destination)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)  # keeps the old trace's mtime
    logs = wine.drive_c / "windows" / "system32" / "winevt" / "Logs"
    logs.mkdir(parents=True, exist_ok=True)
    for name, (evtx, _channel) in ARCHIVES.items():
        added.append(logs / name)
        shutil.copyfile(evtx, logs / name)
    lines = [f'reg add "{key}" /v {name} /t {kind} /d "{data}" /f >nul' for key, name, kind, data in REGISTRY]
    added_reg = wine.run_batch(lines)
    assert added_reg.code == 0, added_reg.stdout + added_reg.stderr
    identity = wine.run_batch(["echo %COMPUTERNAME%^|%USERNAME%"])
    computer, user = identity.stdout.strip().split("|")
    try:
        yield {"computer": computer, "user": user}
    finally:
        keys = sorted({key for key, *_ in REGISTRY})
        wine.run_batch([f'reg delete "{key}" /f >nul 2>nul' for key in keys] + ["exit /b 0"])
        for path in added:
            path.unlink(missing_ok=True)


def _analyze(zip_path: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "aadc_doctor", "analyze", str(zip_path), "--json"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode in (0, 1), done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_collect_redacted_then_analyze(release: WindowsRelease, win: Callable[[Path], str],
                                       server_prefix: dict[str, str], tmp_path: Path) -> None:
    case = release.prefix.drive_c / "case.zip"
    case.unlink(missing_ok=True)
    # a domain member's USERDNSDOMAIN (Wine passes it through; it sets COMPUTERNAME and USERNAME itself)
    run = release.cli("collect", "--out", r"C:\case.zip", "--no-check", "--redact", "--json", cwd="C:\\",
                      env={"USERDNSDOMAIN": "contoso.local"}, timeout=600)
    assert run.code in (0, 1), run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert case.is_file()
    local = tmp_path / "case.zip"
    shutil.copyfile(case, local)
    map_path = release.prefix.drive_c / "case.redaction-map.json"  # beside the zip, never in it
    mapping: dict[str, str] = json.loads(map_path.read_text(encoding="utf-8"))["mapping"]
    case.unlink()
    map_path.unlink()
    with zipfile.ZipFile(local) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])

    # every file collected is listed with its SHA-256; the server's files are there at their drive paths
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(files[name]).hexdigest(), name
    for expected in ("Windows/Microsoft.NET/Framework64/v4.0.30319/Config/machine.config",
                     "Windows/Microsoft.NET/Framework/v4.0.30319/Config/machine.config",
                     "Program Files/Microsoft Azure AD Sync/Bin/miiserver.exe.config",
                     "collected/registry/uninstall.reg", "collected/registry/tls-dotnet.reg"):
        assert expected in listed, (expected, sorted(listed))
    assert any(p.startswith("ProgramData/Microsoft/Azure AD Connect Authentication Agent/Trace/") for p in listed)
    assert any(p.startswith("ProgramData/Microsoft/Azure AD Connect Provisioning Agent/Trace/") for p in listed)
    assert b"2.4.18.0" in files["collected/registry/uninstall.reg"]

    # what Wine cannot give is listed with its reason, never a silent gap
    gaps = {g["source"]: g["reason"] for g in manifest["not_collected"]}
    assert gaps.get("netsh winhttp show proxy"), gaps
    assert any(source.startswith("wevtutil epl") and reason for source, reason in gaps.items()), gaps
    assert all(reason.strip() for reason in gaps.values())

    # no original UPN, host name, user name or address anywhere in the redacted zip
    texts = {name: data.decode("utf-8", errors="replace") for name, data in files.items()}
    originals = [*fake_server.ORIGINALS, *EVTX_ORIGINALS, server_prefix["computer"], server_prefix["user"], *mapping]
    assert {server_prefix["computer"].lower(), "jdoe", "10.20.30.40"} <= {o.lower() for o in mapping}
    leaks = [f"{original!r} in {name}: ...{text[max(m.start() - 80, 0):m.end() + 40]!r}..."
             for original in originals for name, text in texts.items() if (m := _word(original).search(text))]
    assert not leaks, "\n".join(leaks)
    assert manifest["redacted"] is True and manifest["host"] != server_prefix["computer"]

    # the archived .evtx went to Event Viewer XML (binary .evtx cannot be rewritten); none withheld, none shipped raw
    assert not any(name.lower().endswith(".evtx") for name in files)
    assert manifest["withheld"] == []
    for name, (_source, channel) in ARCHIVES.items():
        entry = listed[f"{LOGS}/{name[:-len('.evtx')]}.xml"]
        assert entry["kind"] == "eventlog-archive" and entry["channel"] == channel
        assert "converted to Event Viewer XML" in entry["source"]
    security_xml = texts[f"{LOGS}/Archive-Security-2026-12-01-10-00-00-123.xml"]
    assert security_xml.count("<EventID>4625</EventID>") == 5  # every record of the corpus file, redacted

    # analyze on Linux finds what the registry values say
    report = _analyze(local)
    ids = {f["id"] for f in report["findings"]}
    assert {"connect-version-sync-stopped", "tls12-enforcement-missing"} <= ids, sorted(ids)
    tls = next(f for f in report["findings"] if f["id"] == "tls12-enforcement-missing")
    assert "SchUseStrongCrypto" in tls["detail"]
    # ... and the security analysis reads the redacted archives
    pta = next(r for r in report["results"]["analysers"] if r["name"] == "pta")
    assert {f"{LOGS}/{name[:-len('.evtx')]}.xml" for name in ARCHIVES} <= set(pta["inputs"])
    assert "logon-reason-1326" in ids


def test_collect_copies_archived_event_logs_then_analyze(release: WindowsRelease, server_prefix: dict[str, str],
                                                          tmp_path: Path) -> None:
    """Unredacted: the archives are in the zip byte for byte (manifest SHA-256 = the corpus file's), with their
    channel, and analyze's security findings come from them."""
    case = release.prefix.drive_c / "plain-case.zip"
    case.unlink(missing_ok=True)
    run = release.cli("collect", "--out", r"C:\plain-case.zip", "--no-check", "--json", cwd="C:\\", timeout=600)
    assert run.code in (0, 1), run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    local = tmp_path / "plain-case.zip"
    shutil.copyfile(case, local)
    case.unlink()
    with zipfile.ZipFile(local) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    listed = {f["path"]: f for f in manifest["files"]}
    for name, (source, channel) in ARCHIVES.items():
        entry = listed[f"{LOGS}/{name}"]
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        assert entry["sha256"] == digest == hashlib.sha256(files[f"{LOGS}/{name}"]).hexdigest(), name
        assert entry["kind"] == "eventlog-archive" and entry["channel"] == channel
        assert entry["source"].lower().endswith(name.lower()) and entry["source"].lower().startswith("c:\\windows")
    assert manifest["withheld"] == [] and not manifest["redacted"]

    report = _analyze(local)
    pta = next(r for r in report["results"]["analysers"] if r["name"] == "pta")
    assert {f"{LOGS}/{name}" for name in ARCHIVES} <= set(pta["inputs"])
    failures = pta["results"]["other_failures"]
    assert failures["count"] == 5 + 2 + 2  # 4625/4776 failures in the three corpus files (corpus/evtx/README.md)
    assert {f["file"] for f in failures["latest"]} <= {f"{LOGS}/{name}" for name in ARCHIVES}
    assert {f["computer"] for f in failures["latest"]} >= {"fs01.offsec.lan", "FS03.offsec.lan"}
    finding = next(f for f in report["findings"] if f["id"] == "logon-reason-1326")
    assert finding["title"].startswith("7 failed logon(s) not made by the PTA agent"), finding
