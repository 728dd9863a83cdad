"""The optional transcription hook (`PBX_VOICEMAIL_TRANSCRIBER`: a dotted path to a callable
taking WAV bytes and returning text). It runs in a worker after the deposit committed: a slow
or failing transcriber never delays or loses a message."""

from django.conf import settings
from django.utils.module_loading import import_string

from voicemail.models import Message

TRANSCRIPT_MAX_CHARS = 10_000


class TranscriptionFailed(Exception):
    """The transcriber raised: worth another try later (a speech service down, a timeout)."""


def message_transcribe(*, message_id: int) -> str:
    """Transcribe a message once: a message already transcribed keeps its text. Raises
    TranscriptionFailed when the transcriber fails, OSError when the audio cannot be read."""
    message = Message.objects.filter(pk=message_id).first()
    if message is None or not settings.PBX_VOICEMAIL_TRANSCRIBER:
        return ""
    if message.transcript:
        return message.transcript
    transcriber = import_string(settings.PBX_VOICEMAIL_TRANSCRIBER)
    with message.audio.open("rb") as audio:
        wav = audio.read()
    try:
        text = str(transcriber(wav))[:TRANSCRIPT_MAX_CHARS]
    except Exception as exc:  # any failure of a plug-in is a failed attempt
        raise TranscriptionFailed(f"{type(exc).__name__}: {exc}") from exc
    Message.objects.filter(pk=message_id).update(transcript=text)
    return text
