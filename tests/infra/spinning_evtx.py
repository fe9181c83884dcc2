"""An .evtx on which the evtx package (0.14.0, Linux and Windows builds alike) loops forever, built from the corpus.

Found by the fuzz suite (tests/fuzz/test_fuzz_binary_parsers.py) under Windows CPython, where it hung the
Windows lane: ``e2m_ID4625_account_restriction.evtx`` with 12 bytes of its chunk header changed. Minimised on
Linux to the two below (a byte each in the chunk's string-offset table, at chunk offsets 136 and 218): with
them, ``PyEvtxParser(path).records()`` never returns from its first step, in native code, holding the GIL.
The chunk header's CRC32 no longer holds, so ``evtx_reader.damage_in`` sends the file to the guarded reader.
Built from the corpus at test time (the repository keeps no damaged copy).
"""

from __future__ import annotations

from pathlib import Path

SOURCE = "e2m_ID4625_account_restriction.evtx"
PATCH = {4232: 218, 4314: 136}  # file offset -> byte value


def write_spinning_evtx(corpus: Path, target: Path) -> Path:
    data = bytearray((corpus / "evtx" / SOURCE).read_bytes())
    for offset, value in PATCH.items():
        data[offset] = value
    target.write_bytes(bytes(data))
    return target
