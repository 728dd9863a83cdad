"""Push deliveries: once per call and device, dead tokens retired, retries bounded by the
ring time, cancels only for wakes that left; metrics. Real PostgreSQL and local fakes."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from devices.domain.push import PushFailure, PushKind
from devices.models import Device, PushBinding, PushDelivery
from devices.push import bindings
from devices.push.deliveries import RetryLater, delivery_open, delivery_send
from devices.push.messages import PushMessage
from routing.decisions import route_simulate
from routing.models import Call
from routing.wakeups import cancel_send, wake_send
from tests.factories import ExtensionFactory, UserFactory, make_device
from tests.fakes.apns import FakeApns
from tests.fakes.fcm import UNAVAILABLE, UNREGISTERED, FakeFcm

pytestmark = pytest.mark.django_db

FCM_TOKEN = "fcm-token-" + "q" * 40


def woken_phone(tenant, provider: str = "fcm", token: str = FCM_TOKEN) -> Device:
    user = UserFactory(tenant=tenant)
    ExtensionFactory(owner=user, number="301")
    device = make_device(user, kind=Device.Kind.MOBILE_APP, label="Phone")
    bindings.push_binding_register(
        device=device, provider=provider, token=token, app_id="com.example.phone"
    )
    return device


def message(call_id: str = "call-a") -> PushMessage:
    return PushMessage(kind=PushKind.WAKE, call_id=call_id, caller_name="Bob", caller_number="202")


def wake(device: Device, call_id: str = "call-a", deadline: float | None = None):
    return wake_send(
        device_id=device.pk,
        call_id=call_id,
        message=message(call_id),
        deadline=deadline if deadline is not None else time.time() + 20,
        now=timezone.now(),
    )


def test_one_push_per_call_and_device_however_often_the_task_runs(
    tenant, fake_fcm: FakeFcm
) -> None:
    device = woken_phone(tenant)

    first = wake(device)
    again = wake(device)

    assert first.status == again.status == PushDelivery.Status.SENT
    assert len(fake_fcm.requests) == 1
    assert PushDelivery.objects.get().attempts == 1


def test_a_dead_token_is_retired_and_never_used_again(tenant, fake_fcm: FakeFcm) -> None:
    device = woken_phone(tenant)
    fake_fcm.answers[FCM_TOKEN] = [UNREGISTERED]
    assert (
        route_simulate(user=device.user, caller="202", at=timezone.now(), registered=frozenset())
        .decision.branches[0]
        .wake
    )

    refused = wake(device)
    next_call = wake(device, call_id="call-b")

    assert refused.status == PushDelivery.Status.FAILED
    assert refused.failure == PushFailure.UNREGISTERED
    assert refused.attempts == 1  # no retry storm
    binding = PushBinding.objects.get(device=device)
    assert binding.dead_at is not None
    assert binding.dead_reason == "unregistered"
    assert next_call.status == PushDelivery.Status.FAILED
    assert next_call.attempts == 0
    assert len(fake_fcm.requests) == 1  # the dead token was not tried again
    routed = route_simulate(
        user=device.user, caller="202", at=timezone.now(), registered=frozenset()
    )
    assert routed.decision.branches == ()  # cannot be woken any more: not rung


def test_transient_failures_retry_until_the_ring_time_is_over(tenant, fake_fcm: FakeFcm) -> None:
    device = woken_phone(tenant)
    fake_fcm.answers[FCM_TOKEN] = [UNAVAILABLE, (200, {})]

    first = wake(device)
    second = wake(device)

    assert isinstance(first, RetryLater)
    assert first.failure is PushFailure.PROVIDER_ERROR
    assert second.status == PushDelivery.Status.SENT
    assert second.attempts == 2
    assert PushBinding.objects.get(device=device).dead_at is None


def test_no_retry_once_the_ring_time_is_over(tenant, fake_fcm: FakeFcm) -> None:
    device = woken_phone(tenant)
    fake_fcm.down = True
    delivery = delivery_open(device=device, call_id="call-a", kind=PushKind.WAKE)

    outcome = delivery_send(
        delivery_id=delivery.pk, message=message(), now=timezone.now(), may_retry=False
    )
    late = wake(device, call_id="call-late", deadline=time.time() - 1)

    assert outcome.status == PushDelivery.Status.FAILED
    assert outcome.failure == PushFailure.PROVIDER_ERROR
    assert late.status == PushDelivery.Status.SKIPPED
    assert late.attempts == 0


def test_no_wake_for_a_call_already_answered(tenant, fake_fcm: FakeFcm) -> None:
    device = woken_phone(tenant)
    Call.objects.create(
        tenant=tenant,
        call_id="call-a",
        callee=device.user,
        started_at=timezone.now(),
        answered_at=timezone.now(),
    )

    outcome = wake(device)

    assert outcome.status == PushDelivery.Status.SKIPPED
    assert fake_fcm.requests == []


def test_cancel_only_after_a_wake_that_left(tenant, fake_apns: FakeApns) -> None:
    device = woken_phone(tenant, provider="apns", token="ef" * 32)
    pending = delivery_open(device=device, call_id="call-a", kind=PushKind.WAKE)

    waiting = cancel_send(device_id=device.pk, call_id="call-a", reason="x", now=timezone.now())
    nothing = cancel_send(device_id=device.pk, call_id="call-z", reason="x", now=timezone.now())
    wake(device)
    cancelled = cancel_send(
        device_id=device.pk, call_id="call-a", reason="answered_elsewhere", now=timezone.now()
    )
    twice = cancel_send(
        device_id=device.pk, call_id="call-a", reason="answered_elsewhere", now=timezone.now()
    )

    assert pending.status == PushDelivery.Status.PENDING
    assert isinstance(waiting, RetryLater)  # the wake is in flight: wait for it
    assert nothing is None  # never woken for that call: nothing to cancel
    assert cancelled.status == twice.status == PushDelivery.Status.SENT
    assert [r.payload["type"] for r in fake_apns.requests] == ["incoming_call", "call_cancelled"]


def test_nothing_configured_fails_clearly_and_the_call_goes_on(tenant, settings) -> None:
    settings.PBX_FCM_SERVICE_ACCOUNT_FILE = ""
    device = woken_phone(tenant)

    outcome = wake(device)

    assert outcome.status == PushDelivery.Status.FAILED
    assert outcome.failure == PushFailure.NOT_CONFIGURED
    assert PushBinding.objects.get(device=device).dead_at is None


def test_push_metrics_for_tenant_admins(tenant, admin_api, member_api, fake_fcm) -> None:
    device = woken_phone(tenant)
    wake(device)
    fake_fcm.answers[FCM_TOKEN] = [UNREGISTERED]
    wake(device, call_id="call-b")
    sent = PushDelivery.objects.get(call_id="call-a")
    PushDelivery.objects.filter(pk=sent.pk).update(woke_at=sent.sent_at + timedelta(seconds=1.5))

    response = admin_api.get("/api/v1/push/metrics?hours=1")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["sent"] == {"wake": 1}
    assert body["failed"] == {"unregistered": 1}
    assert body["wakes_sent"] == 1
    assert body["wakes_woken"] == 1
    assert body["wake_seconds_p50"] == pytest.approx(1.5)
    assert admin_api.get("/api/v1/push/metrics?hours=0").status_code == 400
    assert member_api.get("/api/v1/push/metrics").status_code == 403
