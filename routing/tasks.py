"""Push tasks of a call (queue `push`: never behind voicemail or engine work). Thin: the rules
are in `routing.wakeups` and `devices.push.deliveries`."""

import time

from celery import shared_task
from django.utils import timezone

from devices.domain.push import PushKind
from devices.push.deliveries import RetryLater, delivery_give_up
from devices.push.messages import PushMessage
from routing.wakeups import cancel_send, wake_send

CANCEL_RETRIES = 8


def _backoff(retries: int, hint: float | None) -> float:
    return hint if hint is not None else min(0.25 * 2**retries, 4.0)


@shared_task(name="push.wake", bind=True, max_retries=None, acks_late=True)
def push_wake(
    self, *, device_id: int, call_id: str, caller_name: str, caller_number: str, deadline: float
) -> str | None:
    message = PushMessage(
        kind=PushKind.WAKE,
        call_id=call_id,
        caller_name=caller_name,
        caller_number=caller_number,
    )
    outcome = wake_send(
        device_id=device_id,
        call_id=call_id,
        message=message,
        deadline=deadline,
        now=timezone.now(),
    )
    if isinstance(outcome, RetryLater):
        countdown = min(_backoff(self.request.retries, outcome.after), deadline - time.time())
        if countdown > 0:
            raise self.retry(countdown=countdown)
        if outcome.delivery_id is not None:
            delivery_give_up(delivery_id=outcome.delivery_id)
        return "failed: ring time over"
    return outcome.status if outcome is not None else None


@shared_task(name="push.cancel", bind=True, max_retries=None, acks_late=True)
def push_cancel(self, *, device_id: int, call_id: str, reason: str) -> str | None:
    outcome = cancel_send(device_id=device_id, call_id=call_id, reason=reason, now=timezone.now())
    if isinstance(outcome, RetryLater):
        if self.request.retries >= CANCEL_RETRIES:
            if outcome.delivery_id is not None:
                delivery_give_up(delivery_id=outcome.delivery_id)
            return "failed: retries exhausted"
        raise self.retry(countdown=_backoff(self.request.retries, outcome.after))
    return outcome.status if outcome is not None else None
