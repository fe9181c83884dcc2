"""`collect` on a fake server (FolderSystem): what goes into the zip, the manifest, --since, --max-mb, --redact,
and the `check` results run in-process with the command's own code."""

from __future__ import annotations

import argparse
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from tests.fixtures.server import fake_server

from aadc_doctor.collect.gather import CollectOptions, collect, event_query, load_plan
from aadc_doctor.commands import RunContext
from aadc_doctor.commands.collect import collect_with
from aadc_doctor.json_data import to_json_data
from aadc_doctor.serverfiles.registry_export import parse_export

CLOSED_PROXY = ("--proxy", "http://127.0.0.1:9", "--timeout", "2")  # refused at once: no probe leaves loopback


def _args(out: Path, **extra: object) -> argparse.Namespace:
    values = {"out": str(out), "since": None, "max_mb": 200.0, "redact": False, "no_check": False}
    values.update(extra)
    return argparse.Namespace(**values)


def _ctx() -> RunContext:
    return RunContext(json_mode=True, stdout=io.StringIO(), stderr=io.StringIO(), env={})


def _zip_texts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """One real collection with `check` run in-process for every needed profile (costs ~1 s, done once)."""
    tmp = tmp_path_factory.mktemp("collect")
    system = fake_server.build(tmp / "server")
    out = tmp / "case.zip"
    result = collect_with(system, _args(out), _ctx(), check_args=CLOSED_PROXY)
    return out, to_json_data(result.report.results)


def test_zip_mirrors_the_drive_and_lists_every_file_with_its_hash(collected: tuple[Path, dict[str, object]]) -> None:
    out, _ = collected
    files = _zip_texts(out)
    manifest = json.loads(files["manifest.json"])
    assert "Windows/Microsoft.NET/Framework64/v4.0.30319/Config/machine.config" in files
    assert "Program Files/Microsoft Azure AD Sync/Bin/miiserver.exe.config" in files
    assert "ProgramData/Microsoft/Azure AD Connect Provisioning Agent/Trace/ProvisioningAgent_20261204.log" in files
    assert "collected/netsh-winhttp-show-proxy.txt" in files
    assert "collected/eventlogs/Security-pta-agent.evtx" in files
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    import hashlib

    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(files[name]).hexdigest()
        assert entry["source"]
    assert manifest["host"] == "AADC01" and manifest["tool"] == "aadc-doctor" and manifest["tool_version"]
    assert manifest["collected_at"].endswith("Z")


def test_check_runs_in_process_for_the_installed_components(collected: tuple[Path, dict[str, object]]) -> None:
    out, _ = collected
    files = _zip_texts(out)
    checks = sorted(n for n in files if n.startswith("collected/check-"))
    assert checks == ["collected/check-cloudsync.json", "collected/check-pta.json", "collected/check-sync.json"]
    report = json.loads(files["collected/check-cloudsync.json"])
    assert report["command"] == "check" and report["schema_version"] == 1
    hosts = {e["host"] for e in report["results"]["endpoints"]}
    assert {"autoupdate.msappproxy.net", "watchdog.servicebus.windows.net", "login.microsoftonline.com"} <= hosts
    assert {e["outcome"] for e in report["results"]["endpoints"]} == {"proxy_unreachable"}


def test_registry_exports_hold_only_the_components_uninstall_entries(collected: tuple[Path, dict[str, object]]) -> None:
    out, _ = collected
    files = _zip_texts(out)
    uninstall = parse_export(files["collected/registry/uninstall.reg"].decode("utf-8"))
    names = {v["displayname"] for v in uninstall.keys.values()}
    assert names == {"Microsoft Azure AD Connect", "Microsoft Azure AD Connect Authentication Agent",
                     "Microsoft Azure AD Connect Provisioning Agent"}  # not Notepad++
    tls = parse_export(files["collected/registry/tls-dotnet.reg"].decode("utf-8"))
    assert tls.value(fake_server.NET, "SchUseStrongCrypto") == 1
    tls10 = fake_server.SCHANNEL + r"\TLS 1.0\Client"
    assert tls.knows(tls10) and not tls.values(tls10)


def test_what_is_missing_is_listed_with_a_reason(collected: tuple[Path, dict[str, object]]) -> None:
    out, _ = collected
    manifest = json.loads(_zip_texts(out)["manifest.json"])
    absent = {a["source"] for a in manifest["absent"]}
    assert "service WAPCSvc" in absent and "event log Microsoft-AadApplicationProxy-Connector/Admin" in absent
    assert any("Health" in a for a in absent)
    assert manifest["not_collected"] == []


def test_a_failure_is_listed_with_its_reason_and_the_rest_is_collected(tmp_path: Path) -> None:
    system = fake_server.build(tmp_path / "server")
    system.failing = {"export_event_log": "wevtutil exited 5: Access is denied.",
                      "winhttp_proxy": "netsh did not finish within 30 s"}
    result = collect(system, CollectOptions(), tmp_path / "c.zip")
    gaps = {g["source"]: g["reason"] for g in result.manifest["not_collected"]}
    assert gaps["wevtutil epl Security"] == "wevtutil exited 5: Access is denied."
    assert gaps["netsh winhttp show proxy"] == "netsh did not finish within 30 s"
    assert any(f["path"].endswith("machine.config") for f in result.manifest["files"])


def test_since_leaves_old_traces_out_and_says_so(tmp_path: Path) -> None:
    system = fake_server.build(tmp_path / "server")
    result = collect(system, CollectOptions(since_days=7), tmp_path / "c.zip")
    names = {f["path"] for f in result.manifest["files"]}
    assert not any(n.endswith("_old.log") for n in names)
    assert any(n.endswith("_new.log") for n in names)
    trimmed = [t for t in result.manifest["trimmed"] if t["path"].endswith("_old.log")]
    assert trimmed and trimmed[0]["reason"] == "older than --since"
    assert "timediff(@SystemTime) <= 604800000" in system.queries[0][1]


def test_max_mb_trims_the_oldest_logs_first(tmp_path: Path) -> None:
    system = fake_server.build(tmp_path / "server")
    full = collect(system, CollectOptions(), tmp_path / "full.zip")
    total = sum(f["size"] for f in full.manifest["files"])
    old_size = next(f["size"] for f in full.manifest["files"] if f["path"].endswith("_old.log"))
    budget_mb = (total - old_size / 2) / 1_048_576  # only the oldest log must go
    trimmed = collect(system, CollectOptions(max_mb=budget_mb), tmp_path / "trim.zip")
    dropped = [t["path"] for t in trimmed.manifest["trimmed"]]
    assert len(dropped) == 1 and dropped[0].endswith("_old.log")
    assert "--max-mb" in trimmed.manifest["trimmed"][0]["reason"]
    assert trimmed.messages and "left out to stay under" in trimmed.messages[0]
    assert sum(f["size"] for f in trimmed.manifest["files"]) <= budget_mb * 1_048_576


def test_redact_leaves_no_original_name_or_address_anywhere(tmp_path: Path) -> None:
    system = fake_server.build(tmp_path / "server")
    out = tmp_path / "red.zip"
    result = collect_with(system, _args(out, redact=True, no_check=True), _ctx())
    files = _zip_texts(out)
    assert not any(n.endswith(".evtx") for n in files)  # event logs went to XML to be redactable
    assert "collected/eventlogs/Security-pta-agent.xml" in files
    mapping = json.loads(Path(result.report.results.redaction_map).read_text())["mapping"]
    everything = b"\n".join(files.values()).decode("utf-8", errors="replace")
    for original in fake_server.ORIGINALS:
        assert not re.search(r"(?<![\w-])" + re.escape(original) + r"(?![\w-])", everything, re.IGNORECASE), original
    for original in mapping:
        assert not re.search(r"(?<![\w-])" + re.escape(original) + r"(?![\w-])", everything, re.IGNORECASE), original
    assert "mapping" not in everything and not any("redaction" in n for n in files)
    # stable: the same user has the same pseudonym in the trace, the XML event log and the provisioning trace
    pseudonym = f"{mapping['jdoe']}@{mapping['contoso.com']}"
    pta_trace = ("ProgramData/Microsoft/Azure AD Connect Authentication Agent/Trace/"
                 "AzureADConnectAuthenticationAgent_new.log")
    pta = files[pta_trace]
    prov = files["ProgramData/Microsoft/Azure AD Connect Provisioning Agent/Trace/ProvisioningAgent_20261204.log"]
    assert pseudonym.encode() in pta and pseudonym.encode() in prov
    assert b"192.0.2.1" in pta
    # versions are not addresses
    assert b"2.4.129.0" in files["collected/registry/uninstall.reg"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["host"] == mapping["aadc01"] and manifest["redacted"] is True


def test_event_query_covers_the_window_and_the_agent_process() -> None:
    security = next(e for e in load_plan()["eventlog"] if e["channel"] == "Security")
    query = event_query(security["query"], 2)
    assert "timediff(@SystemTime) <= 172800000" in query
    assert "Data='C:\\Program Files\\Microsoft Azure AD Connect Authentication Agent\\" in query


def test_collect_on_linux_exits_2_with_one_line(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("collect")
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and "runs on the Windows server" in result.stderr


def test_redact_finds_other_hosts_of_a_known_domain_in_free_text() -> None:
    """A trace names other servers (`via AADC02.contoso.local`): once contoso.local is known (the server's own DNS
    domain, or a UPN suffix anywhere), their host names go too, in every file, even one learned before."""
    from aadc_doctor.collect.redact import Redactor

    first = "Sign-in failed via AADC02.contoso.local and dc1.CONTOSO.LOCAL; see login.microsoftonline.com"
    second = "Agent on AADC01 (account admmig@contoso.local)"
    redactor = Redactor()
    redactor.learn_identity({"computer": "AADC01"})
    for text in (first, second):
        redactor.learn(text)
    for text in (first, second):
        redactor.learn_hosts(text)
    out = redactor.apply(first) + "\n" + redactor.apply(second)
    for original in ("AADC02", "dc1", "contoso", "AADC01", "admmig"):
        assert not re.search(rf"(?<![\w-]){original}(?![\w-])", out, re.IGNORECASE), (original, out)
    assert "login.microsoftonline.com" in out
    names = redactor.mapping
    assert names["aadc02.contoso.local"] == f"{names['aadc02']}.{names['contoso.local']}"
