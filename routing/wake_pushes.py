"""Queueing the push tasks of a call: a wake push per app to wake at its branch's start, and a
cancel push to every woken app when the call is answered elsewhere or over. The sending itself
is in `routing.wakeups`, run by the tasks."""

import time
from functools import partial

from django.db import transaction

from devices.models import PushDelivery
from routing.decisions import RoutedCall
from routing.tasks import push_cancel, push_wake
from routing.wakeups import wake_requests


def wakes_schedule(
    *, routed: RoutedCall, call_id: str, caller_name: str, caller_number: str
) -> int:
    """Queue the wake pushes of a new call (hot path: one broker write per woken device)."""
    requests = wake_requests(routed=routed, now=time.time())
    for request in requests:
        push_wake.apply_async(
            kwargs={
                "device_id": request.device_id,
                "call_id": call_id,
                "caller_name": caller_name,
                "caller_number": caller_number,
                "deadline": request.deadline,
            },
            countdown=request.start_seconds or None,
        )
    return len(requests)


def cancels_schedule(
    *, tenant_id: int, call_id: str, answered_device_id: int | None, reason: str
) -> None:
    """After commit, a cancel push to every device woken for this call except the one that
    answered."""
    woken = PushDelivery.objects.filter(
        tenant_id=tenant_id,
        call_id=call_id,
        kind=PushDelivery.Kind.WAKE,
        status__in=(PushDelivery.Status.SENT, PushDelivery.Status.PENDING),
    )
    if answered_device_id is not None:
        woken = woken.exclude(device_id=answered_device_id)
    for device_id in woken.values_list("device_id", flat=True):
        transaction.on_commit(
            partial(push_cancel.delay, device_id=device_id, call_id=call_id, reason=reason)
        )
