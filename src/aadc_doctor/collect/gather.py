"""What `collect` takes from a server and how it packs it: files from the plan, command outputs, registry
exports, service states, event logs and `check` results, into one zip with ``manifest.json``.

Every item the plan names ends in one of five lists of the manifest: ``files`` (collected, with SHA-256),
``absent`` (not on this server: the component is not installed), ``not_collected`` (present or expected but
unreadable, with the reason), ``trimmed`` (left out by ``--since`` or ``--max-mb``) and ``withheld`` (read, but
left out by ``--redact`` because it could not be rewritten). Nothing is a silent gap.

Event logs under ``--redact``: a binary .evtx cannot be rewritten in place, so each one (an export or an archive)
is rendered to Event Viewer XML, which `analyze` reads like the .evtx, and that text is redacted like every other
file; ``<Binary>`` payloads (hex, which no pattern can search) are emptied. An .evtx that cannot be rendered is
withheld, never shipped as it is.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from aadc_doctor.collect.redact import Redactor
from aadc_doctor.collect.system import CollectFailure, NotPresent, ServerSystem, copy_bytes
from aadc_doctor.json_data import to_json_data
from aadc_doctor.knowledge import read_toml
from aadc_doctor.results import JsonObject
from aadc_doctor.serverfiles.registry_export import ABSENT_MARK, HEADER, format_export

COLLECTED = "collected"  # the zip's folder for what is not a file on the drive (command outputs, exports)
MANIFEST = "manifest.json"
MANIFEST_SCHEMA = 1
TEXT_SUFFIXES = (".config", ".log", ".txt", ".reg", ".json", ".xml", ".tsv")
CheckRunner = Callable[[str], JsonObject]  # a profile -> its `check --json` report (JSON by nature)


@dataclass
class CollectOptions:
    since_days: float | None = None
    max_mb: float = 200.0
    redact: bool = False
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    tool_version: str = ""
    check_runner: CheckRunner | None = None  # None: no `check` results (the caller says why in the manifest)


@dataclass
class Item:
    """One file staged for the zip: where it goes, where it came from, what reads it."""

    path: str  # inside the zip, with forward slashes
    source: str
    kind: str
    log: bool = False  # a log file: may be trimmed, oldest first, to fit --max-mb
    mtime: float = 0.0
    channel: str = ""  # an event log's channel (archives: from the file name)


@dataclass
class CollectResult:
    manifest: dict[str, Any]
    mapping: dict[str, str]  # --redact: original → pseudonym (never written into the zip)
    zip_path: Path
    messages: list[str] = field(default_factory=list)


@cache
def load_plan() -> dict[str, Any]:
    return read_toml("collect_plan.toml")


class _Stage:
    """The staging folder and the manifest's lists, filled as items are gathered."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items: list[Item] = []
        self.absent: list[dict[str, str]] = []
        self.not_collected: list[dict[str, str]] = []
        self.trimmed: list[dict[str, Any]] = []
        self.withheld: list[dict[str, str]] = []

    def target(self, zip_path: str) -> Path:
        path = self.root / zip_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_text(self, zip_path: str, text: str, source: str, kind: str) -> None:
        self.target(zip_path).write_text(text, encoding="utf-8", newline="")
        self.items.append(Item(zip_path, source, kind))

    def failed(self, source: str, reason: str) -> None:
        self.not_collected.append({"source": source, "reason": reason})


def collect(system: ServerSystem, options: CollectOptions, out_zip: Path) -> CollectResult:
    """Gather everything into ``out_zip``; only an unwritable output is fatal (OSError to the caller)."""
    plan = load_plan()
    with tempfile.TemporaryDirectory(prefix="aadc-doctor-collect-") as tmp:
        stage = _Stage(Path(tmp))
        since = options.now - timedelta(days=options.since_days) if options.since_days is not None else None
        _files(system, plan, stage, since)
        _winhttp(system, stage)
        products = _registry(system, plan, stage)
        _services(system, plan, stage)
        _event_logs(system, plan, stage, options)
        _archived_event_logs(system, plan, stage, since)
        _checks(products, stage, options)
        mapping: dict[str, str] = {}
        messages: list[str] = []
        if options.redact:
            mapping = _redact(system, stage)
            if stage.withheld:
                messages.append(f"{len(stage.withheld)} event log(s) withheld: --redact could not rewrite them "
                                "(manifest.json lists them with the reason)")
        messages += _trim(stage, options.max_mb)
        manifest = _manifest(system, stage, options, mapping)
        _write_zip(stage, manifest, out_zip)
    return CollectResult(manifest, mapping, out_zip, messages)


# ---- files ---------------------------------------------------------------------------------------


def _files(system: ServerSystem, plan: dict[str, Any], stage: _Stage, since: datetime | None) -> None:
    folders: dict[str, str] = plan["folders"]
    for spec, is_log in [(s, False) for s in plan["file"]] + [(s, True) for s in plan["trace"]]:
        base = system.folder(spec["folder"])
        label = f"%{spec['folder']}%\\{spec['glob'].replace('/', chr(92))}"
        if base is None:
            stage.failed(label, f"the environment variable {spec['folder']} is not set")
            continue
        try:
            found = sorted(p for p in base.glob(spec["glob"]) if p.is_file())
        except OSError as exc:
            stage.failed(label, f"cannot list: {exc.strerror or exc}")
            continue
        if not found:
            stage.absent.append({"source": label, "reason": "not found (component not installed?)"})
            continue
        for path in found:
            relative = path.relative_to(base).as_posix()
            zip_path = f"{folders[spec['folder']]}/{relative}"
            try:
                mtime = path.stat().st_mtime
                if is_log and since is not None and mtime < since.timestamp():
                    stage.trimmed.append({"path": zip_path, "source": str(path), "reason": "older than --since",
                                          "size": path.stat().st_size})
                    continue
                copy_bytes(path, stage.target(zip_path))
            except OSError as exc:
                stage.failed(str(path), f"cannot read: {exc.strerror or exc}")
                continue
            stage.items.append(Item(zip_path, str(path), spec["kind"], log=is_log, mtime=mtime))


def _winhttp(system: ServerSystem, stage: _Stage) -> None:
    try:
        stage.write_text(f"{COLLECTED}/netsh-winhttp-show-proxy.txt", system.winhttp_proxy(),
                         "netsh winhttp show proxy", "winhttp")
    except CollectFailure as exc:
        stage.failed("netsh winhttp show proxy", str(exc))


# ---- registry, services --------------------------------------------------------------------------


def _registry(system: ServerSystem, plan: dict[str, Any], stage: _Stage) -> list[str]:
    """The TLS/.NET keys (reg export) and the components' Uninstall entries; returns the component ids found."""
    from aadc_doctor.knowledge.server_rules import load_server_rules

    bodies: list[str] = []
    absent: list[str] = []
    for key in plan["registry"]["keys"]:
        try:
            text = system.export_registry_key(key)
        except CollectFailure as exc:
            stage.failed(f"reg export {key}", str(exc))
            continue
        if text is None:
            absent.append(key)
        else:
            bodies.append(text.lstrip("\ufeff").split("\n", 1)[1] if text.lstrip("\ufeff").startswith(HEADER) else text)
    if bodies or absent:
        text = HEADER + "\r\n\r\n" + "".join(ABSENT_MARK + k + "\r\n" for k in absent) + "\r\n".join(bodies)
        stage.write_text(f"{COLLECTED}/registry/tls-dotnet.reg", text,
                         "reg export of the .NET and SCHANNEL keys", "registry")

    rules = load_server_rules()
    wanted = {v.lower() for v in plan["registry"]["uninstall_values"]}
    entries: dict[str, dict[str, Any]] = {}
    components: list[str] = []
    for root in plan["registry"]["uninstall_roots"]:
        try:
            for key in system.registry_subkeys(root):
                values = system.registry_values(key)
                name = values.get("DisplayName")
                product = rules.product_for(name) if isinstance(name, str) else None
                if product is None:
                    continue
                entries[key] = {k: v for k, v in values.items() if k.lower() in wanted}
                components.append(product.id)
        except CollectFailure as exc:
            stage.failed(f"registry {root}", str(exc))
    stage.write_text(f"{COLLECTED}/registry/uninstall.reg", format_export(entries),
                     "Uninstall entries of Entra Connect and its agents (winreg)", "registry")
    return sorted(set(components))


def _services(system: ServerSystem, plan: dict[str, Any], stage: _Stage) -> None:
    services: list[dict[str, str]] = []
    for name in plan["services"]["names"]:
        try:
            info = system.service(name)
        except CollectFailure as exc:
            stage.failed(f"service {name}", str(exc))
            continue
        if info is None:
            stage.absent.append({"source": f"service {name}", "reason": "not installed"})
        else:
            services.append(to_json_data(info))
    stage.write_text(f"{COLLECTED}/services.json", json.dumps({"services": services}, indent=2) + "\n",
                     "sc qc / sc query", "services")


# ---- event logs ------------------------------------------------------------------------------------


def pta_process_condition() -> str:
    from aadc_doctor.knowledge.pta_events import agent_generations

    return " or ".join(f"Data='{g.process}'" for g in agent_generations())


def event_query(template: str, since_days: float | None) -> str:
    window_ms = int((since_days if since_days is not None else 3650) * 86_400_000)
    return template.replace("{since}", str(window_ms)).replace("{pta_process}", pta_process_condition())


def _event_logs(system: ServerSystem, plan: dict[str, Any], stage: _Stage, options: CollectOptions) -> None:
    for spec in plan["eventlog"]:
        zip_path = f"{COLLECTED}/eventlogs/{spec['file']}"
        query = event_query(spec["query"], options.since_days)
        try:
            system.export_event_log(spec["channel"], query, stage.target(zip_path))
        except NotPresent as exc:
            stage.target(zip_path).unlink(missing_ok=True)
            stage.absent.append({"source": f"event log {spec['channel']}", "reason": str(exc)})
            continue
        except CollectFailure as exc:
            stage.target(zip_path).unlink(missing_ok=True)
            stage.failed(f"wevtutil epl {spec['channel']}", str(exc))
            continue
        stage.items.append(Item(zip_path, f"wevtutil epl {spec['channel']}", "eventlog", log=True,
                                mtime=options.now.timestamp(), channel=spec["channel"]))


def _archived_event_logs(system: ServerSystem, plan: dict[str, Any], stage: _Stage, since: datetime | None) -> None:
    """The archives Windows made of the exported channels' logs, copied whole at their drive path."""
    from aadc_doctor.collect.archives import archive_plan

    archives = archive_plan()
    folders: dict[str, str] = plan["folders"]
    base = system.folder(archives.folder)
    label = f"%{archives.folder}%\\{archives.directory.replace('/', chr(92))}\\Archive-<channel>-<time>.evtx"
    if base is None:
        stage.failed(label, f"the environment variable {archives.folder} is not set")
        return
    directory = base / archives.directory
    try:
        names = sorted(entry.name for entry in directory.iterdir() if archives.is_archive(entry.name))
    except FileNotFoundError:
        names = []
    except OSError as exc:
        stage.failed(label, f"cannot list: {exc.strerror or exc}")
        return
    found = [n for n in names if archives.wanted(n)]
    if not found:
        stage.absent.append({"source": label, "reason": "no archived log of the exported channels"})
        return
    for name in found:
        path = directory / name
        zip_path = f"{folders[archives.folder]}/{archives.directory}/{name}"
        channel = archives.channel_of_name(name) or ""
        try:
            status = path.stat()
            if since is not None and status.st_mtime < since.timestamp():
                stage.trimmed.append({"path": zip_path, "source": str(path), "reason": "older than --since",
                                      "size": status.st_size})
                continue
            copy_bytes(path, stage.target(zip_path))
        except OSError as exc:
            stage.target(zip_path).unlink(missing_ok=True)
            stage.failed(str(path), f"cannot read: {exc.strerror or exc}")
            continue
        stage.items.append(Item(zip_path, str(path), archives.kind, log=True, mtime=status.st_mtime, channel=channel))


def _checks(components: list[str], stage: _Stage, options: CollectOptions) -> None:
    from aadc_doctor.knowledge.server_rules import load_server_rules

    rules = load_server_rules()
    profiles = sorted({p for c in components for prod in rules.products if prod.id == c for p in prod.profiles})
    if not profiles:
        stage.absent.append({"source": "check --json", "reason": "no component that needs a profile is installed"})
        return
    for profile in profiles:
        source = f"check --profile {profile} --json"
        if options.check_runner is None:
            stage.failed(source, "not run (--no-check)")
            continue
        try:
            report = options.check_runner(profile)
        except Exception as exc:  # a check that cannot run must not lose the rest of the collection
            stage.failed(source, f"{type(exc).__name__}: {exc}")
            continue
        stage.write_text(f"{COLLECTED}/check-{profile}.json", json.dumps(report, indent=2) + "\n", source, "check")


# ---- redaction, size, manifest, zip ------------------------------------------------------------------


def _redact(system: ServerSystem, stage: _Stage) -> dict[str, str]:
    """Event logs become Event Viewer XML (a binary .evtx cannot be rewritten); then every text file is redacted."""
    redactor = Redactor()
    redactor.learn_identity(system.identity_names())
    for item in list(stage.items):
        if item.path.lower().endswith(".evtx"):
            try:
                _evtx_to_xml(stage, item)
            except EvtxNotRendered as exc:
                (stage.root / item.path).unlink(missing_ok=True)
                stage.items.remove(item)
                stage.withheld.append({"path": item.path, "source": item.source,
                                       "reason": f"--redact cannot rewrite this event log ({exc}); left out rather "
                                                 "than shipped unredacted"})
    texts: dict[str, str] = {}
    for item in stage.items:
        path = stage.root / item.path
        texts[item.path] = path.read_bytes().decode("utf-8", errors="replace") if _is_text(item.path) else ""
        if item.kind == "services":
            redactor.learn_accounts(texts[item.path])
        redactor.learn(texts[item.path])
    for text in texts.values():
        redactor.learn_hosts(text)
    for item in stage.items:
        if _is_text(item.path):
            (stage.root / item.path).write_text(redactor.apply(texts[item.path]), encoding="utf-8", newline="")
    for entry in stage.not_collected + stage.absent:
        entry["source"] = redactor.apply(entry["source"])
        entry["reason"] = redactor.apply(entry["reason"])
    for trimmed in stage.trimmed + stage.withheld:
        trimmed["source"] = redactor.apply(trimmed["source"])
    for item in stage.items:
        item.source = redactor.apply(item.source)
    return dict(redactor.mapping)


def _is_text(path: str) -> bool:
    return path.lower().endswith(TEXT_SUFFIXES) or "/trace/" in path.lower()


class EvtxNotRendered(Exception):
    """An .evtx the evtx package cannot open: under --redact it is withheld."""


BINARY = re.compile(r"<Binary>[^<]*</Binary>")
EVTX_CHUNK = 65536


def _evtx_to_xml(stage: _Stage, item: Item) -> None:
    """Render every record; a chunk the package cannot read loses its records (nothing of it is shipped), the
    rest goes on. A log with damage the package may loop on (``evtx_reader.damage_in``) is not rendered at
    all: withheld, with the reason."""
    import evtx
    from aadc_doctor.errors import InputError
    from aadc_doctor.logs.evtx_reader import damage_in, read_layout

    source = stage.root / item.path
    xml_path = item.path[: -len(".evtx")] + ".xml"
    records = damaged = 0
    try:  # the package can loop forever on some damaged chunks (logs/evtx_guard.py): such a log is not rendered
        if damage_in(source, read_layout(source), None):
            raise EvtxNotRendered("it holds damage the evtx package can loop forever on (a header checksum that "
                                  "fails, a looping string or template chain, a chunk cut short), so it is not "
                                  "rendered")
    except InputError:  # its message names the staging folder, which the manifest must not show
        raise EvtxNotRendered("its .evtx headers cannot be read (cut short, or not an .evtx)") from None
    try:
        iterator = evtx.PyEvtxParser(str(source)).records()
    except (OSError, RuntimeError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise EvtxNotRendered(f"the evtx package cannot open it: {first[:200]}") from None
    chunks = source.stat().st_size // EVTX_CHUNK + 1  # the iterator raises at most once per damaged chunk
    with (stage.root / xml_path).open("w", encoding="utf-8") as out:
        out.write("<Events>\n")
        finished = False
        while not finished:
            try:
                for record in iterator:
                    data = str(record["data"]) if record else ""
                    data = data.split("?>", 1)[1].strip() if data.startswith("<?xml") else data
                    out.write(BINARY.sub("<Binary></Binary>", data))
                    out.write("\n")
                    records += 1
                finished = True
            except (OSError, RuntimeError):  # a damaged chunk: the iterator goes on with the next one
                damaged += 1
                finished = damaged > chunks
        out.write("</Events>\n")
    if records == 0 and damaged:
        (stage.root / xml_path).unlink()
        raise EvtxNotRendered(f"no record could be read ({damaged} damaged chunk(s))")
    source.unlink()
    item.path = xml_path
    item.source += " (converted to Event Viewer XML for --redact"
    item.source += f"; {damaged} damaged chunk(s) left out)" if damaged else ")"


def _trim(stage: _Stage, max_mb: float) -> list[str]:
    """Leave out logs, oldest first, until the files fit --max-mb (uncompressed: the zip is never larger)."""
    budget = int(max_mb * 1024 * 1024)
    sizes = {item.path: (stage.root / item.path).stat().st_size for item in stage.items}
    total = sum(sizes.values())
    if total <= budget:
        return []
    messages = []
    for item in sorted((i for i in stage.items if i.log), key=lambda i: (i.mtime, i.path)):
        if total <= budget:
            break
        total -= sizes[item.path]
        (stage.root / item.path).unlink()
        stage.items.remove(item)
        stage.trimmed.append({"path": item.path, "source": item.source, "size": sizes[item.path],
                              "reason": f"left out to stay under --max-mb {max_mb:g} (oldest logs first)"})
    dropped = [t for t in stage.trimmed if "--max-mb" in t["reason"]]
    messages.append(f"{len(dropped)} log file(s) left out to stay under {max_mb:g} MB, oldest first "
                    f"({sum(t['size'] for t in dropped) / 1_048_576:.1f} MB); manifest.json lists them")
    if total > budget:
        messages.append(f"the collection is still {total / 1_048_576:.1f} MB: what remains are configuration "
                        "files and exports, which are never trimmed")
    return messages


def _manifest(system: ServerSystem, stage: _Stage, options: CollectOptions, mapping: dict[str, str]) -> dict[str, Any]:
    files = []
    for item in sorted(stage.items, key=lambda i: i.path):
        path = stage.root / item.path
        entry = {"path": item.path, "sha256": _sha256(path), "size": path.stat().st_size, "source": item.source,
                 "kind": item.kind}
        if item.channel:
            entry["channel"] = item.channel
        files.append(entry)
    host = system.host_name()
    if options.redact:
        host = mapping.get(host.lower(), "host")
    return {
        "schema": MANIFEST_SCHEMA, "tool": "aadc-doctor", "tool_version": options.tool_version,
        "host": host, "collected_at": options.now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "options": {"since_days": options.since_days, "max_mb": options.max_mb, "redact": options.redact},
        "redacted": options.redact,
        "files": files, "absent": stage.absent, "not_collected": stage.not_collected, "trimmed": stage.trimmed,
        "withheld": stage.withheld,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_zip(stage: _Stage, manifest: dict[str, Any], out_zip: Path) -> None:
    partial = out_zip.with_name(out_zip.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for entry in manifest["files"]:
            archive.write(stage.root / entry["path"], entry["path"])
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2) + "\n")
    partial.replace(out_zip)
