"""An engine whose decisions cannot keep up sheds new calls with 503 and Retry-After instead of
queueing them until its SIP workers block: REGISTERs are still answered at once."""

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devices import services
from devices.models import Device
from pbx.engine.client import KamailioJsonRpc
from pbx.engine.process import EngineProcess, postgres_url, start_engine
from tests.factories import ExtensionFactory, TenantFactory, UserFactory
from tests.fakes.engine_api import FakeEngineApi
from tests.sip_phone import Phone, _digest_params

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DECIDING_S = 1.5  # how long the slow Django takes per route decision
QUEUED = 3  # MAX_DECISIONS_QUEUED
ASYNC_WORKERS = 4  # the configuration's async workers
CALLS = 16


def slowly(path: str, body: dict) -> tuple[int, dict]:
    """Django taking DECIDING_S per route decision (then: nobody at that number)."""
    if path.endswith("/route-decisions"):
        time.sleep(DECIDING_S)
        return 404, {"code": "unknown_destination", "detail": "-"}
    return 200, {"accepted": len(body.get("events", []))}


@pytest.fixture
def overloaded_engine(tmp_path: Path) -> Iterator[EngineProcess]:
    django = FakeEngineApi(slowly)
    engine = start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=django.url,
        token=settings.PBX_ENGINE_TOKEN,
        workers=2,
        log_path=tmp_path / "kamailio.log",
        defines={"MAX_DECISIONS_QUEUED": QUEUED},
    )
    yield engine
    engine.stop()
    django.close()


def invite(phone: Phone, *, username: str, domain: str, authorization: str = "") -> str:
    call_id = secrets.token_hex(8)
    phone.send(
        f"INVITE sip:201@{domain} SIP/2.0\r\n"
        f"Via: {phone.via('z9hG4bK' + secrets.token_hex(6))}\r\n"
        f"From: <sip:{username}@{domain}>;tag={secrets.token_hex(4)}\r\n"
        f"To: <sip:201@{domain}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: {phone.contact(username)}\r\n"
        f"{authorization}"
        "Max-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    return call_id


def test_calls_past_the_decision_queue_get_503_and_registrations_go_on(
    overloaded_engine: EngineProcess,
) -> None:
    tenant = TenantFactory()
    ExtensionFactory(owner=UserFactory(tenant=tenant), number="201")
    caller = services.device_create(
        user=UserFactory(tenant=tenant), kind=Device.Kind.SOFTPHONE, label="Caller"
    )
    desk = services.device_create(
        user=UserFactory(tenant=tenant), kind=Device.Kind.DESK_PHONE, label="Desk"
    )
    domain, username = tenant.sip_domain, caller.device.sip_username
    phone = Phone("udp", overloaded_engine.host, overloaded_engine.port)
    invite(phone, username=username, domain=domain)
    challenge = phone.receive()
    assert challenge.status == 407
    authorization = Phone._authorization(
        _digest_params(challenge.header("Proxy-Authenticate") or ""),
        username=username,
        secret=caller.secret,
        uri=f"sip:201@{domain}",
        method="INVITE",
        header="Proxy-Authorization",
    )

    calls = [
        invite(phone, username=username, domain=domain, authorization=authorization)
        for _ in range(CALLS)
    ]
    registering = time.monotonic()
    desk_phone = Phone("udp", overloaded_engine.host, overloaded_engine.port)
    registered = desk_phone.register(
        username=desk.device.sip_username, domain=domain, secret=desk.secret
    )
    registered_in = time.monotonic() - registering
    finals: dict[str, tuple[int, str | None, float]] = {}
    deadline = time.monotonic() + DECIDING_S * 3 + 3
    while len(finals) < CALLS and time.monotonic() < deadline:
        message = phone.receive(timeout=deadline - time.monotonic())
        call_id = message.header("Call-ID") or ""
        if message.status >= 200 and call_id in calls and call_id not in finals:
            finals[call_id] = (message.status, message.header("Retry-After"), time.monotonic())

    assert registered.status == 200
    assert registered_in < 1.0  # SIP workers were never blocked by the queue
    shed = [f for f in finals.values() if f[0] == 503]
    decided = [f for f in finals.values() if f[0] == 404]
    assert len(shed) + len(decided) == CALLS
    # at most the async workers' calls and the queue's are decided (at least the queue's: how
    # many workers picked theirs up during the burst depends on the machine); the rest are
    # refused, at once
    assert QUEUED <= len(decided) <= ASYNC_WORKERS + QUEUED
    assert len(shed) >= CALLS - ASYNC_WORKERS - QUEUED
    assert all(retry == "5" for _, retry, _ in shed)
    assert max(at for _, _, at in shed) - registering < 1.0
    counters = KamailioJsonRpc(overloaded_engine.rpc_url).statistics("decisions_")
    assert counters["decisions_shed"] == len(shed)
