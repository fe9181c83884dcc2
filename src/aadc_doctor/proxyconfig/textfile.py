"""Read small text inputs (saved command output, PAC files) the way Windows writes them.

``netsh ... > file`` in Windows PowerShell 5 writes UTF-16 LE with a BOM; cmd writes the OEM code page;
editors write UTF-8 with or without a BOM. Binary junk is refused with one line.
"""

from __future__ import annotations

from pathlib import Path

from aadc_doctor.errors import InputError


def decode_text(data: bytes, *, name: str, what: str) -> str:
    """Decode by BOM, then UTF-8, then Windows-1252 (never fails on legacy code pages); refuse binary."""
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    else:
        if b"\x00" in data[:4096]:
            raise InputError(f"{name}: not a text {what} (binary data)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise InputError(f"{name}: not a text {what} (binary data)")
    return text


def read_text_file(path: Path, *, what: str, max_bytes: int) -> str:
    """The decoded text of a user file, or an InputError naming the file."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a {what}")
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(f"{path}: larger than {_size(max_bytes)}; this is not a {what}")
    text = decode_text(data, name=str(path), what=what)
    if not text.strip():
        raise InputError(f"{path}: the file is empty; expected a {what}")
    return text


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 and n % (1024 * 1024) == 0 else f"{n // 1024} KiB"
