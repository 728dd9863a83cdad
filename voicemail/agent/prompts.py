"""The system's spoken prompts, synthesised once with espeak-ng (Debian package) and kept as
8 kHz PCM. Without espeak-ng the prompts are short tone patterns, and a warning says so."""

import hashlib
import logging
import shutil
import subprocess
from pathlib import Path

from voicemail.domain.audio import read_wav, resample, tone

logger = logging.getLogger(__name__)

TEXTS = {
    "unavailable": "The person you are calling is not available. "
    "Please leave a message after the tone. Press the hash key when you are done.",
    "busy": "The person you are calling is on another call. "
    "Please leave a message after the tone. Press the hash key when you are done.",
    "after_name": "is not available. Please leave a message after the tone.",
    "cannot_take": "Sorry, this voicemail cannot take messages right now. "
    "Please try again later. Goodbye.",
}


def beep() -> bytes:
    return tone(1400, 0.25, amplitude=6000)


def synthesise(text: str, cache: Path) -> bytes:
    """16-bit 8 kHz PCM of `text`."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / (hashlib.sha256(text.encode()).hexdigest()[:24] + ".pcm")
    if path.exists():
        return path.read_bytes()
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        logger.warning("espeak-ng is not installed: prompts are tones (install espeak-ng)")
        return tone(480, 0.4) + bytes(1600) + tone(480, 0.4)
    wav = subprocess.run(  # noqa: S603 - fixed program, text is ours
        [espeak, "-v", "en-us", "-s", "165", "--stdout", text],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    pcm, rate = read_wav(wav)
    pcm = resample(pcm, rate)
    path.write_bytes(pcm)
    return pcm


class Prompts:
    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self._loaded: dict[str, bytes] = {}

    def get(self, name: str) -> bytes:
        if name not in self._loaded:
            self._loaded[name] = synthesise(TEXTS[name], self.cache)
        return self._loaded[name]

    def warm(self) -> None:
        for name in TEXTS:
            self.get(name)
