"""A transcriber for tests: it 'transcribes' by analysing the audio (it names the tone it
hears), so the test can tell the hook really received the recording."""

from voicemail.domain import audio


def tone_namer(wav: bytes) -> str:
    pcm, _ = audio.read_wav(wav)
    best = max((440, 1000, 1400), key=lambda hz: audio.tone_power(pcm, hz))
    return f"a {best} Hz tone of {audio.duration_ms(pcm)} ms"
