"""Waking mobile apps for a call: which devices, when, and telling them to stop ringing.

The route decision marks branches whose device has no live registration but a push token
(`wake`). For each, a push task is queued at the branch's start (now for the first stage, with
a countdown for later ones) and given the branch's stop time as its deadline: retries never
outlive the ring time. The engine meanwhile holds the call and adds the device the moment it
registers. When the call is answered elsewhere or ends unanswered, every device that was sent
a wake push gets a cancel push, so the app stops ringing and does not show a missed call that
someone else answered.
"""

import time
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from devices.domain.push import PushKind
from devices.models import Device, PushDelivery
from devices.push.deliveries import RetryLater, delivery_open, delivery_send
from devices.push.messages import PushMessage
from routing.models import Call
from routing.routed import RoutedCall


@dataclass(frozen=True)
class WakeRequest:
    device_id: int
    start_seconds: int
    deadline: float  # epoch seconds: the branch stops ringing then


def wake_requests(*, routed: RoutedCall, now: float) -> list[WakeRequest]:
    return [
        WakeRequest(
            device_id=branch.device_id,
            start_seconds=branch.start,
            deadline=now + branch.stop,
        )
        for branch in routed.decision.branches
        if branch.wake
    ]


def _call_over(*, tenant_id: int, call_id: str) -> bool:
    return Call.objects.filter(
        Q(answered_at__isnull=False) | Q(ended_at__isnull=False),
        tenant_id=tenant_id,
        call_id=call_id,
    ).exists()


def wake_send(
    *, device_id: int, call_id: str, message: PushMessage, deadline: float, now: datetime
) -> PushDelivery | RetryLater | None:
    device = Device.objects.filter(pk=device_id).first()
    if device is None:
        return None
    delivery = delivery_open(device=device, call_id=call_id, kind=PushKind.WAKE)
    if delivery.status != PushDelivery.Status.PENDING:
        return delivery
    if time.time() >= deadline or _call_over(tenant_id=device.tenant_id, call_id=call_id):
        PushDelivery.objects.filter(pk=delivery.pk, status=PushDelivery.Status.PENDING).update(
            status=PushDelivery.Status.SKIPPED, detail="the call no longer rings this device"
        )
        delivery.refresh_from_db()
        return delivery
    return delivery_send(
        delivery_id=delivery.pk, message=message, now=now, may_retry=time.time() < deadline
    )


def cancel_send(
    *, device_id: int, call_id: str, reason: str, now: datetime
) -> PushDelivery | RetryLater | None:
    """Send the cancel push once the wake push is known to have left. A wake still pending
    (in flight right now) is waited for; a wake that was never sent needs no cancel."""
    wake = PushDelivery.objects.filter(
        device_id=device_id, call_id=call_id, kind=PushDelivery.Kind.WAKE
    ).first()
    if wake is None or wake.status in (PushDelivery.Status.FAILED, PushDelivery.Status.SKIPPED):
        return None
    if wake.status == PushDelivery.Status.PENDING:
        return RetryLater(delivery_id=None, failure=None, after=0.3)
    delivery = delivery_open(device=wake.device, call_id=call_id, kind=PushKind.CANCEL)
    message = PushMessage(kind=PushKind.CANCEL, call_id=call_id, reason=reason)
    return delivery_send(delivery_id=delivery.pk, message=message, now=now, may_retry=True)
