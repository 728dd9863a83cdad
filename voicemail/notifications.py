"""Telling the owner about a new message: a push to their mobile apps, an e-mail with the
audio attached when they asked for it. Two separate jobs on two queues (a slow SMTP server
never holds up call wake-up pushes); each records what it sent, so a retry or a redelivered
task sends only what is still missing. Neither ever blocks or undoes the deposit."""

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from devices.domain.push import PushKind
from devices.models import Device, PushBinding, PushDelivery
from devices.push.deliveries import RetryLater, delivery_open, delivery_send
from devices.push.messages import PushMessage
from voicemail.models import Message

logger = logging.getLogger(__name__)


class PushPending(Exception):
    """A provider failed in a way worth retrying; `after` is its hint in seconds (or None)."""

    def __init__(self, pending: int, after: float | None) -> None:
        super().__init__(f"{pending} voicemail push(es) to retry")
        self.after = after


class EmailPending(Exception):
    """The SMTP server could not take the e-mail now (4xx, connection refused, timeout)."""


def message_push(*, message_id: int, may_retry: bool) -> int:
    """Push a new-message alert to each of the owner's mobile apps; returns how many pushes
    stand sent. One `PushDelivery` per message and device: a device pushed already is never
    pushed again. Raises PushPending when `may_retry` and a provider failed transiently;
    without `may_retry` (the last attempt) such a push is recorded as failed."""
    message = (
        Message.objects.select_related("mailbox__extension__owner").filter(pk=message_id).first()
    )
    if message is None:
        return 0
    apps = Device.objects.filter(
        user=message.mailbox.extension.owner,
        kind=Device.Kind.MOBILE_APP,
        enabled=True,
        revoked_at__isnull=True,
    ).filter(pk__in=PushBinding.objects.filter(dead_at__isnull=True).values("device_id"))
    push = PushMessage(
        kind=PushKind.VOICEMAIL,
        call_id=message.call_id,
        caller_name=message.caller_name,
        caller_number=message.caller,
        message_id=str(message.pk),
    )
    sent, pending, hints = 0, 0, []
    for device in apps:
        delivery = delivery_open(device=device, call_id=message.call_id, kind=PushKind.VOICEMAIL)
        outcome = delivery_send(
            delivery_id=delivery.pk, message=push, now=timezone.now(), may_retry=may_retry
        )
        if isinstance(outcome, RetryLater):
            pending += 1
            hints += [outcome.after] if outcome.after is not None else []
        elif outcome.status == PushDelivery.Status.SENT:
            sent += 1
    if pending:
        raise PushPending(pending, max(hints) if hints else None)
    return sent


def message_email(*, message_id: int) -> bool:
    """E-mail the owner the message with its audio, once: True when sent by this call. The
    message row stays locked during the SMTP exchange, so two copies of the task never both
    send (an edit of that message waits for it, at most `EMAIL_TIMEOUT`); a worker killed
    between the server's 250 and the commit sends it again. Raises EmailPending on a
    transient failure; a permanent refusal (5xx) is logged and not retried."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("mailbox__extension__owner")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.emailed_at is not None:
            return False
        owner = message.mailbox.extension.owner
        if not (message.mailbox.email_notifications and owner.email):
            return False
        who = message.caller_name or message.caller or "an unknown caller"
        email = EmailMessage(
            subject=f"New voicemail from {who}",
            body=(
                f"{who} left you a message of {message.duration_ms // 1000} s on "
                f"{timezone.localtime(message.created_at):%Y-%m-%d %H:%M}.\n"
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[owner.email],
        )
        with message.audio.open("rb") as audio:
            email.attach(f"voicemail-{message.pk}.wav", audio.read(), "audio/wav")
        try:
            email.send()
        except OSError as exc:  # smtplib.SMTPException is an OSError, as are socket errors
            if _refused_for_good(exc):
                logger.warning("voicemail e-mail to user %s refused: %s", owner.pk, exc)
                return False
            raise EmailPending(f"{type(exc).__name__}: {exc}") from exc
        Message.objects.filter(pk=message.pk).update(emailed_at=timezone.now())
    return True


def _refused_for_good(exc: OSError) -> bool:
    """A 5xx answer (RFC 5321 4.2.1): sending the same e-mail again will not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
