"""G.711 (ITU-T) mu-law and A-law, to and from 16-bit linear PCM. Pure, table driven."""

import array
import sys


def _ulaw_to_linear(byte: int) -> int:
    byte = ~byte & 0xFF
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    sample = ((mantissa << 3) + 0x84) << exponent
    sample -= 0x84
    return -sample if sign else sample


def _alaw_to_linear(byte: int) -> int:
    byte ^= 0x55
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    sample = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return sample if sign else -sample


def _linear_to_ulaw(sample: int) -> int:
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    sample = min(abs(sample), clip) + bias
    exponent = 7
    for exp in range(8):
        if sample <= (0xFF << exp) | 0xFF and sample < (1 << (exp + 8)):
            exponent = exp
            break
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _linear_to_alaw(sample: int) -> int:
    sign = 0x80 if sample >= 0 else 0
    sample = min(abs(sample), 32767) >> 3
    if sample < 32:
        byte = sample >> 1
    else:
        exponent = sample.bit_length() - 5
        byte = (exponent << 4) | ((sample >> exponent) & 0x0F)
    return (sign | byte) ^ 0x55


ULAW_DECODE = [_ulaw_to_linear(b) for b in range(256)]
ALAW_DECODE = [_alaw_to_linear(b) for b in range(256)]
_ULAW_ENCODE = bytes(_linear_to_ulaw(s) for s in range(-32768, 32768))
_ALAW_ENCODE = bytes(_linear_to_alaw(s) for s in range(-32768, 32768))

PCMU, PCMA = 0, 8  # RTP payload types


def decode(payload: bytes, payload_type: int) -> bytes:
    """G.711 bytes -> 16-bit little-endian PCM."""
    table = ULAW_DECODE if payload_type == PCMU else ALAW_DECODE
    samples = array.array("h", (table[b] for b in payload))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def encode(pcm: bytes, payload_type: int) -> bytes:
    """16-bit little-endian PCM -> G.711 bytes."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    table = _ULAW_ENCODE if payload_type == PCMU else _ALAW_ENCODE
    return bytes(table[s + 32768] for s in samples)
