"""Find each kind of input under a folder laid out like the server's drive, or inside a `collect` zip.

Files are recognised by where they sit (``.../Trace/...`` of which agent, Windows' event-log folder) and by their
first bytes (an event log, a registry export, `netsh winhttp` output, a saved `check --json` report), so a plain copy
of the server's files and a collected zip are read the same way.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from aadc_doctor.errors import InputError

MAX_UNPACKED_BYTES = 16 * 1024**3  # a collect zip is at most a few hundred MB: far more than that is not one
EVENT_SUFFIXES = (".evtx", ".xml")
TRACE_SUFFIXES = (".log", ".txt", ".log.gz", ".txt.gz")
HEAD_BYTES = 4096


@dataclass
class ServerInputs:
    """Every input found, by kind (paths under the root); empty lists for kinds not present."""

    root: Path
    kind: str  # "zip" or "folder"
    manifest: Path | None = None
    machine_configs: list[Path] = field(default_factory=list)
    exe_configs: list[Path] = field(default_factory=list)
    winhttp: list[Path] = field(default_factory=list)
    registry: list[Path] = field(default_factory=list)
    pta_traces: list[Path] = field(default_factory=list)
    provisioning_traces: list[Path] = field(default_factory=list)
    event_logs: list[Path] = field(default_factory=list)
    checks: list[Path] = field(default_factory=list)
    services: list[Path] = field(default_factory=list)
    unused: int = 0

    def by_kind(self) -> dict[str, list[str]]:
        """Relative paths per kind (for the report; the same for a zip and for its unpacked folder)."""
        kinds = {"machine_config": self.machine_configs, "exe_config": self.exe_configs, "winhttp": self.winhttp,
                 "registry": self.registry, "pta_trace": self.pta_traces,
                 "provisioning_trace": self.provisioning_traces, "event_log": self.event_logs,
                 "check": self.checks, "services": self.services}
        return {k: [self.relative(p) for p in v] for k, v in kinds.items()}

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def total_bytes(self) -> int:
        paths = (self.pta_traces + self.provisioning_traces + self.event_logs + self.registry + self.machine_configs
                 + self.exe_configs)
        return sum(p.stat().st_size for p in paths)


@contextlib.contextmanager
def opened(path: Path) -> Iterator[ServerInputs]:
    """The inputs of a folder, or of a zip unpacked into a temporary folder removed afterwards."""
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        yield discover(path, "folder")
        return
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: neither a folder nor a .zip",
                         hint="give a `collect` zip, its unpacked folder, or a copy of the server's files laid out "
                              "as on its drive (Windows/..., ProgramData/..., Program Files/...)")
    with tempfile.TemporaryDirectory(prefix="aadc-doctor-analyze-") as tmp:
        unpack(path, Path(tmp))
        yield discover(Path(tmp), "zip")


def unpack(archive_path: Path, target: Path) -> None:
    """Unpack safely: no member outside ``target`` (absolute paths, ``..``), no zip bomb."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
                raise InputError(f"{archive_path}: unpacks to more than {MAX_UNPACKED_BYTES >> 30} GiB; "
                                 "not a collect zip")
            for member in members:
                name = PurePosixPath(member.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]):
                    raise InputError(f"{archive_path}: member {member.filename!r} would be written outside the "
                                     "folder; refused")
                if member.is_dir():
                    continue
                destination = target.joinpath(*name.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, destination.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(f"{archive_path}: not a readable .zip ({exc})") from None


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError:
        return b""


def _text_head(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head[: len(head) // 2 * 2].decode("utf-16", errors="ignore")
    return head.decode("utf-8", errors="ignore")


def discover(root: Path, kind: str) -> ServerInputs:
    """Every input under ``root``. In Windows' event-log folder only the logs of the channels `collect` exports count
    (live or archived: ``Archive-<channel>-<time>.evtx``); event logs anywhere else are read as given."""
    from aadc_doctor.collect.archives import archive_plan
    from aadc_doctor.logs.event_xml import looks_like_event_xml
    from aadc_doctor.logs.evtx_reader import is_evtx
    from aadc_doctor.serverfiles.registry_export import looks_like_export

    archives = archive_plan()
    log_folder = tuple(p.lower() for p in PurePosixPath(archives.directory).parts)
    found = ServerInputs(root=root, kind=kind)

    def _in_log_folder(parts: list[str]) -> bool:
        return tuple(parts[-1 - len(log_folder):-1]) == log_folder

    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        low = rel.lower()
        name = path.name.lower()
        parts = [p.lower() for p in PurePosixPath(rel).parts]
        if low == "manifest.json":
            found.manifest = path
        elif name == "machine.config":
            found.machine_configs.append(path)
        elif name.endswith(".exe.config"):
            found.exe_configs.append(path)
        elif "trace" in parts[:-1] and name.endswith(TRACE_SUFFIXES):
            owner = "/".join(parts[: parts.index("trace")])
            (found.provisioning_traces if "provisioning agent" in owner else found.pta_traces).append(path)
        elif name.endswith(EVENT_SUFFIXES) and _in_log_folder(parts) and not archives.wanted(path.name):
            found.unused += 1  # the drive's other logs (System, Setup, ...): no analyser reads them
        elif name.endswith(EVENT_SUFFIXES) and (is_evtx(head := _head(path)) or looks_like_event_xml(head)):
            found.event_logs.append(path)
        elif name.endswith(".reg") and looks_like_export(_head(path)):
            found.registry.append(path)
        elif name.endswith(".txt") and "winhttp proxy settings" in _text_head(_head(path)).lower():
            found.winhttp.append(path)
        elif name.endswith(".json") and _json_command(path) == "check":
            found.checks.append(path)
        elif name == "services.json":
            found.services.append(path)
        else:
            found.unused += 1
    return found


def _json_command(path: Path) -> str | None:
    head = _head(path)
    if b'"schema_version"' not in head or b'"command"' not in head:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    command = data.get("command") if isinstance(data, dict) else None
    return command if isinstance(command, str) else None
