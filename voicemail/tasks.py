"""Voicemail side effects, thin: MWI through the engine, notifications of new messages."""

import secrets

from celery import shared_task
from django.utils import timezone

from devices.models import Registration
from pbx.engine.client import ENGINE_RETRY, engine_client
from voicemail.domain.mwi import message_summary
from voicemail.models import Mailbox
from voicemail.notifications import message_notify
from voicemail.services import mailbox_counts, message_transcribe, messages_purge_expired


@shared_task(
    name="engine.send_mwi",
    **ENGINE_RETRY,
    max_retries=20,
)
def send_mwi(*, mailbox_id: int, device_id: int | None = None) -> int:
    """An unsolicited message-summary NOTIFY to every registered device of the mailbox's
    owner (or one device, when it has just registered). Idempotent: it states the counts."""
    mailbox = Mailbox.objects.select_related("extension", "tenant").filter(pk=mailbox_id).first()
    if mailbox is None:
        return 0
    new, old = mailbox_counts(mailbox)
    domain = mailbox.tenant.sip_domain
    account = f"sip:{mailbox.extension.number}@{domain}"
    body = message_summary(account=account, new=new, old=old)
    registrations = Registration.objects.filter(
        device__user_id=mailbox.extension.owner_id,
        device__enabled=True,
        device__revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).select_related("device")
    if device_id is not None:
        registrations = registrations.filter(device_id=device_id)
    client = engine_client()
    sent = 0
    for registration in registrations:
        to = f"sip:{registration.device.sip_username}@{domain}"
        headers = (
            f"From: <{account}>;tag={secrets.token_hex(6)}\r\n"
            f"To: <{to}>\r\n"
            f"Contact: <{account}>\r\n"
            "Event: message-summary\r\n"
            "Subscription-State: active\r\n"
            "Content-Type: application/simple-message-summary\r\n"
        )
        client.send_request(method="NOTIFY", uri=registration.contact, headers=headers, body=body)
        sent += 1
    return sent


@shared_task(name="push.voicemail", max_retries=5, retry_backoff=2, acks_late=True)
def notify_new_message(*, message_id: int) -> str:
    return message_notify(message_id=message_id)


@shared_task(name="voicemail.transcribe", max_retries=3, retry_backoff=5, acks_late=True)
def transcribe(*, message_id: int) -> str:
    return message_transcribe(message_id=message_id)


@shared_task(name="voicemail.purge_expired")
def purge_expired() -> int:
    return messages_purge_expired(now=timezone.now())
