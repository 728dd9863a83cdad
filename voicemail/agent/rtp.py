"""RTP packets (RFC 3550) and telephone-events (RFC 4733). Pure."""

import struct
from dataclasses import dataclass

DTMF_KEYS = "0123456789*#ABCD"


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def parse(data: bytes) -> RtpPacket | None:
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    first, second, sequence, timestamp, ssrc = struct.unpack("!BBHII", data[:12])
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if len(data) < offset + 4:
            return None
        length = struct.unpack("!H", data[offset + 2 : offset + 4])[0]
        offset += 4 + 4 * length
    payload = data[offset:]
    if first & 0x20 and payload:  # padding
        payload = payload[: -payload[-1]]
    return RtpPacket(second & 0x7F, sequence, timestamp, ssrc, bool(second & 0x80), payload)


def build(
    *,
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    marker: bool = False,
) -> bytes:
    return (
        struct.pack(
            "!BBHII",
            0x80,
            (0x80 if marker else 0) | payload_type,
            sequence & 0xFFFF,
            timestamp & 0xFFFFFFFF,
            ssrc,
        )
        + payload
    )


@dataclass(frozen=True)
class DtmfEvent:
    key: str
    end: bool
    timestamp: int


def dtmf(packet: RtpPacket) -> DtmfEvent | None:
    if len(packet.payload) < 4 or packet.payload[0] >= len(DTMF_KEYS):
        return None
    return DtmfEvent(DTMF_KEYS[packet.payload[0]], bool(packet.payload[1] & 0x80), packet.timestamp)
