"""Every operating-system access `collect` makes, behind one small interface.

``WindowsSystem`` is the real server (stdlib only: ``winreg`` and ``subprocess`` with timeouts);
``FolderSystem`` is a test double: a fake server laid out in a folder plus canned registry, services and event
logs, so the gathering logic runs and is tested on Linux.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aadc_doctor.serverfiles.registry_export import RegValue, format_export, normalize_key

COMMAND_TIMEOUT_S = 120.0  # wevtutil on a large Security log takes a while; nothing else comes near


class CollectFailure(Exception):
    """One item could not be gathered; the reason goes to the manifest and the rest goes on."""


class NotPresent(CollectFailure):
    """The item does not exist on this server (an event-log channel of a component that is not installed)."""


CHANNEL_NOT_FOUND = 15007  # ERROR_EVT_CHANNEL_NOT_FOUND: wevtutil's exit code for an unknown channel


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    state: str  # RUNNING, STOPPED, ... (sc query)
    start_type: str  # AUTO_START, DEMAND_START, DISABLED, ... (sc qc)
    account: str  # SERVICE_START_NAME (sc qc)
    binary: str = ""


class ServerSystem(Protocol):
    """What `collect` asks of the server; each method raises CollectFailure with a reason an admin can act on."""

    def host_name(self) -> str: ...

    def identity_names(self) -> dict[str, str]:
        """The signed-in user, the computer and its domain (what --redact must hide even where no pattern finds it)."""
        ...

    def folder(self, variable: str) -> Path | None:
        """An environment folder (windir, ProgramData, ProgramFiles, ProgramFiles(x86)); None when not set."""
        ...

    def winhttp_proxy(self) -> str: ...

    def export_registry_key(self, key: str) -> str | None:
        """`reg export` text of one key; None when the key does not exist."""
        ...

    def registry_subkeys(self, key: str) -> list[str]: ...

    def registry_values(self, key: str) -> dict[str, RegValue]: ...

    def export_event_log(self, channel: str, query: str, destination: Path) -> None: ...

    def service(self, name: str) -> ServiceInfo | None:
        """None when the service is not installed."""
        ...


def copy_bytes(source: Path, destination: Path) -> None:
    """Copy a file's bytes by streaming (shutil.copyfile calls CopyFile2 on Windows, which Wine 8 lacks, and would
    also copy what we do not need: attributes and ACLs)."""
    with source.open("rb") as src, destination.open("wb") as dst:
        while block := src.read(1 << 20):
            dst.write(block)


def run_command(argv: list[str], timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[bytes]:
    """A Windows tool, with a hard timeout; its output decoded by the caller (console code page or UTF-16)."""
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise CollectFailure(f"{argv[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise CollectFailure(f"{argv[0]} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise CollectFailure(f"{argv[0]} could not run: {exc.strerror or exc}") from None


def console_text(data: bytes) -> str:
    """Output of a console tool: UTF-16 when it starts with a BOM or looks like it, else the OEM/ANSI code page."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 3 and data[1:4:2] == b"\x00\x00"):
        return data.decode("utf-16", errors="replace")
    for encoding in ("utf-8", "cp850", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _winreg() -> Any:
    """The winreg module (Windows only; typed loosely so the package type-checks on every OS)."""
    import importlib

    return importlib.import_module("winreg")


class WindowsSystem:
    """The real server: stdlib only (winreg, subprocess), so it runs on a plain Windows CPython."""

    def host_name(self) -> str:
        return os.environ.get("COMPUTERNAME") or socket.gethostname()

    def identity_names(self) -> dict[str, str]:
        names = {"user": os.environ.get("USERNAME", ""), "computer": self.host_name(),
                 "domain": os.environ.get("USERDOMAIN", ""), "dns_domain": os.environ.get("USERDNSDOMAIN", "")}
        return {k: v for k, v in names.items() if v}

    def folder(self, variable: str) -> Path | None:
        value = os.environ.get(variable) or (os.environ.get("SYSTEMROOT") if variable == "windir" else None)
        return Path(value) if value else None

    def winhttp_proxy(self) -> str:
        done = run_command(["netsh", "winhttp", "show", "proxy"], 30.0)
        text = console_text(done.stdout)
        if done.returncode != 0:
            raise CollectFailure(f"netsh exited {done.returncode}: {text.strip()[:200]}")
        if not text.strip():  # seen under Wine, whose netsh is a stub: an empty file would read as "no setting"
            raise CollectFailure("netsh printed nothing")
        return text

    def export_registry_key(self, key: str) -> str | None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="aadc-doctor-") as tmp:
            target = Path(tmp) / "key.reg"
            done = run_command(["reg", "export", key, str(target), "/y", "/reg:64"], 60.0)
            if done.returncode != 0:
                message = console_text(done.stderr or done.stdout).strip()
                if "unable to find" in message.lower():
                    return None
                raise CollectFailure(f"reg export exited {done.returncode}: {message[:200]}")
            data = target.read_bytes()
        return data.decode("utf-16") if data.startswith(b"\xff\xfe") else data.decode("utf-8", errors="replace")

    def _open(self, key: str) -> Any:
        winreg = _winreg()
        hive_name, _, path = normalize_key(key).partition("\\")
        hives = {"hkey_local_machine": winreg.HKEY_LOCAL_MACHINE, "hkey_users": winreg.HKEY_USERS}
        return winreg.OpenKey(hives[hive_name], path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY)

    def registry_subkeys(self, key: str) -> list[str]:
        winreg = _winreg()
        try:
            with self._open(key) as handle:
                count = winreg.QueryInfoKey(handle)[0]
                return [f"{key}\\{winreg.EnumKey(handle, i)}" for i in range(count)]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise CollectFailure(f"{key}: {exc.strerror or exc}") from None

    def registry_values(self, key: str) -> dict[str, RegValue]:
        winreg = _winreg()
        values: dict[str, RegValue] = {}
        try:
            with self._open(key) as handle:
                for i in range(winreg.QueryInfoKey(handle)[1]):
                    name, data, _kind = winreg.EnumValue(handle, i)
                    if isinstance(data, int | str | bytes | list):
                        values[name] = data
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CollectFailure(f"{key}: {exc.strerror or exc}") from None
        return values

    def export_event_log(self, channel: str, query: str, destination: Path) -> None:
        done = run_command(["wevtutil", "epl", channel, str(destination), f"/q:{query}", "/ow:true"])
        if done.returncode == CHANNEL_NOT_FOUND:
            raise NotPresent("the channel does not exist (its component is not installed)")
        if done.returncode != 0:
            raise CollectFailure(f"wevtutil exited {done.returncode}: "
                                 f"{console_text(done.stderr or done.stdout).strip()[:200]}")
        if not destination.is_file():  # Wine's wevtutil exits 0 and writes nothing
            raise CollectFailure("wevtutil reported success but wrote no file")

    def service(self, name: str) -> ServiceInfo | None:
        config = run_command(["sc", "qc", name], 30.0)
        if config.returncode == 1060:  # ERROR_SERVICE_DOES_NOT_EXIST
            return None
        if config.returncode != 0:
            raise CollectFailure(f"sc qc exited {config.returncode}: {console_text(config.stdout).strip()[:200]}")
        state = run_command(["sc", "query", name], 30.0)
        fields = parse_sc_output(console_text(config.stdout) + "\n" + console_text(state.stdout))
        return ServiceInfo(name, fields.get("STATE", ""), fields.get("START_TYPE", ""),
                           fields.get("SERVICE_START_NAME", ""), fields.get("BINARY_PATH_NAME", ""))


_SC_FIELD = re.compile(r"^\s*(?P<name>[A-Z_]+)\s*:\s*(?:\d+\s+)?(?P<value>.*?)\s*$")


def parse_sc_output(text: str) -> dict[str, str]:
    """``STATE : 4  RUNNING`` → {"STATE": "RUNNING"}; the first occurrence of each field wins."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        match = _SC_FIELD.match(line)
        if match and match.group("name") not in fields:
            fields[match.group("name")] = match.group("value")
    return fields


FAKE_FOLDERS = {"windir": "Windows", "ProgramData": "ProgramData", "ProgramFiles": "Program Files",
                "ProgramFiles(x86)": "Program Files (x86)"}


@dataclass
class FolderSystem:
    """A fake server: ``root`` holds ``Windows/``, ``ProgramData/``, ``Program Files/``...; the rest is given.

    ``event_logs`` maps a channel to an .evtx file copied as its export; ``failing`` maps a method name to the
    reason it fails (to test that a failure is listed, never a silent gap).
    """

    root: Path
    registry: Mapping[str, Mapping[str, RegValue]] = field(default_factory=dict)
    services: Mapping[str, ServiceInfo] = field(default_factory=dict)
    event_logs: Mapping[str, Path] = field(default_factory=dict)
    winhttp_text: str = "\r\nCurrent WinHTTP proxy settings:\r\n\r\n    Direct access (no proxy server).\r\n"
    name: str = "AADC01"
    identity: Mapping[str, str] = field(default_factory=dict)
    failing: Mapping[str, str] = field(default_factory=dict)
    queries: list[tuple[str, str]] = field(default_factory=list)

    def _fail(self, method: str) -> None:
        if method in self.failing:
            raise CollectFailure(self.failing[method])

    def host_name(self) -> str:
        return self.name

    def identity_names(self) -> dict[str, str]:
        return {"computer": self.name, **self.identity}

    def folder(self, variable: str) -> Path | None:
        sub = FAKE_FOLDERS.get(variable)
        return self.root / sub if sub else None

    def winhttp_proxy(self) -> str:
        self._fail("winhttp_proxy")
        return self.winhttp_text

    def _key(self, key: str) -> Mapping[str, RegValue] | None:
        wanted = normalize_key(key)
        return next((v for k, v in self.registry.items() if normalize_key(k) == wanted), None)

    def export_registry_key(self, key: str) -> str | None:
        self._fail("export_registry_key")
        wanted = normalize_key(key)
        found = {k: dict(v) for k, v in self.registry.items()
                 if normalize_key(k) == wanted or normalize_key(k).startswith(wanted + "\\")}
        return format_export(found) if found else None

    def registry_subkeys(self, key: str) -> list[str]:
        prefix = normalize_key(key) + "\\"
        return sorted(k for k in self.registry if normalize_key(k).startswith(prefix)
                      and "\\" not in normalize_key(k)[len(prefix):])

    def registry_values(self, key: str) -> dict[str, RegValue]:
        return dict(self._key(key) or {})

    def export_event_log(self, channel: str, query: str, destination: Path) -> None:
        self._fail("export_event_log")
        self.queries.append((channel, query))
        source = self.event_logs.get(channel)
        if source is None:
            raise NotPresent("the channel does not exist (its component is not installed)")
        copy_bytes(source, destination)

    def service(self, name: str) -> ServiceInfo | None:
        self._fail("service")
        return self.services.get(name)
