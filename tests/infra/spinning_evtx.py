"""An .evtx on which the evtx package (0.14.0, Linux and Windows builds alike) loops forever, built from the corpus.

Found by the fuzz suite (tests/fuzz/test_fuzz_binary_parsers.py) under Windows CPython, where it hung the
Windows lane: ``e2m_ID4625_account_restriction.evtx`` with 12 bytes of its chunk header changed. Minimised on
Linux to the two below (a byte each in the chunk's string-offset table, at chunk offsets 136 and 218): with
them, ``PyEvtxParser(path).records()`` never returns from its first step, in native code, holding the GIL.
The chunk header's CRC32 no longer holds, and a string-table chain loops (218 -> 136 -> 218), so
``evtx_reader.damage_in`` sends the chunk to the guarded reader.
Built from the corpus at test time (the repository keeps no damaged copy).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SOURCE = "e2m_ID4625_account_restriction.evtx"
PATCH = {4232: 218, 4314: 136}  # file offset -> byte value


def write_spinning_evtx(corpus: Path, target: Path, *, fix_checksums: bool = False) -> Path:
    """The looping log; with ``fix_checksums``, as an attacker would craft it: the chunk's CRC32s made to hold
    again, so only the string table's chain (218 -> 136 -> 218, a cycle) gives it away."""
    data = bytearray((corpus / "evtx" / SOURCE).read_bytes())
    for offset, value in PATCH.items():
        data[offset] = value
    if fix_checksums:
        chunk = 4096
        free_space = struct.unpack_from("<I", data, chunk + 48)[0]
        struct.pack_into("<I", data, chunk + 52, zlib.crc32(bytes(data[chunk + 512:chunk + free_space])))
        struct.pack_into("<I", data, chunk + 124,
                         zlib.crc32(bytes(data[chunk:chunk + 120]) + bytes(data[chunk + 128:chunk + 512])))
    target.write_bytes(bytes(data))
    return target
