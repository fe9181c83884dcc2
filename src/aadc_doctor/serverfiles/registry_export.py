"""``reg export`` text (``Windows Registry Editor Version 5.00``): keys and their values, parsed without Windows.

`collect` saves the registry values that matter this way (the format an admin can also produce and read),
and `analyze` reads them back, so both work from the same text on any OS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from aadc_doctor.errors import InputError

HEADER = "Windows Registry Editor Version 5.00"
ABSENT_MARK = "; aadc-doctor: key not found: "  # a comment reg.exe ignores; `collect` writes it for a missing key
_VALUE = re.compile(r'^(?:"(?P<name>(?:[^"\\]|\\.)*)"|(?P<default>@))=(?P<data>.*)$')
_HIVES = {"HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER", "HKCR": "HKEY_CLASSES_ROOT",
          "HKU": "HKEY_USERS", "HKCC": "HKEY_CURRENT_CONFIG"}

RegValue = int | str | list[str] | bytes


@dataclass
class RegistryExport:
    """Every key of one or more exports; names compared case-insensitively, as Windows does."""

    keys: dict[str, dict[str, RegValue]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    absent: set[str] = field(default_factory=set)  # keys the exporter looked for and did not find

    def knows(self, key: str) -> bool:
        """True when the exports say whether ``key`` exists (it is exported, or recorded as absent)."""
        normalized = normalize_key(key)
        return normalized in self.keys or normalized in self.absent

    def values(self, key: str) -> dict[str, RegValue] | None:
        return self.keys.get(normalize_key(key))

    def value(self, key: str, name: str) -> RegValue | None:
        values = self.values(key)
        return None if values is None else values.get(name.lower())

    def subkeys(self, key: str) -> list[str]:
        """Direct and deeper subkeys of ``key`` that the exports hold (their normalized names)."""
        prefix = normalize_key(key) + "\\"
        return sorted(k for k in self.keys if k.startswith(prefix))

    def merge(self, other: RegistryExport) -> None:
        for key, values in other.keys.items():
            self.keys.setdefault(key, {}).update(values)
        self.absent |= other.absent
        self.files.extend(other.files)


def normalize_key(key: str) -> str:
    head, _, rest = key.strip().strip("[]").partition("\\")
    head = _HIVES.get(head.upper(), head.upper())
    return (head + ("\\" + rest if rest else "")).lower()


def decode_export(data: bytes) -> str:
    """reg.exe writes UTF-16 LE with a BOM; a hand-made file may be UTF-8."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16")
    return data.decode("utf-8-sig", errors="replace")


def looks_like_export(head: bytes) -> bool:
    text = decode_export(head[:4096] if len(head) % 2 == 0 else head[:4095])
    return text.lstrip().startswith((HEADER, "REGEDIT4"))


def parse_export(text: str, name: str = "") -> RegistryExport:
    """Keys and values of one export; continuation lines (``\\`` at the end) are joined first."""
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].lstrip("\ufeff").strip().startswith((HEADER, "REGEDIT4")):
        raise InputError(f"{name or 'registry export'}: not a 'reg export' file",
                         hint=f"the first line of a registry export is '{HEADER}'")
    export = RegistryExport(files=[name] if name else [])
    current: dict[str, RegValue] | None = None
    pending = ""
    for raw in lines[1:]:
        line = pending + raw.strip() if pending else raw.strip()
        if line.endswith("\\") and not line.startswith("["):
            pending = line[:-1]
            continue
        pending = ""
        if line.startswith(ABSENT_MARK):
            export.absent.add(normalize_key(line[len(ABSENT_MARK):].strip()))
            continue
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            if line.startswith("[-"):
                current = None
                continue
            current = export.keys.setdefault(normalize_key(line[1:-1]), {})
            continue
        match = _VALUE.match(line)
        if match is None or current is None:
            continue
        value_name = "" if match.group("default") else match.group("name").replace('\\"', '"').replace("\\\\", "\\")
        current[value_name.lower()] = _value(match.group("data"))
    return export


def read_export(path: Path) -> RegistryExport:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_export(decode_export(data), str(path))


def _value(data: str) -> RegValue:
    if data.startswith('"') and data.endswith('"'):
        return data[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if data.lower().startswith("dword:"):
        try:
            return int(data[6:], 16)
        except ValueError:
            return data
    if data.lower().startswith("hex"):
        kind, _, body = data.partition(":")
        octets = bytes(int(b, 16) for b in body.replace(" ", "").split(",") if b)
        if kind.lower() == "hex(b)":
            return int.from_bytes(octets[:8], "little")
        if kind.lower() == "hex(7)":
            return [s for s in octets.decode("utf-16-le", errors="replace").split("\x00") if s]
        if kind.lower() == "hex(2)":
            return octets.decode("utf-16-le", errors="replace").rstrip("\x00")
        return octets
    return data


def format_export(keys: dict[str, dict[str, RegValue]], absent: tuple[str, ...] = ()) -> str:
    """The text `reg export` writes for these keys (used by the test double), plus the keys found absent."""
    out = [HEADER, ""] + [ABSENT_MARK + key for key in absent]
    for key, values in keys.items():
        out.append(f"[{key}]")
        for name, value in values.items():
            shown = "@" if name == "" else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
            if isinstance(value, int):
                out.append(f"{shown}=dword:{value:08x}")
            elif isinstance(value, str):
                out.append(f'{shown}="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
            elif isinstance(value, list):
                octets = ("\x00".join(value) + "\x00\x00").encode("utf-16-le")
                out.append(f"{shown}=hex(7):" + ",".join(f"{b:02x}" for b in octets))
            else:
                out.append(f"{shown}=hex:" + ",".join(f"{b:02x}" for b in value))
        out.append("")
    return "\r\n".join(out) + "\r\n"
