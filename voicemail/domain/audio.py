"""Telephony audio: 8 kHz, mono, 16-bit PCM in WAV files. Pure (stdlib only).

Uploaded greetings are normalised to that (channels mixed down, sample width converted,
resampled); anything that is not a PCM WAV, too long or too large is refused with a reason."""

import array
import io
import math
import sys
import wave

RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000  # 160 samples, 320 bytes of PCM, 160 of G.711


class AudioInvalid(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _samples(pcm: bytes) -> array.array:  # type: ignore[type-arg]
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _pcm(samples: array.array) -> bytes:  # type: ignore[type-arg]
    if sys.byteorder == "big":
        samples = array.array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def wav_bytes(pcm: bytes, rate: int = RATE) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def duration_ms(pcm: bytes, rate: int = RATE) -> int:
    return len(pcm) // 2 * 1000 // rate


def read_wav(data: bytes) -> tuple[bytes, int]:
    """(16-bit PCM, sample rate) of a PCM WAV file, mixed down to mono."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioInvalid("not_audio", "Upload a WAV file (PCM).") from exc
    if width not in (1, 2, 3, 4) or channels < 1 or not 4000 <= rate <= 192000:
        raise AudioInvalid("unsupported_audio", "Use 8 to 32-bit PCM at 4 to 192 kHz.")
    if width == 1:  # unsigned 8-bit
        values = [(b - 128) << 8 for b in frames]
    elif width == 2:
        values = list(_samples(frames))
    else:  # keep the 16 most significant bits (little-endian signed)
        values = [
            int.from_bytes(frames[i + width - 2 : i + width], "little", signed=True)
            for i in range(0, len(frames) - width + 1, width)
        ]
    if channels > 1:
        values = [
            sum(values[i : i + channels]) // channels
            for i in range(0, len(values) - channels + 1, channels)
        ]
    return _pcm(array.array("h", values)), rate


def resample(pcm: bytes, rate: int, target: int = RATE) -> bytes:
    """Linear interpolation; a low-pass of sorts by averaging when shrinking a lot."""
    if rate == target:
        return pcm
    source = _samples(pcm)
    if not source:
        return b""
    count = int(len(source) * target / rate)
    step = rate / target
    out = array.array("h", bytes(2 * count))
    last = len(source) - 1
    window = max(1, int(step))
    for i in range(count):
        position = i * step
        left = int(position)
        if window > 1:
            chunk = source[left : min(left + window, last + 1)]
            out[i] = sum(chunk) // len(chunk)
        else:
            right = min(left + 1, last)
            fraction = position - left
            out[i] = int(source[left] * (1 - fraction) + source[right] * fraction)
    return _pcm(out)


def normalise_upload(data: bytes, *, max_bytes: int, max_seconds: int) -> bytes:
    """An uploaded greeting as telephony WAV (8 kHz mono 16-bit), or AudioInvalid."""
    if len(data) > max_bytes:
        raise AudioInvalid("too_large", f"The file is larger than {max_bytes // 1_000_000} MB.")
    pcm, rate = read_wav(data)
    seconds = len(pcm) / 2 / rate
    if seconds > max_seconds:
        raise AudioInvalid("too_long", f"A greeting lasts at most {max_seconds} seconds.")
    if seconds < 0.2:
        raise AudioInvalid("too_short", "The recording is empty.")
    return wav_bytes(resample(pcm, rate))


def rms(pcm: bytes) -> float:
    samples = _samples(pcm)
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def tone_power(pcm: bytes, frequency: float, rate: int = RATE) -> float:
    """Goertzel: the relative power of `frequency` in the signal (0..1 of the total)."""
    samples = _samples(pcm)
    if not samples:
        return 0.0
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    previous = before = 0.0
    for sample in samples:
        previous, before = sample + coefficient * previous - before, previous
    power = previous * previous + before * before - coefficient * previous * before
    total = sum(s * s for s in samples) * len(samples) / 2
    return power / total if total else 0.0


def tone(frequency: float, seconds: float, amplitude: int = 8000, rate: int = RATE) -> bytes:
    count = int(seconds * rate)
    return _pcm(
        array.array(
            "h",
            (int(amplitude * math.sin(2 * math.pi * frequency * n / rate)) for n in range(count)),
        )
    )
