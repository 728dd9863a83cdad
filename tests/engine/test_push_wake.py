"""Waking a sleeping mobile app for a call, end to end: real Kamailio, sipp, Django (live
server), a Celery worker on the push queue, and local fake FCM / APNs servers."""

import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from devices import services
from devices.models import Device, PushBinding, PushDelivery
from devices.push import bindings
from pbx.celery import app as celery_app
from pbx.engine.client import KamailioJsonRpc
from pbx.engine.process import EngineProcess
from routing.services import routing_document_set
from tests import sip_calls as sip
from tests.engine.test_calls import Office, plan, wait_for
from tests.fakes.apns import FakeApns
from tests.fakes.fcm import FakeFcm

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

APNS_TOKEN = "cd" * 32


def push_worker():
    return start_worker(
        celery_app, pool="solo", perform_ping_check=False, queues=["push"], shutdown_timeout=10
    )


def sleeping_mobile(office: Office) -> tuple[Device, str]:
    """An iPhone app with a push token and no live registration."""
    issued = services.device_create(user=office.callee, kind=Device.Kind.MOBILE_APP, label="mobile")
    bindings.push_binding_register(
        device=issued.device, provider="apns", token=APNS_TOKEN, app_id="com.example.phone"
    )
    return issued.device, issued.secret


def wakes_on_push(
    office: Office, device: Device, secret: str, peer: sip.Device, *, delay: float = 0
):
    """What the app does when the push arrives: (after `delay`) it registers."""

    def woken(_request: object) -> None:
        time.sleep(delay)
        sip.register_contact(
            office.engine,
            office.workdir,
            username=device.sip_username,
            domain=office.domain,
            secret=secret,
            contact_port=peer.port,
        )

    return woken


def test_a_sleeping_app_is_woken_registers_and_answers(
    engine: EngineProcess, sip_dir: Path, fake_apns: FakeApns
) -> None:
    office = Office(engine, sip_dir)
    device, secret = sleeping_mobile(office)
    routing_document_set(user=office.callee, document=plan((8, "add", [device.pk])))
    peer = sip.start_device(engine, sip_dir, "mobile", sip.device_scenario("answer", answer_ms=300))
    fake_apns.on_send = wakes_on_push(office, device, secret, peer)

    with push_worker():
        result, started = office.call()

    assert result.ok, result.output + engine.log()[-3000:]
    assert peer.wait() == 0
    [push] = fake_apns.requests
    assert push.headers["apns-push-type"] == "voip"
    assert push.payload["type"] == "incoming_call"
    assert push.payload["caller_number"] == "202"
    invite = peer.first("INVITE")
    assert invite is not None
    assert peer.first("BYE") is not None
    assert push.at - started < 1.0  # the push left within a second of the INVITE
    delivery = PushDelivery.objects.get(device=device, kind="wake")
    assert delivery.status == PushDelivery.Status.SENT
    assert delivery.attempts == 1
    wait_for(lambda: PushDelivery.objects.get(pk=delivery.pk).woke_at is not None)
    assert PushDelivery.objects.get(pk=delivery.pk).wake_seconds < 2
    assert not PushDelivery.objects.filter(device=device, kind="cancel").exists()  # it answered


def test_an_app_that_never_wakes_gets_the_final_action_on_time(
    engine: EngineProcess, sip_dir: Path, fake_apns: FakeApns
) -> None:
    office = Office(engine, sip_dir)
    device, _ = sleeping_mobile(office)
    routing_document_set(user=office.callee, document=plan((5, "add", [device.pk])))

    with push_worker():
        result, started = office.call(expect=480)
        elapsed = time.time() - started
        wait_for(lambda: len(fake_apns.requests) == 2)

    assert result.ok, result.output
    assert 4.5 <= elapsed <= 7.0, elapsed  # the stage's 5 s, not longer
    wake, cancel = fake_apns.requests
    assert wake.payload["type"] == "incoming_call"
    assert cancel.payload == {
        "aps": {},
        "type": "call_cancelled",
        "call_id": wake.payload["call_id"],
        "reason": "not_answered",
    }
    assert cancel.headers["apns-id"] != wake.headers["apns-id"]


def test_answered_on_the_desk_while_the_app_wakes_cancels_it(
    engine: EngineProcess, sip_dir: Path, fake_apns: FakeApns
) -> None:
    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "answer", answer_ms=1000)
    device, secret = sleeping_mobile(office)
    desk_id = Device.objects.get(user=office.callee, label="desk").pk
    routing_document_set(user=office.callee, document=plan((10, "add", [desk_id, device.pk])))
    late = sip.start_device(engine, sip_dir, "late", sip.device_scenario("answer"), timeout_s=8)
    fake_apns.on_send = lambda request: (
        wakes_on_push(office, device, secret, late, delay=3.0)(request)
        if request.payload["type"] == "incoming_call"
        else None
    )

    with push_worker():
        result, _ = office.call()
        assert desk.wait() == 0
        wait_for(lambda: len(fake_apns.requests) == 2)
        time.sleep(3.5)  # the app registers 3 s after its wake push: after the answer

    assert result.ok, result.output
    wake, cancel = fake_apns.requests
    assert cancel.payload["call_id"] == wake.payload["call_id"]
    assert cancel.payload["type"] == "call_cancelled"
    assert cancel.payload["reason"] == "answered_elsewhere"
    assert desk.first("BYE") is not None
    late.wait(timeout=10)
    assert late.first("INVITE") is None  # registered too late: not rung
    assert KamailioJsonRpc(engine.rpc_url).registrations(
        aor=f"{device.sip_username}@{office.domain}"
    )  # it did register


def test_rfc8599_contact_parameters_bind_the_app_and_fcm_wakes_it(
    engine: EngineProcess, sip_dir: Path, fake_fcm: FakeFcm
) -> None:
    office = Office(engine, sip_dir)
    issued = services.device_create(user=office.callee, kind=Device.Kind.MOBILE_APP, label="pixel")
    device, token = issued.device, "fcm-registration-token-" + "z" * 30
    params = f";pn-provider=fcm;pn-prid={token};pn-param={fake_fcm.project}"
    peer = sip.start_device(engine, sip_dir, "pixel", sip.device_scenario("answer"))
    assert sip.register_contact(
        engine,
        sip_dir,
        username=device.sip_username,
        domain=office.domain,
        secret=issued.secret,
        contact_port=peer.port,
        contact_params=params,
    ).ok
    binding = wait_for(lambda: PushBinding.objects.filter(device=device).first())
    assert (binding.provider, binding.token, binding.app_id) == ("fcm", token, fake_fcm.project)
    # The app goes to sleep: its registration lapses.
    KamailioJsonRpc(engine.rpc_url).drop_registrations(aor=f"{device.sip_username}@{office.domain}")
    device.registrations.all().delete()
    routing_document_set(user=office.callee, document=plan((8, "add", [device.pk])))

    def woken(request) -> None:
        sip.register_contact(
            engine,
            sip_dir,
            username=device.sip_username,
            domain=office.domain,
            secret=issued.secret,
            contact_port=peer.port,
            contact_params=params,
        )

    fake_fcm.on_send = woken
    with push_worker():
        result, _ = office.call()

    assert result.ok, result.output
    assert peer.wait() == 0
    [push] = fake_fcm.requests
    assert push.message["token"] == token
    assert push.message["android"] == {"priority": "high", "ttl": "0s"}
    assert push.message["data"]["type"] == "incoming_call"


def test_provider_down_is_retried_and_the_call_goes_on_on_the_desk(
    engine: EngineProcess, sip_dir: Path, fake_apns: FakeApns
) -> None:
    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "answer", answer_ms=2500)
    device, _ = sleeping_mobile(office)
    desk_id = Device.objects.get(user=office.callee, label="desk").pk
    routing_document_set(user=office.callee, document=plan((10, "add", [desk_id, device.pk])))
    fake_apns.down = True

    with push_worker():
        result, _ = office.call()
        assert desk.wait() == 0
        delivery = wait_for(
            lambda: PushDelivery.objects.filter(
                device=device, kind="wake", status=PushDelivery.Status.SKIPPED
            ).first(),
            timeout=10,
        )

    assert result.ok, result.output
    assert delivery.attempts >= 3  # retried with backoff while the call rang
    assert delivery.failure == "provider_error"
    assert fake_apns.requests == []
    assert PushBinding.objects.get(device=device).dead_at is None  # a 503 kills no token


def test_an_app_registered_since_django_last_heard_rings_at_once(
    engine: EngineProcess, sip_dir: Path, fake_apns: FakeApns
) -> None:
    """Django decides to wake the app (it has not yet heard of its REGISTER: events come in
    batches); the engine, which has the contact, rings it at once instead of holding the call
    for a REGISTER that already happened."""
    from devices.models import Registration

    office = Office(engine, sip_dir)
    device, secret = sleeping_mobile(office)
    routing_document_set(user=office.callee, document=plan((8, "add", [device.pk])))
    peer = sip.start_device(engine, sip_dir, "mobile", sip.device_scenario("answer", answer_ms=300))
    registered = sip.register_contact(
        engine,
        sip_dir,
        username=device.sip_username,
        domain=office.domain,
        secret=secret,
        contact_port=peer.port,
    )
    assert registered.ok, registered.output
    wait_for(lambda: Registration.objects.filter(device=device).exists())
    Registration.objects.filter(device=device).delete()  # as if Django had not heard yet

    with push_worker():
        result, started = office.call()

    assert result.ok, result.output + engine.log()[-3000:]
    assert peer.wait() == 0
    invite = peer.first("INVITE")
    assert invite is not None
    assert invite.timestamp() - started < 1.0  # not after a push and a new REGISTER
    assert peer.first("BYE") is not None
