"""The decision the engine makes itself (routing.in_engine) is the one Django makes, read from the
same PostgreSQL rows and the same Redis entries; whatever needs Django is left to it."""

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from devices.models import Device, PushBinding, Registration
from pbx.directory.generations import organisation_changed
from pbx.directory.models import User
from pbx.engine.contract import RouteRequest
from routing.call_memory import call_key
from routing.destination_sql import (
    EXECUTE_DESTINATION_SQL,
    PREPARE_DESTINATION_SQL,
    PREPARED_DESTINATION,
)
from routing.in_engine import ASK_DJANGO, DjangoCache, EngineDecider
from routing.profiles import routing_profile_for
from routing.route_requests import route_request_answer
from routing.services import routing_document_set
from tests.factories import ExtensionFactory, PhoneNumberFactory, UserFactory, make_device

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["query", "prepared"])
def decider(request: pytest.FixtureRequest) -> Iterator[EngineDecider]:
    """The decider with the hot-path query as text, and as the prepared statement the engine
    runs (deploy/kamailio/decide.py): both must decide the same."""
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    store = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    if request.param == "query":
        yield EngineDecider(store=store, cache=DjangoCache(prefix))
        return
    with connection.cursor() as cursor:
        cursor.execute(PREPARE_DESTINATION_SQL)
    yield EngineDecider(
        store=store, cache=DjangoCache(prefix), destination_sql=EXECUTE_DESTINATION_SQL
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DEALLOCATE {PREPARED_DESTINATION}")


@pytest.fixture
def alice(tenant) -> User:
    user = UserFactory(tenant=tenant, email="alice@example.com")
    ExtensionFactory(owner=user, number="201")
    return user


def register(device: Device) -> None:
    Registration.objects.create(
        device=device,
        contact=f"sip:{device.sip_username}@192.0.2.1",
        expires_at=timezone.now() + timedelta(minutes=5),
    )


def compiled(user: User) -> None:
    assert user.tenant_id is not None
    routing_profile_for(user_id=user.pk, tenant_id=user.tenant_id)


def request(user: User, **fields: object) -> dict[str, object]:
    assert user.tenant is not None
    return {
        "version": 1,
        "call_id": "call-1@host",
        "domain": user.tenant.sip_domain,
        "called": "201",
        "caller": "+33140000000",
    } | fields


def stage(seconds: int, mode: str, *targets: dict[str, object]) -> dict[str, object]:
    return {"seconds": seconds, "mode": mode, "targets": list(targets)}


def device(pk: int) -> dict[str, object]:
    return {"type": "device", "device_id": pk}


def one_stage_plan(user: User, desk: Device, *, final: str) -> None:
    """The person's plan: their desk phone for 10 s, then `final`."""
    routing_document_set(
        user=user,
        document={
            "plans": [
                {
                    "name": "p",
                    "stages": [stage(10, "add", device(desk.pk))],
                    "final": {"action": final},
                }
            ],
            "default_plan": "p",
        },
    )


def test_the_engine_decides_as_django_does_and_keeps_the_same_call_memory(
    alice: User, decider: EngineDecider
) -> None:
    desk = make_device(alice, kind=Device.Kind.DESK_PHONE, label="Desk")
    laptop = make_device(alice, kind=Device.Kind.SOFTPHONE, label="Laptop")
    mobile = make_device(alice, kind=Device.Kind.MOBILE_APP, label="Mobile")
    for d in (desk, laptop, mobile):
        register(d)
    colleague = UserFactory(tenant=alice.tenant)
    ExtensionFactory(owner=colleague, number="202")
    caller_phone = make_device(colleague, kind=Device.Kind.DESK_PHONE, label="Caller")
    routing_document_set(
        user=alice,
        document={
            "plans": [
                {
                    "name": "office",
                    "stages": [
                        stage(10, "add", device(desk.pk), device(laptop.pk)),
                        stage(10, "replace", device(mobile.pk)),
                        stage(10, "add", device(desk.pk)),
                    ],
                    "final": {"action": "voicemail"},
                },
                {
                    "name": "colleagues",
                    "stages": [stage(20, "add", device(mobile.pk))],
                    "final": {"action": "busy"},
                },
            ],
            "default_plan": "office",
            "rules": [{"name": "VIP", "plan": "colleagues", "callers": ["+33612345670"]}],
        },
    )
    compiled(alice)
    now = timezone.now()
    # a caller from outside, one a rule picks, and one of our devices (its extension)
    for caller, plan, identity in (
        ("+33140000000", "office", "+33140000000"),
        ("+33612345670", "colleagues", "+33612345670"),
        (caller_phone.sip_username, "office", "202"),
    ):
        call_id = f"{caller}@host"
        raw = request(alice, caller=caller, call_id=call_id)

        answer = decider.decide(raw, cursor=connection.cursor, now=now)

        assert answer.code == 200, answer.why
        kept = cache.get(call_key(alice.tenant.sip_domain, call_id))
        cache.delete(call_key(alice.tenant.sip_domain, call_id))
        django = route_request_answer(
            request=RouteRequest(
                domain=alice.tenant.sip_domain, called="201", caller=caller, call_id=call_id
            ),
            now=now,
            with_trace=False,
        )
        assert django is not None
        assert json.loads(answer.body) == json.loads(json.dumps(django.to_json()))
        assert json.loads(answer.body)["plan"] == plan
        assert kept == cache.get(call_key(alice.tenant.sip_domain, call_id))
        assert (kept["callee_id"], kept["caller"]) == (alice.pk, identity)
        assert kept["started_at"] == now


def test_a_did_reaches_its_extension(alice: User, decider: EngineDecider) -> None:
    register(make_device(alice, kind=Device.Kind.DESK_PHONE, label="Desk"))
    PhoneNumberFactory(tenant=alice.tenant, number="+33140000201", extension=alice.extensions.get())
    compiled(alice)

    answer = decider.decide(request(alice, called="+33140000201"), cursor=connection.cursor)

    assert answer.code == 200
    body = json.loads(answer.body)
    assert body["extension"] == "201"
    assert [b["label"] for b in body["branches"]] == ["Desk"]


def test_nobody_at_that_number_is_refused(
    alice: User, decider: EngineDecider, other_tenant
) -> None:
    other = UserFactory(tenant=other_tenant)
    ExtensionFactory(owner=other, number="250")
    compiled(other)

    assert decider.decide(request(alice, called="299"), cursor=connection.cursor).code == 404
    # another organisation's extension is nobody's here
    assert decider.decide(request(alice, called="250"), cursor=connection.cursor).code == 404


def test_a_profile_not_compiled_or_no_longer_current_is_left_to_django(
    alice: User, decider: EngineDecider
) -> None:
    desk = make_device(alice, kind=Device.Kind.DESK_PHONE, label="Desk")
    register(desk)

    cold = decider.decide(request(alice), cursor=connection.cursor)
    compiled(alice)
    one_stage_plan(alice, desk, final="busy")
    stale = decider.decide(request(alice), cursor=connection.cursor)
    compiled(alice)
    fresh = decider.decide(request(alice), cursor=connection.cursor)

    assert (cold.code, stale.code) == (ASK_DJANGO, ASK_DJANGO)
    assert "no current profile" in cold.why
    assert fresh.code == 200
    assert json.loads(fresh.body)["final"]["action"] == "busy"
    # nothing was remembered for the calls left to Django: Django remembers its own
    assert cache.get(call_key(alice.tenant.sip_domain, "call-1@host")) is not None  # the fresh one


def test_a_profile_the_engine_remembers_is_used_only_while_it_is_current(
    alice: User, decider: EngineDecider
) -> None:
    """The engine keeps the profiles it read in memory; a change to the person or to their
    organisation makes the remembered one unusable at once, as it does Django's cache entry."""
    desk = make_device(alice, kind=Device.Kind.DESK_PHONE, label="Desk")
    register(desk)

    def plan_ending(action: str) -> None:
        one_stage_plan(alice, desk, final=action)
        compiled(alice)

    def final_action() -> str | int:
        answer = decider.decide(request(alice), cursor=connection.cursor)
        return json.loads(answer.body)["final"]["action"] if answer.code == 200 else answer.code

    plan_ending("busy")
    assert final_action() == "busy"
    assert final_action() == "busy"  # from memory
    plan_ending("voicemail")
    assert final_action() == "voicemail"

    assert alice.tenant is not None
    organisation_changed(alice.tenant.pk)
    assert final_action() == ASK_DJANGO  # not current any more, remembered or not
    compiled(alice)
    assert final_action() == "voicemail"


def test_waking_an_app_is_left_to_django(alice: User, decider: EngineDecider) -> None:
    register(make_device(alice, kind=Device.Kind.DESK_PHONE, label="Desk"))
    app = make_device(alice, kind=Device.Kind.MOBILE_APP, label="Phone")  # asleep: not registered
    PushBinding.objects.create(
        device=app, provider="fcm", token="t-1", app_id="com.example", refreshed_at=timezone.now()
    )
    compiled(alice)

    answer = decider.decide(request(alice), cursor=connection.cursor)

    assert answer.code == ASK_DJANGO
    assert answer.why == "an app is to be woken"
    assert cache.get(call_key(alice.tenant.sip_domain, "call-1@host")) is None


def test_a_plan_that_reaches_a_colleague_is_left_to_django(
    alice: User, decider: EngineDecider
) -> None:
    colleague = UserFactory(tenant=alice.tenant)
    ExtensionFactory(owner=colleague, number="230")
    routing_document_set(
        user=alice,
        document={
            "plans": [
                {
                    "name": "p",
                    "stages": [stage(10, "add", {"type": "extension", "extension": "230"})],
                    "final": {"action": "voicemail"},
                }
            ],
            "default_plan": "p",
        },
    )
    compiled(alice)

    answer = decider.decide(request(alice), cursor=connection.cursor)

    assert answer.code == ASK_DJANGO
    assert "230" in answer.why


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"version": 2}, "malformed request (contract_version)"),
        ({"called": "2" * 40}, "malformed request (invalid)"),
        ({"call_id": ""}, "no Call-ID"),
    ],
)
def test_what_the_engine_cannot_judge_is_left_to_django(
    alice: User, decider: EngineDecider, fields: dict[str, object], why: str
) -> None:
    compiled(alice)

    answer = decider.decide(request(alice, **fields), cursor=connection.cursor)

    assert (answer.code, answer.why) == (ASK_DJANGO, why)
