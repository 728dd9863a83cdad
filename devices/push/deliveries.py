"""Send one push for one call to one device, exactly as recorded in `PushDelivery`.

The delivery row is locked while its push is in flight, so two copies of a task (a duplicate
enqueue, a redelivery after a worker died) never both send: the second finds it sent. A worker
killed between the provider's answer and the commit leaves the row pending and the push is sent
again: at least once, with the same `apns-id` and `call_id`, which apps use to drop the copy."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from devices.domain.push import PushFailure, PushKind, PushProvider, PushRefused
from devices.models import Device, PushBinding, PushDelivery
from devices.push.messages import PushMessage
from devices.push.senders import apns_sender, fcm_sender
from pbx.directory import generations


@dataclass(frozen=True)
class RetryLater:
    """The provider failed in a way worth retrying; `after` is its hint in seconds (or None)."""

    delivery_id: int | None
    failure: PushFailure | None
    after: float | None


def _send(binding: PushBinding, message: PushMessage) -> str:
    if binding.provider == PushProvider.FCM:
        return fcm_sender().send(token=binding.token, message=message)
    return apns_sender().send(
        token=binding.token,
        app_id=binding.app_id,
        sandbox=binding.environment == PushBinding.Environment.SANDBOX,
        message=message,
        device_id=binding.device_id,
    )


def binding_mark_dead(*, binding: PushBinding, reason: str, now: datetime) -> None:
    """Never use this token again; the device cannot be woken until the app sends a new one."""
    PushBinding.objects.filter(pk=binding.pk, dead_at__isnull=True).update(
        dead_at=now, dead_reason=reason[:120]
    )
    user_id = Device.objects.filter(pk=binding.device_id).values_list("user_id", flat=True).get()
    generations.people_changed([user_id])


def delivery_open(*, device: Device, call_id: str, kind: PushKind) -> PushDelivery:
    delivery, _ = PushDelivery.objects.get_or_create(
        device=device,
        call_id=call_id,
        kind=kind.value,
        defaults={"tenant_id": device.tenant_id},  # the provider is set when it is sent
    )
    return delivery


def delivery_give_up(*, delivery_id: int) -> None:
    """Retries ran out (the call stopped ringing the device): the last failure stands."""
    PushDelivery.objects.filter(pk=delivery_id, status=PushDelivery.Status.PENDING).update(
        status=PushDelivery.Status.FAILED
    )


@transaction.atomic
def delivery_send(
    *, delivery_id: int, message: PushMessage, now: datetime, may_retry: bool
) -> PushDelivery | RetryLater:
    """Send a pending delivery. Returns the finished delivery, or RetryLater when the failure
    is transient and `may_retry` (the caller knows whether the call's ring time allows it)."""
    delivery = PushDelivery.objects.select_for_update().get(pk=delivery_id)
    if delivery.status != PushDelivery.Status.PENDING:
        return delivery  # sent, failed or skipped already: never twice
    binding = PushBinding.objects.filter(device_id=delivery.device_id).first()
    if binding is None or binding.is_dead:
        delivery.provider = binding.provider if binding else ""
        delivery.status = PushDelivery.Status.FAILED
        delivery.failure = (
            PushFailure.UNREGISTERED.value if binding else PushFailure.NOT_CONFIGURED.value
        )
        delivery.detail = "the device has no live push token"
        delivery.save(update_fields=["provider", "status", "failure", "detail"])
        return delivery
    delivery.attempts += 1
    delivery.provider = binding.provider
    try:
        delivery.provider_message_id = _send(binding, message)[:200]
    except PushRefused as refused:
        delivery.failure = refused.failure.value
        delivery.detail = refused.detail[:200]
        if refused.failure.token_is_dead:
            binding_mark_dead(binding=binding, reason=refused.failure.value, now=now)
        elif refused.failure.retryable and may_retry:
            delivery.save(update_fields=["attempts", "provider", "failure", "detail"])
            return RetryLater(delivery.pk, refused.failure, refused.retry_after)
        delivery.status = PushDelivery.Status.FAILED
        delivery.save(update_fields=["attempts", "provider", "failure", "detail", "status"])
        return delivery
    delivery.status = PushDelivery.Status.SENT
    delivery.sent_at = now
    delivery.failure = ""
    delivery.detail = ""
    delivery.save()
    return delivery


def deliveries_mark_woken(*, device_id: int, now: datetime, window_seconds: int = 120) -> int:
    """The device registered: wake pushes sent to it in the last minutes have done their job
    (the wake-up time is `woke_at - sent_at`)."""
    return PushDelivery.objects.filter(
        device_id=device_id,
        kind=PushDelivery.Kind.WAKE,
        status=PushDelivery.Status.SENT,
        woke_at__isnull=True,
        sent_at__gte=now - timedelta(seconds=window_seconds),
    ).update(woke_at=now)
