"""`GET /api/v1/calls[/{id}]`: a person's call history, the organisation's for tenant admins,
the per-device view ("answered elsewhere") shared with the portal, strict query parameters."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from rest_framework.test import APIClient

from devices.models import Device
from pbx.directory.models import Tenant, User
from routing.models import Call
from tests.factories import CallFactory, ExtensionFactory, UserFactory, make_device

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INVALID = "The request has invalid fields."


@pytest.fixture
def alice(member: User) -> User:
    ExtensionFactory(owner=member, number="201", display_name="Alice Martin")
    return member


@pytest.fixture
def bob(tenant: Tenant) -> User:
    person = UserFactory(tenant=tenant, full_name="Bob Durand")
    ExtensionFactory(owner=person, number="202", display_name="Bob Durand")
    return person


@pytest.fixture
def desk(alice: User) -> Device:
    return make_device(alice, kind=Device.Kind.DESK_PHONE, label="Desk")


@pytest.fixture
def mobile(alice: User) -> Device:
    return make_device(alice, kind=Device.Kind.MOBILE_APP, label="Pixel")


@pytest.fixture
def history(alice: User, bob: User, desk: Device, mobile: Device) -> dict[str, Call]:
    """Alice's four calls (oldest first) and one call to Bob."""
    return {
        "answered": CallFactory(
            callee=alice,
            caller="202",
            plan="office",
            rule="after hours",
            trace=["Rule 'after hours' matched.", "Stage 1 rings Desk for 15 s."],
            outcome=Call.Outcome.ANSWERED,
            answered_device=desk,
            started_at=T0,
            answered_at=T0 + timedelta(seconds=8),
            ended_at=T0 + timedelta(seconds=103),
        ),
        "missed": CallFactory(
            callee=alice,
            caller="+33140000000",
            outcome=Call.Outcome.MISSED,
            final_code=487,
            started_at=T0 + timedelta(hours=1),
            ended_at=T0 + timedelta(hours=1, seconds=30),
        ),
        "voicemail": CallFactory(
            callee=alice,
            caller="",
            outcome=Call.Outcome.VOICEMAIL,
            started_at=T0 + timedelta(hours=2),
            ended_at=T0 + timedelta(hours=2, seconds=40),
        ),
        # Answered where no known device answered (an outside number): no device.
        "forwarded": CallFactory(
            callee=alice,
            outcome=Call.Outcome.ANSWERED,
            started_at=T0 + timedelta(hours=3),
            answered_at=T0 + timedelta(hours=3, seconds=20),
        ),
        "bobs": CallFactory(callee=bob, caller="201", started_at=T0 + timedelta(hours=4)),
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [call["id"] for call in response.json()["results"]]


def invalid(field: str, code: str, detail: str) -> dict:
    return {
        "code": "invalid",
        "detail": INVALID,
        "fields": {field: [{"code": code, "detail": detail}]},
    }


def test_a_member_lists_their_own_calls_newest_first(
    member_api: APIClient, alice: User, desk: Device, history: dict[str, Call]
) -> None:
    response = member_api.get("/api/v1/calls")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (4, None, None)
    assert [call["id"] for call in body["results"]] == [
        history[name].pk for name in ("forwarded", "voicemail", "missed", "answered")
    ]
    forwarded, voicemail, missed, answered = body["results"]
    assert answered == {
        "id": history["answered"].pk,
        "call_id": history["answered"].call_id,
        "caller": {"number": "202", "display_name": "Bob Durand"},
        "callee": {"user_id": alice.pk, "extension": "201", "display_name": "Alice Martin"},
        "started_at": "2026-03-02T09:00:00Z",
        "answered_at": "2026-03-02T09:00:08Z",
        "ended_at": "2026-03-02T09:01:43Z",
        "duration_seconds": 95,
        "outcome": "answered",
        "answered_device": {
            "id": desk.pk,
            "label": "Desk",
            "kind": "desk_phone",
            "user_id": alice.pk,
        },
        "device_outcome": None,
    }
    assert missed["caller"] == {"number": "+33140000000", "display_name": None}
    assert (missed["outcome"], missed["duration_seconds"], missed["answered_device"]) == (
        "missed",
        None,
        None,
    )
    assert voicemail["caller"] == {"number": None, "display_name": None}
    assert (voicemail["outcome"], voicemail["ended_at"]) == ("voicemail", "2026-03-02T11:00:40Z")
    # Answered on no known device and still talking: no device, no duration yet.
    assert (forwarded["outcome"], forwarded["answered_device"], forwarded["duration_seconds"]) == (
        "answered",
        None,
        None,
    )


def test_seen_from_a_device_a_call_answered_on_another_reads_answered_elsewhere(
    member_api: APIClient, desk: Device, mobile: Device, history: dict[str, Call]
) -> None:
    from_mobile = member_api.get(f"/api/v1/calls?device={mobile.pk}").json()["results"]
    from_desk = member_api.get(f"/api/v1/calls?device={desk.pk}").json()["results"]

    assert [(c["outcome"], c["device_outcome"]) for c in from_mobile] == [
        ("answered", "answered_elsewhere"),  # no known device
        ("voicemail", "voicemail"),
        ("missed", "missed"),
        ("answered", "answered_elsewhere"),  # on the desk phone
    ]
    assert [c["device_outcome"] for c in from_desk] == [
        "answered_elsewhere",
        "voicemail",
        "missed",
        "answered",
    ]


def test_a_call_answered_on_a_colleagues_phone_is_answered_elsewhere(
    member_api: APIClient, alice: User, bob: User, desk: Device
) -> None:
    """Alice's plan rang Bob's extension (an extension target) and Bob's desk phone answered."""
    bobs_desk = make_device(bob, kind=Device.Kind.DESK_PHONE, label="Bob's desk")
    call = CallFactory(
        callee=alice,
        outcome=Call.Outcome.ANSWERED,
        answered_device=bobs_desk,
        started_at=T0,
        answered_at=T0 + timedelta(seconds=12),
    )

    body = member_api.get(f"/api/v1/calls/{call.pk}?device={desk.pk}").json()

    assert body["answered_device"] == {
        "id": bobs_desk.pk,
        "label": "Bob's desk",
        "kind": "desk_phone",
        "user_id": bob.pk,
    }
    assert (body["outcome"], body["device_outcome"]) == ("answered", "answered_elsewhere")


def test_the_portal_calls_page_reads_the_same_per_device_view(
    member: User, member_api: APIClient, desk: Device, mobile: Device, history: dict[str, Call]
) -> None:
    browser = Client()
    browser.force_login(member)
    row = re.compile(
        r'<tr data-call-id="(\d+)">.*?data-device-outcome="([a-z_]*)">([^<]*)</td>', re.S
    )

    for device in (desk, mobile):
        api = member_api.get(f"/api/v1/calls?device={device.pk}").json()["results"]
        page = browser.get(f"/portal/calls/?device={device.pk}")

        assert page.status_code == 200
        rows = row.findall(page.content.decode())
        assert [(int(i), seen) for i, seen, _ in rows] == [
            (call["id"], call["device_outcome"]) for call in api
        ]
    assert [label for _, _, label in rows] == [  # as seen from the mobile app
        "Answered elsewhere",
        "Went to voicemail",
        "Missed",
        "Answered elsewhere (Desk)",
    ]
    everyone = row.findall(browser.get("/portal/calls/").content.decode())
    assert [(seen, label) for _, seen, label in everyone] == [
        ("", "Answered"),
        ("", "Went to voicemail"),
        ("", "Missed"),
        ("", "Answered on Desk"),
    ]
    assert b"Bob Durand (202)" in page.content


def test_filters_outcome_since_until(member_api: APIClient, history: dict[str, Call]) -> None:
    def listed(query: str) -> list[int]:
        return ids(member_api.get(f"/api/v1/calls?{query}"))

    pk = {name: call.pk for name, call in history.items()}

    assert listed("outcome=answered") == [pk["forwarded"], pk["answered"]]
    assert listed("outcome=failed") == []
    assert listed("since=2026-03-02T10:00:00Z") == [pk["forwarded"], pk["voicemail"], pk["missed"]]
    # 11:00 in Paris is 10:00 UTC: `until` is exclusive ("+" percent-encoded).
    assert listed("until=2026-03-02T11:00:00%2B01:00") == [pk["answered"]]
    assert listed("since=2026-03-02T10:00:00Z&until=2026-03-02T12:00:00Z") == [
        pk["voicemail"],
        pk["missed"],
    ]
    assert listed("outcome=missed&since=2026-03-02T10:00:01Z") == []


def test_tenant_admins_see_the_organisation_and_filter_by_person(
    admin_api: APIClient,
    alice: User,
    bob: User,
    mobile: Device,
    history: dict[str, Call],
    other_tenant: Tenant,
) -> None:
    CallFactory(callee=UserFactory(tenant=other_tenant), started_at=T0 + timedelta(hours=5))
    pk = {name: call.pk for name, call in history.items()}

    everyone = admin_api.get("/api/v1/calls")
    bobs = admin_api.get(f"/api/v1/calls?user={bob.pk}")
    own = admin_api.get("/api/v1/calls?user=me")
    seen_from_alices_mobile = admin_api.get(f"/api/v1/calls?device={mobile.pk}")
    mismatch = admin_api.get(f"/api/v1/calls?user={bob.pk}&device={mobile.pk}")

    assert ids(everyone) == [
        pk["bobs"],
        pk["forwarded"],
        pk["voicemail"],
        pk["missed"],
        pk["answered"],
    ]
    assert everyone.json()["results"][0]["callee"] == {
        "user_id": bob.pk,
        "extension": "202",
        "display_name": "Bob Durand",
    }
    assert everyone.json()["results"][0]["caller"] == {
        "number": "201",
        "display_name": "Alice Martin",
    }
    assert ids(bobs) == [pk["bobs"]]
    assert ids(own) == []
    assert [c["device_outcome"] for c in seen_from_alices_mobile.json()["results"]] == [
        "answered_elsewhere",
        "voicemail",
        "missed",
        "answered_elsewhere",
    ]
    assert mismatch.status_code == 400
    assert mismatch.json() == invalid("device", "not_users_device", "Not a device of this user.")


def test_members_never_reach_another_persons_calls_or_devices(
    member_api: APIClient, alice: User, bob: User, history: dict[str, Call]
) -> None:
    bobs_phone = make_device(bob, kind=Device.Kind.SOFTPHONE, label="Bob's laptop")

    own_by_id = member_api.get(f"/api/v1/calls?user={alice.pk}")
    own_by_me = member_api.get("/api/v1/calls?user=me")
    bobs_calls = member_api.get(f"/api/v1/calls?user={bob.pk}")
    bobs_device = member_api.get(f"/api/v1/calls?device={bobs_phone.pk}")
    no_device = member_api.get("/api/v1/calls?device=999999")
    bobs_call = member_api.get(f"/api/v1/calls/{history['bobs'].pk}")
    bobs_call_from_his_device = member_api.get(
        f"/api/v1/calls/{history['bobs'].pk}?device={bobs_phone.pk}"
    )

    assert len(ids(own_by_id)) == len(ids(own_by_me)) == 4
    assert bobs_calls.status_code == 400
    assert bobs_calls.json() == invalid("user", "does_not_exist", "No such user.")
    # Someone else's device and a device that does not exist answer the same.
    assert (bobs_device.status_code, no_device.status_code) == (400, 400)
    assert (
        bobs_device.json()
        == no_device.json()
        == invalid("device", "does_not_exist", "No such device.")
    )
    assert bobs_call.status_code == 404
    assert bobs_call.json() == {"code": "not_found", "detail": "Not found."}
    assert bobs_call_from_his_device.json() == invalid(
        "device", "does_not_exist", "No such device."
    )


def test_another_tenants_device_is_unknown_to_an_admin(
    admin_api: APIClient, other_tenant: Tenant
) -> None:
    theirs = make_device(UserFactory(tenant=other_tenant), kind=Device.Kind.DESK_PHONE)

    response = admin_api.get(f"/api/v1/calls?device={theirs.pk}")

    assert response.status_code == 400
    assert response.json() == invalid("device", "does_not_exist", "No such device.")


def test_the_detail_adds_why_it_rang(
    member_api: APIClient, admin_api: APIClient, mobile: Device, history: dict[str, Call]
) -> None:
    answered = history["answered"]

    detail = member_api.get(f"/api/v1/calls/{answered.pk}")
    seen_from_mobile = member_api.get(f"/api/v1/calls/{answered.pk}?device={mobile.pk}")
    missed = member_api.get(f"/api/v1/calls/{history['missed'].pk}")
    bobs_for_the_admin = admin_api.get(f"/api/v1/calls/{history['bobs'].pk}")
    not_an_id = member_api.get("/api/v1/calls/abc")

    assert detail.status_code == 200, detail.content
    listed = member_api.get("/api/v1/calls").json()["results"][-1]
    assert detail.json() == listed | {
        "plan": "office",
        "rule": "after hours",
        "reason": "no_answer",
        "final_code": None,
        "trace": ["Rule 'after hours' matched.", "Stage 1 rings Desk for 15 s."],
    }
    assert seen_from_mobile.json()["device_outcome"] == "answered_elsewhere"
    assert (missed.json()["rule"], missed.json()["final_code"]) == (None, 487)
    assert bobs_for_the_admin.status_code == 200
    assert bobs_for_the_admin.json()["callee"]["display_name"] == "Bob Durand"
    assert not_an_id.status_code == 404
    assert not_an_id.json()["code"] == "not_found"


def test_the_callee_is_named_after_the_person_when_the_extension_is_gone(
    member_api: APIClient, member: User
) -> None:
    member.full_name = "Alice Martin"
    member.save(update_fields=["full_name"])
    call = CallFactory(callee=member, extension="299", started_at=T0)

    body = member_api.get(f"/api/v1/calls/{call.pk}").json()

    assert body["callee"] == {
        "user_id": member.pk,
        "extension": "299",
        "display_name": "Alice Martin",
    }


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("foo=1", "foo", "unknown_field"),
        ("ordering=-started_at", "ordering", "unknown_field"),
        ("since=yesterday", "since", "invalid"),
        ("until=2026-13-01T00:00:00Z", "until", "invalid"),
        ("since=2026-03-02T10:00:00Z&until=2026-03-02T09:00:00Z", "until", "before_since"),
        ("outcome=answered_elsewhere", "outcome", "invalid_choice"),
        ("limit=0", "limit", "min_value"),
        ("limit=ten", "limit", "invalid"),
        ("offset=-1", "offset", "min_value"),
        ("device=abc", "device", "invalid"),
        ("user=bob", "user", "does_not_exist"),
    ],
)
def test_bad_query_parameters_answer_the_error_shape(
    member_api: APIClient, query: str, field: str, code: str
) -> None:
    response = member_api.get(f"/api/v1/calls?{query}")

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["detail"], list(body["fields"])) == ("invalid", INVALID, [field])
    assert [error["code"] for error in body["fields"][field]] == [code]


def test_the_detail_refuses_list_parameters(member_api: APIClient, member: User) -> None:
    call = CallFactory(callee=member)

    response = member_api.get(f"/api/v1/calls/{call.pk}?outcome=missed")

    assert response.status_code == 400
    assert response.json() == invalid("outcome", "unknown_field", "Unknown field.")


def test_limit_and_offset_page_through_the_calls(member_api: APIClient, member: User) -> None:
    calls = [CallFactory(callee=member, started_at=T0 + timedelta(minutes=i)) for i in range(5)]

    response = member_api.get("/api/v1/calls?limit=2&offset=2")

    assert ids(response) == [calls[2].pk, calls[1].pk]
    body = response.json()
    assert body["count"] == 5
    assert body["next"] == "http://testserver/api/v1/calls?limit=2&offset=4"
    assert body["previous"] == "http://testserver/api/v1/calls?limit=2"


def test_only_people_of_an_organisation_have_a_call_history(client_for, db: None) -> None:  # type: ignore[no-untyped-def]
    staff = UserFactory(tenant=None, role=User.Role.PLATFORM_ADMIN)

    anonymous = APIClient().get("/api/v1/calls")
    platform = client_for(staff).get("/api/v1/calls")

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert (platform.status_code, platform.json()["code"]) == (403, "no_tenant")


@pytest.mark.parametrize("calls", [5, 50])
def test_a_page_of_calls_costs_a_constant_number_of_queries(
    admin_api: APIClient, tenant: Tenant, calls: int, django_assert_num_queries
) -> None:
    people = [UserFactory(tenant=tenant) for _ in range(3)]
    for index, person in enumerate(people):
        ExtensionFactory(owner=person, number=f"3{index:02d}")
    devices = [make_device(person, kind=Device.Kind.DESK_PHONE) for person in people]
    for i in range(calls):
        callee = people[i % 3]
        CallFactory(
            callee=callee,
            caller=f"3{(i + 1) % 3:02d}",
            outcome=Call.Outcome.ANSWERED,
            answered_device=devices[i % 3],
            started_at=T0 + timedelta(minutes=i),
            answered_at=T0 + timedelta(minutes=i, seconds=5),
            ended_at=T0 + timedelta(minutes=i, seconds=65),
        )

    # The bearer token (one query, with its session and user), the count, the page;
    # `?device=` adds the device.
    with django_assert_num_queries(3):
        everyone = admin_api.get("/api/v1/calls?limit=50")
    with django_assert_num_queries(4):
        seen_from = admin_api.get(f"/api/v1/calls?device={devices[0].pk}")

    assert len(ids(everyone)) == calls
    assert {c["caller"]["display_name"] for c in everyone.json()["results"]} == {
        person.extensions.get().display_name for person in people
    }
    assert {c["duration_seconds"] for c in everyone.json()["results"]} == {60}
    assert len(ids(seen_from)) == len(range(0, calls, 3))
