"""Telling the owner about a new message: a push to their mobile apps, an e-mail with the
audio attached when they asked for it. Each is best effort and never blocks the deposit."""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from devices.domain.push import PushKind
from devices.models import Device, PushBinding
from devices.push.deliveries import delivery_open, delivery_send
from devices.push.messages import PushMessage
from voicemail.models import Message

logger = logging.getLogger(__name__)


def message_notify(*, message_id: int) -> str:
    message = (
        Message.objects.select_related("mailbox__extension__owner", "tenant")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return "gone"
    owner = message.mailbox.extension.owner
    pushed = 0
    apps = Device.objects.filter(
        user=owner, kind=Device.Kind.MOBILE_APP, enabled=True, revoked_at__isnull=True
    ).filter(pk__in=PushBinding.objects.filter(dead_at__isnull=True).values("device_id"))
    push = PushMessage(
        kind=PushKind.VOICEMAIL,
        call_id=message.call_id,
        caller_name=message.caller_name,
        caller_number=message.caller,
        message_id=str(message.pk),
    )
    for device in apps:
        delivery = delivery_open(device=device, call_id=message.call_id, kind=PushKind.VOICEMAIL)
        outcome = delivery_send(
            delivery_id=delivery.pk, message=push, now=timezone.now(), may_retry=False
        )
        pushed += getattr(outcome, "status", "") == "sent"
    mailed = False
    if message.mailbox.email_notifications and owner.email:
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
            mailed = True
        except OSError as exc:  # SMTP down: the message is in the mailbox all the same
            logger.warning("voicemail e-mail to %s failed: %s", owner.pk, exc)
    return f"pushed {pushed}, mailed {mailed}"
