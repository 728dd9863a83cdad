"""A transcriber for tests: it 'transcribes' by analysing the audio (it names the tone it
hears), so the test can tell the hook really received the recording."""

from voicemail.domain import audio


def tone_namer(wav: bytes) -> str:
    pcm, _ = audio.read_wav(wav)
    best = max((440, 1000, 1400), key=lambda hz: audio.tone_power(pcm, hz))
    return f"a {best} Hz tone of {audio.duration_ms(pcm)} ms"


class SpeechServiceDown(RuntimeError):
    pass


# calls to the transcribers below, by name (tests reset it); the worker runs in this process
calls: dict[str, int] = {}


def fails_once(wav: bytes) -> str:
    """A speech service that is down for the first attempt, then answers."""
    calls["fails_once"] = calls.get("fails_once", 0) + 1
    if calls["fails_once"] == 1:
        raise SpeechServiceDown("503 from the speech service")
    return tone_namer(wav)


def always_fails(wav: bytes) -> str:
    calls["always_fails"] = calls.get("always_fails", 0) + 1
    raise SpeechServiceDown("503 from the speech service")
