"""After a deposit: a push to the owner's mobile app, an e-mail with the audio (local SMTP
server), the transcription hook; and retention."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices import services as device_services
from devices.models import Device
from tests.factories import ExtensionFactory, make_device
from tests.fakes.apns import FakeApns
from tests.fakes.smtp import FakeSmtp
from voicemail import services
from voicemail.domain import audio
from voicemail.models import Message
from voicemail.notifications import message_notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings):
    fake = FakeSmtp()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", fake.port
    yield fake
    fake.stop()


def left_message(member, **mailbox_fields) -> Message:
    mailbox = services.mailbox_for_extension(extension=ExtensionFactory(owner=member, number="701"))
    for name, value in mailbox_fields.items():
        setattr(mailbox, name, value)
    mailbox.save()
    pcm = audio.tone(1000, 1.2)
    return services.voicemail_deposit(
        mailbox=mailbox,
        call_id="vm-1",
        wav=audio.wav_bytes(pcm),
        duration_ms=audio.duration_ms(pcm),
        caller="+33612345678",
        caller_name="Carol",
    ).message


def test_new_voicemail_pushes_an_alert_and_mails_the_audio(
    member, fake_apns: FakeApns, smtp: FakeSmtp
) -> None:
    phone = make_device(member, kind=Device.Kind.MOBILE_APP, label="iPhone")
    device_services.push_binding_register(
        device=phone, provider="apns", token="a1" * 32, app_id="com.example.phone"
    )
    message = left_message(member, email_notifications=True)

    outcome = message_notify(message_id=message.pk)

    assert outcome == "pushed 1, mailed True"
    [push] = fake_apns.requests
    assert push.headers["apns-push-type"] == "alert"  # not a VoIP push: nothing to ring
    assert push.headers["apns-topic"] == "com.example.phone"
    assert push.payload["aps"]["alert"] == {"title": "New voicemail", "body": "From Carol"}
    assert push.payload["type"] == "voicemail"
    assert push.payload["message_id"] == str(message.pk)
    [mail] = smtp.messages
    assert smtp.envelopes[0][1] == [member.email]
    assert mail["Subject"] == "New voicemail from Carol"
    [attachment] = [part for part in mail.walk() if part.get_filename()]
    assert attachment.get_content_type() == "audio/wav"
    pcm, _ = audio.read_wav(attachment.get_payload(decode=True))
    assert audio.tone_power(pcm, 1000) > 0.9


def test_smtp_down_loses_nothing(member, settings) -> None:
    from pbx.engine.process import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    message = left_message(member, email_notifications=True)

    assert message_notify(message_id=message.pk) == "pushed 0, mailed False"
    assert Message.objects.filter(pk=message.pk).exists()


def test_the_transcription_hook_gets_the_recording(member, settings) -> None:
    settings.PBX_VOICEMAIL_TRANSCRIBER = "tests.voicemail.transcribers.tone_namer"
    message = left_message(member)

    text = services.message_transcribe(message_id=message.pk)

    assert text == "a 1000 Hz tone of 1200 ms"
    assert Message.objects.get(pk=message.pk).transcript == text


def test_messages_past_retention_are_purged(member, django_capture_on_commit_callbacks) -> None:
    message = left_message(member, retention_days=30)
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(days=31))

    with django_capture_on_commit_callbacks(execute=False):
        assert services.messages_purge_expired(now=timezone.now()) == 1

    assert not Message.objects.filter(pk=message.pk).exists()
