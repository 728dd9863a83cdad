"""Voicemail side effects, thin: MWI through the engine, a new message's push (queue `push`)
and e-mail (queue `default`: a slow SMTP server never holds up call wake-ups), transcription,
retention. Each task owns its retry policy and is idempotent: it records what it did, so a
retry or a redelivered task does only what is still missing."""

import secrets

from celery import Task, shared_task
from django.utils import timezone

from devices.models import Registration
from pbx.engine.client import ENGINE_RETRY, engine_client, received_address
from voicemail.domain.mwi import message_summary
from voicemail.models import Mailbox
from voicemail.notifications import EmailPending, PushPending, message_email, message_push
from voicemail.retention import messages_purge_expired
from voicemail.selectors import mailbox_counts
from voicemail.transcription import TranscriptionFailed, message_transcribe

RETRY_MAX_SECONDS = 600.0


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
        # A phone behind NAT (or on a connection) is reached where its REGISTER came from.
        live = client.registrations(aor=f"{registration.device.sip_username}@{domain}")
        next_hop = next(
            (received_address(c) for c in live if c.get("Address") == registration.contact), ""
        )
        headers = (
            f"From: <{account}>;tag={secrets.token_hex(6)}\r\n"
            f"To: <{to}>\r\n"
            f"Contact: <{account}>\r\n"
            "Event: message-summary\r\n"
            "Subscription-State: active\r\n"
            "Content-Type: application/simple-message-summary\r\n"
        )
        client.send_request(
            method="NOTIFY",
            uri=registration.contact,
            headers=headers,
            body=body,
            next_hop=next_hop,
        )
        sent += 1
    return sent


def _retry_in(task: Task, hint: float | None = None) -> float:
    """Seconds before the next attempt: the provider's hint, else the task's
    `default_retry_delay` doubled at each attempt; never more than RETRY_MAX_SECONDS."""
    if hint is None:
        hint = task.default_retry_delay * 2**task.request.retries
    return min(hint, RETRY_MAX_SECONDS)


@shared_task(name="push.voicemail", bind=True, max_retries=5, default_retry_delay=2, acks_late=True)
def push_new_message(self: Task, *, message_id: int) -> int:
    """Alert the owner's mobile apps. A provider's transient failure (429, 5xx, unreachable)
    is retried; the last attempt records a push that still fails as failed."""
    try:
        return message_push(
            message_id=message_id, may_retry=self.request.retries < self.max_retries
        )
    except PushPending as pending:
        raise self.retry(exc=pending, countdown=_retry_in(self, pending.after)) from pending
    except OSError as exc:
        raise self.retry(exc=exc, countdown=_retry_in(self)) from exc


@shared_task(
    name="voicemail.email", bind=True, max_retries=5, default_retry_delay=30, acks_late=True
)
def email_new_message(self: Task, *, message_id: int) -> bool:
    """E-mail the owner the message (when they asked for it). SMTP down or answering 4xx:
    retried for about a quarter of an hour; a 5xx refusal is final."""
    try:
        return message_email(message_id=message_id)
    except (EmailPending, OSError) as exc:
        raise self.retry(exc=exc, countdown=_retry_in(self)) from exc


@shared_task(
    name="voicemail.transcribe", bind=True, max_retries=3, default_retry_delay=5, acks_late=True
)
def transcribe(self: Task, *, message_id: int) -> str:
    """Run the transcription hook; a transcriber that raises, or audio that cannot be read,
    is tried again."""
    try:
        return message_transcribe(message_id=message_id)
    except (TranscriptionFailed, OSError) as exc:
        raise self.retry(exc=exc, countdown=_retry_in(self)) from exc


@shared_task(name="voicemail.purge_expired")
def purge_expired() -> int:
    """Hourly: drop expired messages, then tell the affected mailboxes' devices (MWI)."""
    purged = messages_purge_expired(now=timezone.now())
    for mailbox_id in purged.mailbox_ids:
        send_mwi.delay(mailbox_id=mailbox_id)
    return purged.messages
