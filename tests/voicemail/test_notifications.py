"""After a deposit: a push to the owner's mobile app, an e-mail with the audio (local SMTP
server), the transcription hook; and retention. (Their tasks' retries: test_tasks.py.)"""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from devices.models import Device
from devices.push import bindings
from tests.factories import ExtensionFactory, make_device
from tests.fakes.apns import FakeApns
from tests.fakes.smtp import FakeSmtp
from voicemail import selectors, services
from voicemail.domain import audio
from voicemail.models import Message
from voicemail.notifications import EmailPending, message_email, message_push
from voicemail.retention import messages_purge_expired
from voicemail.transcription import message_transcribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings):
    fake = FakeSmtp()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", fake.port
    yield fake
    fake.stop()


def left_message(member, **mailbox_fields) -> Message:
    mailbox = selectors.mailbox_for_extension(
        extension=ExtensionFactory(owner=member, number="701")
    )
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
    bindings.push_binding_register(
        device=phone, provider="apns", token="a1" * 32, app_id="com.example.phone"
    )
    message = left_message(member, email_notifications=True)

    pushed = message_push(message_id=message.pk, may_retry=False)
    mailed = message_email(message_id=message.pk)
    mailed_again = message_email(message_id=message.pk)  # a redelivered task

    assert (pushed, mailed, mailed_again) == (1, True, False)
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
    assert Message.objects.get(pk=message.pk).emailed_at is not None


def test_smtp_down_loses_nothing_and_asks_for_a_retry(member, settings) -> None:
    from pbx.engine.process import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    message = left_message(member, email_notifications=True)

    with pytest.raises(EmailPending):
        message_email(message_id=message.pk)

    assert Message.objects.get(pk=message.pk).emailed_at is None


def test_the_transcription_hook_gets_the_recording(member, settings) -> None:
    settings.PBX_VOICEMAIL_TRANSCRIBER = "tests.voicemail.transcribers.tone_namer"
    message = left_message(member)

    text = message_transcribe(message_id=message.pk)

    assert text == "a 1000 Hz tone of 1200 ms"
    assert Message.objects.get(pk=message.pk).transcript == text


def test_messages_past_retention_are_purged(member, django_capture_on_commit_callbacks) -> None:
    message = left_message(member, retention_days=30)
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(days=31))

    with django_capture_on_commit_callbacks(execute=True):
        purged = messages_purge_expired(now=timezone.now())

    assert (purged.messages, purged.mailbox_ids) == (1, (message.mailbox_id,))
    assert not Message.objects.filter(pk=message.pk).exists()
    assert not default_storage.exists(message.audio.name)  # the audio went with it
