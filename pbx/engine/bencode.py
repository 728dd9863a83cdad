"""Bencoding (the encoding of rtpengine's ng control protocol). Pure.

Strings come back as `str` when they are UTF-8, else as `bytes`; integers as `int`."""

from typing import Any


class BencodeError(ValueError):
    pass


def bencode(value: Any) -> bytes:
    if isinstance(value, bool):
        raise BencodeError("booleans have no bencoding")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list | tuple):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise BencodeError(f"cannot bencode {type(value).__name__}")


def bdecode(data: bytes) -> Any:
    value, end = _decode(data, 0)
    if end != len(data):
        raise BencodeError(f"trailing data at {end}")
    return value


def _decode(data: bytes, at: int) -> tuple[Any, int]:
    if at >= len(data):
        raise BencodeError("truncated")
    lead = data[at : at + 1]
    if lead == b"i":
        end = data.index(b"e", at)
        return int(data[at + 1 : end]), end + 1
    if lead == b"l":
        items, at = [], at + 1
        while data[at : at + 1] != b"e":
            item, at = _decode(data, at)
            items.append(item)
        return items, at + 1
    if lead == b"d":
        result: dict[Any, Any] = {}
        at += 1
        while data[at : at + 1] != b"e":
            key, at = _decode(data, at)
            result[key], at = _decode(data, at)
        return result, at + 1
    if lead.isdigit():
        colon = data.index(b":", at)
        length = int(data[at:colon])
        raw = data[colon + 1 : colon + 1 + length]
        if len(raw) != length:
            raise BencodeError("truncated string")
        try:
            return raw.decode(), colon + 1 + length
        except UnicodeDecodeError:
            return raw, colon + 1 + length
    raise BencodeError(f"unexpected {lead!r} at {at}")
