"""The few BER encodings a CLDAP ping needs (and a reader for the answer), to avoid a second ASN.1 stack."""

from __future__ import annotations


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def integer(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def octets(value: bytes | str, tag: int = 0x04) -> bytes:
    return tlv(tag, value.encode() if isinstance(value, str) else value)


def read_tlv(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, content, position after it); ValueError when the data is cut short."""
    if pos + 2 > len(data):
        raise ValueError("truncated BER element")
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad BER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > len(data):
        raise ValueError("truncated BER content")
    return tag, data[pos:pos + length], pos + length


def children(content: bytes) -> list[tuple[int, bytes]]:
    out = []
    pos = 0
    while pos < len(content):
        tag, value, pos = read_tlv(content, pos)
        out.append((tag, value))
    return out
