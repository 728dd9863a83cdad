"""Queueing the push tasks of a call: a wake push per app to wake at its branch's start, and a
cancel push to every woken app when the call is answered elsewhere or over. The sending itself
is in `routing.wakeups`, run by the tasks."""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from django.db import transaction

from devices.models import PushDelivery
from routing.routed import RoutedCall
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


@dataclass(frozen=True)
class WakeCancel:
    """A call ended or was answered: the apps woken for it stop ringing."""

    tenant_id: int
    call_id: str
    answered_device_id: int | None
    reason: str


def cancels_schedule(cancels: Sequence[WakeCancel]) -> None:
    """After commit, a cancel push to every device woken for these calls except the one that
    answered each. One query for all of them."""
    if not cancels:
        return
    wanted: dict[tuple[int, str], list[WakeCancel]] = {}
    for cancel in cancels:
        wanted.setdefault((cancel.tenant_id, cancel.call_id), []).append(cancel)
    woken = PushDelivery.objects.filter(
        tenant_id__in={c.tenant_id for c in cancels},
        call_id__in={c.call_id for c in cancels},
        kind=PushDelivery.Kind.WAKE,
        status__in=(PushDelivery.Status.SENT, PushDelivery.Status.PENDING),
    ).values_list("tenant_id", "call_id", "device_id")
    for tenant_id, call_id, device_id in woken:
        for cancel in wanted.get((tenant_id, call_id), []):
            if device_id != cancel.answered_device_id:
                transaction.on_commit(
                    partial(
                        push_cancel.delay,
                        device_id=device_id,
                        call_id=call_id,
                        reason=cancel.reason,
                    )
                )
