"""The internal route-decision endpoint the engine calls for each new call."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from devices.models import Device, Registration
from devices.services import device_revoke
from pbx.directory.models import User
from pbx.directory.services import tenant_update
from routing.services import routing_document_set
from tests.factories import ExtensionFactory, PhoneNumberFactory, UserFactory, make_device

pytestmark = pytest.mark.django_db
URL = "/internal/engine/route-decisions"
TOKEN = {"HTTP_X_ENGINE_TOKEN": "development-engine-token"}


def ask(body: object, *, token: dict | None = None, raw: str | None = None, query: str = ""):
    """A route request as the engine sends it (the contract's version added to any object)."""
    if isinstance(body, dict):
        body = {"version": 1} | body
    return Client().post(
        URL + query,
        raw if raw is not None else json.dumps(body),
        content_type="application/json",
        **(TOKEN if token is None else token),
    )


def register(device: Device) -> None:
    Registration.objects.create(
        device=device,
        contact=f"sip:{device.sip_username}@192.0.2.1",
        expires_at=timezone.now() + timedelta(minutes=5),
    )


@pytest.fixture
def alice(tenant) -> User:
    user = UserFactory(tenant=tenant, email="alice@example.com")
    ExtensionFactory(owner=user, number="201")
    return user


def test_decision_for_an_extension(alice: User) -> None:
    desk = make_device(alice, kind=Device.Kind.DESK_PHONE, label="Desk")
    laptop = make_device(alice, kind=Device.Kind.SOFTPHONE, label="Laptop")
    make_device(alice, kind=Device.Kind.WEB_SOFTPHONE, label="Browser")  # not registered: skipped
    register(desk)
    register(laptop)

    response = ask(
        {
            "call_id": "abc@host",
            "domain": alice.tenant.sip_domain.upper(),
            "called": "201",
            "caller": "+33140000000",
        }
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["call_id"] == "abc@host"
    assert (body["user_id"], body["extension"], body["plan"], body["reason"]) == (
        alice.pk,
        "201",
        "ring all",
        "no_answer",
    )
    assert sorted(
        (b["sip_username"], b["start_ms"], b["stop_ms"], b["wake"]) for b in body["branches"]
    ) == sorted([(desk.sip_username, 0, 30000, False), (laptop.sip_username, 0, 30000, False)])
    assert body["final"] == {
        "action": "voicemail",
        "at_ms": 30000,
        "mailbox": "201",
        "greeting": "unavailable",
    }
    assert (body["version"], body["cuts"]) == (1, [])
    assert "trace" not in body
    assert (
        "Browser skipped: not registered."
        in ask({"domain": alice.tenant.sip_domain, "called": "201"}, query="?trace=1").json()[
            "trace"
        ]
    )


def test_decision_for_a_did(alice: User) -> None:
    PhoneNumberFactory(extension=alice.extensions.get(), number="+33140000201")

    response = ask({"domain": alice.tenant.sip_domain, "called": "+33140000201"})

    assert response.status_code == 200
    assert response.json()["extension"] == "201"


def test_another_tenants_extension_is_unknown(alice: User, other_tenant) -> None:
    response = ask({"domain": other_tenant.sip_domain, "called": "201"})

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_destination"


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [({}, 401, "not_authenticated"), ({"HTTP_X_ENGINE_TOKEN": "wrong"}, 401, "not_authenticated")],
)
def test_the_engine_must_authenticate(alice: User, token: dict, status: int, code: str) -> None:
    response = ask({"domain": alice.tenant.sip_domain, "called": "201"}, token=token)

    assert (response.status_code, response.json()["code"]) == (status, code)


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("{not json", 400, "malformed_request"),
        ("[1, 2]", 400, "malformed_request"),
        (json.dumps({"version": 1, "called": "201"}), 400, "invalid"),
        (json.dumps({"version": 1, "domain": "x.example", "called": 201}), 400, "invalid"),
        (
            json.dumps({"version": 1, "domain": "x.example", "called": "201", "active_calls": -1}),
            400,
            "invalid",
        ),
        (
            json.dumps(
                {"version": 1, "domain": "x.example", "called": "201", "active_calls": True}
            ),
            400,
            "invalid",
        ),
        (json.dumps({"version": 1, "domain": "x.example", "called": "1" * 33}), 400, "invalid"),
        (
            json.dumps({"version": 1, "domain": "x.example", "called": "201", "pad": "x" * 5000}),
            413,
            "too_large",
        ),
    ],
)
def test_bad_requests(raw: str, status: int, code: str) -> None:
    response = ask(None, raw=raw)

    assert (response.status_code, response.json()["code"]) == (status, code)


def test_get_is_not_allowed() -> None:
    assert Client().get(URL, **TOKEN).status_code == 405


def test_warm_cache_costs_one_query(alice: User, django_assert_num_queries) -> None:
    register(make_device(alice))
    colleague = UserFactory(tenant=alice.tenant)
    ExtensionFactory(owner=colleague, number="202")
    calling = make_device(colleague)  # the engine sends the calling device's SIP username
    body = {"domain": alice.tenant.sip_domain, "called": "201", "caller": calling.sip_username}
    ask(body)  # compiles and caches the profile

    with django_assert_num_queries(1):  # destination, live registrations and caller together
        response = ask(body, query="?trace=1")

    assert response.status_code == 200
    assert response.json()["trace"][0].endswith("(caller 202).")


@pytest.mark.django_db(transaction=True)
def test_changes_reach_the_next_decision(tenant) -> None:
    alice = UserFactory(tenant=tenant)
    ExtensionFactory(owner=alice, number="201")
    desk = make_device(alice, kind=Device.Kind.DESK_PHONE, label="Desk")
    mobile = make_device(alice, kind=Device.Kind.MOBILE_APP, label="Mobile")
    register(desk)
    body = {"domain": tenant.sip_domain, "called": "201"}

    def rung() -> list[str]:
        return [b["label"] for b in ask(body).json()["branches"]]

    assert rung() == ["Desk"]
    register(mobile)  # registrations are read live, never cached
    assert sorted(rung()) == ["Desk", "Mobile"]
    device_revoke(device=desk)
    assert rung() == ["Mobile"]
    routing_document_set(
        user=alice,
        document={
            "plans": [
                {
                    "name": "late",
                    "stages": [
                        {"seconds": 60, "targets": [{"type": "device_kind", "kind": "mobile_app"}]}
                    ],
                    "final": {"action": "busy"},
                }
            ],
            "default_plan": "late",
        },
    )
    assert ask(body).json()["final"] == {
        "action": "busy",
        "at_ms": 60000,
        "mailbox": None,
        "greeting": "unavailable",
    }
    tenant_update(tenant=tenant, data={"max_ring_seconds": 30})
    assert ask(body).json()["final"]["at_ms"] == 30000


def test_deactivated_people_and_suspended_organisations_take_no_calls(alice: User) -> None:
    body = {"domain": alice.tenant.sip_domain, "called": "201"}
    assert ask(body).status_code == 200

    alice.is_active = False
    alice.save()
    assert ask(body).json()["code"] == "unknown_destination"

    alice.is_active = True
    alice.save()
    alice.tenant.is_active = False
    alice.tenant.save()
    assert ask(body).status_code == 404


def test_a_call_is_recorded_when_the_engine_reports_it(alice: User) -> None:
    from routing.models import Call

    device = make_device(alice, kind=Device.Kind.DESK_PHONE, label="Desk")
    register(device)
    call_id = "weird call-id\twith spaces " + "x" * 229  # arbitrary text, 255 characters
    decided = ask(
        {
            "call_id": call_id,
            "domain": alice.tenant.sip_domain,
            "called": "201",
            "caller": "+33140000000",
        }
    )
    contact = Registration.objects.get(device=device).contact

    assert Call.objects.count() == 0  # nothing written on the call's hot path
    reported = Client().post(
        "/internal/engine/events",
        json.dumps(
            {
                "version": 1,
                "events": [
                    {
                        "type": "answered",
                        "call_id": call_id,
                        "domain": alice.tenant.sip_domain,
                        "contact": contact,
                    },
                    {"type": "ended", "call_id": call_id, "domain": alice.tenant.sip_domain},
                ],
            }
        ),
        content_type="application/json",
        **TOKEN,
    )

    assert decided.json()["call_id"] == call_id
    assert reported.json()["known_calls"] == 2
    call = Call.objects.get()
    assert (call.call_id, call.outcome, call.answered_device, call.caller) == (
        call_id,
        "answered",
        device,
        "+33140000000",
    )
    assert call.ended_at is not None


def _report(events: list[dict]) -> dict:
    return (
        Client()
        .post(
            "/internal/engine/events",
            json.dumps({"version": 1, "events": events}),
            content_type="application/json",
            **TOKEN,
        )
        .json()
    )


def test_a_device_that_registered_earlier_in_the_same_batch_is_the_one_that_answered(
    alice: User,
) -> None:
    """A woken app's REGISTER and its answer often reach Django in one batch: the answer is
    matched against the registration the batch has just applied."""
    from routing.models import Call

    app = make_device(alice, kind=Device.Kind.MOBILE_APP, label="App")
    domain = alice.tenant.sip_domain
    assert ask({"call_id": "woken-1", "domain": domain, "called": "201"}).status_code == 200
    contact = f"sip:{app.sip_username}@192.0.2.7:5062"

    reported = _report(
        [
            {
                "type": "registered",
                "username": app.sip_username,
                "domain": domain,
                "contact": contact,
                "expires": "600",
            },
            {"type": "answered", "call_id": "woken-1", "domain": domain, "contact": contact},
        ]
    )

    assert (reported["known_devices"], reported["known_calls"]) == (1, 1)
    assert Call.objects.get(call_id="woken-1").answered_device == app


def test_one_batch_applies_the_events_of_several_calls_in_order(alice: User) -> None:
    from routing.models import Call

    desk = make_device(alice, kind=Device.Kind.DESK_PHONE, label="Desk")
    register(desk)
    contact = Registration.objects.get(device=desk).contact
    domain = alice.tenant.sip_domain
    for call_id in ("c-1", "c-2", "c-3"):
        assert ask({"call_id": call_id, "domain": domain, "called": "201"}).status_code == 200

    reported = _report(
        [
            {"type": "answered", "call_id": "c-1", "domain": domain, "contact": contact},
            {"type": "ended", "call_id": "c-2", "domain": domain, "code": 487},
            {"type": "ended", "call_id": "c-1", "domain": domain},
            {"type": "answered", "call_id": "c-1", "domain": domain, "contact": contact},
            {"type": "answered", "call_id": "unknown", "domain": domain, "contact": contact},
        ]
    )

    assert reported["known_calls"] == 4  # the unknown call is skipped, the rest applied
    calls = {call.call_id: call for call in Call.objects.all()}
    assert set(calls) == {"c-1", "c-2"}  # c-3 has no event yet: no row
    assert (calls["c-1"].outcome, calls["c-1"].answered_device) == ("answered", desk)
    assert calls["c-1"].ended_at is not None  # a late repeated answer changes nothing
    assert calls["c-2"].answered_device is None
    assert calls["c-2"].ended_at is not None
