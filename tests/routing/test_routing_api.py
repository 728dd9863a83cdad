from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from devices.models import Device, Registration
from pbx.directory.models import User
from routing.models import RoutingProfile, Schedule
from tests.factories import ExtensionFactory, UserFactory, make_device

pytestmark = pytest.mark.django_db

TUESDAY_1805_PARIS = "2026-11-24T18:05:00+01:00"


def register(device: Device, minutes: int = 10) -> None:
    Registration.objects.create(
        device=device,
        contact=f"sip:{device.sip_username}@192.0.2.10:5060",
        expires_at=timezone.now() + timedelta(minutes=minutes),
    )


def plan(name: str, *stages: dict, final: dict | None = None) -> dict:
    return {"name": name, "stages": list(stages), "final": final or {"action": "voicemail"}}


def ring(seconds: int, *targets: dict, mode: str = "add") -> dict:
    return {"seconds": seconds, "mode": mode, "targets": list(targets)}


def kind(name: str) -> dict:
    return {"type": "device_kind", "kind": name}


@pytest.fixture
def office_hours(admin_api: APIClient) -> int:
    response = admin_api.post(
        "/api/v1/schedules",
        {
            "name": "Office hours",
            "shared": True,
            "weekly": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}
            ],
            "exceptions": [{"date": "2026-12-25"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_everyone_starts_with_ring_all_then_voicemail(member: User, member_api: APIClient) -> None:
    body = member_api.get("/api/v1/users/me/routing").json()

    assert body["document_source"] == "built_in"
    assert body["template"] is None
    assert body["document"]["default_plan"] == "ring all"
    assert body["treatment"]["dnd"] is False


def test_set_own_document_and_simulate_after_hours(
    member: User, member_api: APIClient, office_hours: int
) -> None:
    ExtensionFactory(owner=member, number="201")
    desk = make_device(member, kind=Device.Kind.DESK_PHONE, label="Desk")
    mobile = make_device(member, kind=Device.Kind.MOBILE_APP, label="Pixel")
    register(desk)
    register(mobile)
    document = {
        "plans": [
            plan(
                "office",
                ring(15, {"type": "device", "device_id": desk.pk}),
                ring(20, kind("mobile_app")),
            ),
            plan("mobile", ring(25, kind("mobile_app"))),
        ],
        "default_plan": "office",
        "rules": [
            {"name": "after hours", "plan": "mobile", "schedule_id": office_hours, "when": "closed"}
        ],
    }

    saved = member_api.put(
        "/api/v1/users/me/routing/document", {"document": document}, format="json"
    )
    evening = member_api.post(
        "/api/v1/users/me/routing/simulate",
        {"caller": "+33 1 40 00 00 00", "at": TUESDAY_1805_PARIS},
        format="json",
    )
    morning = member_api.post(
        "/api/v1/users/me/routing/simulate",
        {"caller": "+33140000000", "at": "2026-11-24T10:00:00+01:00"},
        format="json",
    )

    assert saved.status_code == 200, saved.content
    assert saved.json()["document_source"] == "own"
    assert saved.json()["document"]["rules"][0] == {
        "name": "after hours",
        "plan": "mobile",
        "schedule_id": office_hours,
        "when": "closed",
        "overrides_dnd": False,
        "enabled": True,
    }
    assert evening.status_code == 200, evening.content
    body = evening.json()
    assert (body["plan"], body["rule"], body["extension"]) == ("mobile", "after hours", "201")
    assert body["branches"] == [
        {
            "type": "device",
            "label": "Pixel",
            "start_ms": 0,
            "stop_ms": 25000,
            "wake": False,
            "after_cut": False,
            "device_id": mobile.pk,
            "sip_username": mobile.sip_username,
            "user_id": member.pk,
        }
    ]
    assert body["trace"][0].startswith("Tue 2026-11-24 18:05 Europe/Paris")
    assert "Rule 'after hours' matched (schedule 'Office hours' is closed)." in body["trace"]
    assert [(b["label"], b["start_ms"], b["stop_ms"]) for b in morning.json()["branches"]] == [
        ("Desk", 0, 35000),
        ("Pixel", 15000, 35000),
    ]


def test_simulate_with_an_assumed_live_state(member: User, member_api: APIClient) -> None:
    laptop = make_device(member, kind=Device.Kind.SOFTPHONE, label="Laptop")
    desk = make_device(member, kind=Device.Kind.DESK_PHONE, label="Desk")

    now = member_api.post("/api/v1/users/me/routing/simulate", {}, format="json").json()
    assumed = member_api.post(
        "/api/v1/users/me/routing/simulate", {"registered_device_ids": [laptop.pk]}, format="json"
    ).json()

    assert (now["branches"], now["reason"], now["final"]["at_ms"]) == ([], "nothing_reachable", 0)
    assert "Desk skipped: not registered." in now["trace"]
    assert [b["device_id"] for b in assumed["branches"]] == [laptop.pk]
    assert desk.pk not in [b["device_id"] for b in assumed["branches"]]


@pytest.mark.parametrize(
    ("mutate", "path", "code"),
    [
        (
            lambda d, ids: d["plans"][0]["stages"][0]["targets"].append(
                {"type": "device", "device_id": 999999}
            ),
            "document.plans.0.stages.0.targets.1.device_id",
            "unknown_device",
        ),
        (
            lambda d, ids: d["plans"][0]["stages"][0]["targets"].append(
                {"type": "device", "device_id": ids["colleague"]}
            ),
            "document.plans.0.stages.0.targets.1.device_id",
            "not_your_device",
        ),
        (
            lambda d, ids: d["plans"][0]["stages"][0]["targets"].append(
                {"type": "device", "device_id": ids["revoked"]}
            ),
            "document.plans.0.stages.0.targets.1.device_id",
            "device_revoked",
        ),
        (
            lambda d, ids: d["plans"][0]["stages"][0].update(seconds=3),
            "document.plans.0.stages.0.seconds",
            "out_of_range",
        ),
        (
            lambda d, ids: d["plans"][0]["stages"][0].update(seconds=121),
            "document.plans.0.stages.0.seconds",
            "out_of_range",
        ),
        (
            lambda d, ids: d["plans"][0]["stages"][0].update(mode="sequential"),
            "document.plans.0.stages.0.mode",
            "invalid_choice",
        ),
        (
            lambda d, ids: d["plans"][0]["stages"][0].update(targets=[]),
            "document.plans.0.stages.0.targets",
            "required",
        ),
        (lambda d, ids: d.update(default_plan="nope"), "document.default_plan", "unknown_plan"),
        (
            lambda d, ids: d["plans"].append(dict(d["plans"][0])),
            "document.plans.1.name",
            "duplicate",
        ),
        (
            lambda d, ids: d.update(rules=[{"name": "r", "plan": "p", "schedule_id": 999999}]),
            "document.rules.0.schedule_id",
            "unknown_schedule",
        ),
        (
            lambda d, ids: d.update(
                rules=[{"name": "r", "plan": "nope", "callers": ["+33140000000"]}]
            ),
            "document.rules.0.plan",
            "unknown_plan",
        ),
        (
            lambda d, ids: d.update(rules=[{"name": "r", "plan": "p"}]),
            "document.rules.0",
            "no_condition",
        ),
        (
            lambda d, ids: d.update(rules=[{"name": "r", "plan": "p", "callers": ["0612"]}]),
            "document.rules.0.callers.0",
            "not_e164",
        ),
        (
            lambda d, ids: d["plans"][0].update(final={"action": "forward", "destination": "201"}),
            "document.plans.0.final.destination",
            "forward_loop",
        ),
        (
            lambda d, ids: d["plans"][0].update(final={"action": "forward", "destination": "999"}),
            "document.plans.0.final.destination",
            "unknown_extension",
        ),
        (
            lambda d, ids: d["plans"][0].update(final={"action": "ring"}),
            "document.plans.0.final.action",
            "invalid_choice",
        ),
        (
            lambda d, ids: d["plans"][0]["stages"][0]["targets"].append(
                {"type": "extension", "extension": "201"}
            ),
            "document.plans.0.stages.0.targets.1.extension",
            "ring_loop",
        ),
        (lambda d, ids: d.update(colour="red"), "document.colour", "unknown_field"),
    ],
)
def test_invalid_documents_name_the_field_and_save_nothing(
    member: User, member_api: APIClient, mutate, path: str, code: str
) -> None:
    ExtensionFactory(owner=member, number="201")
    colleague_device = make_device(UserFactory(tenant=member.tenant))
    revoked = make_device(member)
    revoked.revoked_at = timezone.now()
    revoked.save()
    document = {"plans": [plan("p", ring(15, kind("softphone")))], "default_plan": "p", "rules": []}
    mutate(document, {"colleague": colleague_device.pk, "revoked": revoked.pk})

    response = member_api.put(
        "/api/v1/users/me/routing/document", {"document": document}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"][path][0]["code"] == code
    assert not RoutingProfile.objects.filter(user=member, document__isnull=False).exists()


@pytest.mark.django_db(
    transaction=True
)  # real commits: compiled profiles are invalidated on commit
def test_templates_roll_out_and_overrides_stick(
    admin_user: User, admin_api: APIClient, client_for
) -> None:
    follower = UserFactory(tenant=admin_user.tenant)
    rebel = UserFactory(tenant=admin_user.tenant)
    for person in (follower, rebel):
        register(make_device(person, kind=Device.Kind.DESK_PHONE, label="Desk"))
        register(make_device(person, kind=Device.Kind.MOBILE_APP, label="Mobile"))
    office = admin_api.post(
        "/api/v1/routing-templates",
        {
            "name": "office",
            "document": {
                "plans": [plan("desk", ring(20, kind("desk_phone")))],
                "default_plan": "desk",
            },
        },
        format="json",
    ).json()
    for person in (follower, rebel):
        assigned = admin_api.patch(
            f"/api/v1/users/{person.pk}/routing", {"template": office["id"]}, format="json"
        )
        assert assigned.json()["document_source"] == "template"
    rebel_api = client_for(rebel)
    rebel_api.put(
        "/api/v1/users/me/routing/document",
        {
            "document": {
                "plans": [plan("mine", ring(10, kind("mobile_app")))],
                "default_plan": "mine",
            }
        },
        format="json",
    )

    admin_api.patch(
        f"/api/v1/routing-templates/{office['id']}",
        {
            "document": {
                "plans": [
                    plan(
                        "desk then mobile",
                        ring(15, kind("desk_phone")),
                        ring(15, kind("mobile_app")),
                    )
                ],
                "default_plan": "desk then mobile",
            }
        },
        format="json",
    )

    def simulate(person: User) -> list[tuple[str, int, int]]:
        body = admin_api.post(
            f"/api/v1/users/{person.pk}/routing/simulate", {}, format="json"
        ).json()
        return [(b["label"], b["start_ms"], b["stop_ms"]) for b in body["branches"]]

    assert simulate(follower) == [("Desk", 0, 30000), ("Mobile", 15000, 30000)]
    assert simulate(rebel) == [("Mobile", 0, 10000)]
    assert admin_api.get(f"/api/v1/routing-templates/{office['id']}").json()["followers"] == 1
    reset = rebel_api.delete("/api/v1/users/me/routing/document")
    assert reset.json()["document_source"] == "template"
    assert simulate(rebel) == [("Desk", 0, 30000), ("Mobile", 15000, 30000)]


def test_default_template_applies_to_people_without_one(
    admin_user: User, admin_api: APIClient, member: User, member_api: APIClient
) -> None:
    admin_api.post(
        "/api/v1/routing-templates",
        {
            "name": "field",
            "is_default": True,
            "document": {"plans": [plan("m", ring(30, kind("mobile_app")))], "default_plan": "m"},
        },
        format="json",
    )

    assert (
        member_api.get("/api/v1/users/me/routing").json()["document_source"] == "default_template"
    )


def test_templates_cannot_name_devices(admin_user: User, admin_api: APIClient) -> None:
    device = make_device(admin_user)

    response = admin_api.post(
        "/api/v1/routing-templates",
        {
            "name": "x",
            "document": {
                "plans": [plan("p", ring(10, {"type": "device", "device_id": device.pk}))],
                "default_plan": "p",
            },
        },
        format="json",
    )

    assert (
        response.json()["fields"]["document.plans.0.stages.0.targets.0"][0]["code"]
        == "device_in_template"
    )


def test_members_cannot_assign_templates_or_write_them(member: User, member_api: APIClient) -> None:
    assert (
        member_api.patch("/api/v1/users/me/routing", {"template": None}, format="json").status_code
        == 403
    )
    assert (
        member_api.post(
            "/api/v1/routing-templates", {"name": "x", "document": {}}, format="json"
        ).status_code
        == 403
    )


def test_dnd_and_forwarding(member: User, member_api: APIClient) -> None:
    ExtensionFactory(owner=member, number="201")
    ExtensionFactory(owner=UserFactory(tenant=member.tenant), number="202")
    register(make_device(member))

    dnd = member_api.patch("/api/v1/users/me/routing", {"dnd": True}, format="json")
    in_dnd = member_api.post("/api/v1/users/me/routing/simulate", {}, format="json").json()
    loop = member_api.patch(
        "/api/v1/users/me/routing", {"dnd": False, "forward_always": "201"}, format="json"
    )
    dnd_after_refusal = RoutingProfile.objects.get(user=member).dnd
    outside = member_api.patch(
        "/api/v1/users/me/routing",
        {"dnd": False, "forward_on_busy": "+33 6 12 34 56 78", "max_concurrent_calls": 1},
        format="json",
    )
    forward = member_api.patch(
        "/api/v1/users/me/routing",
        {"dnd": False, "forward_on_busy": "202", "max_concurrent_calls": 1},
        format="json",
    )
    busy = member_api.post(
        "/api/v1/users/me/routing/simulate", {"active_calls": 1}, format="json"
    ).json()

    assert dnd.json()["treatment"]["dnd"] is True
    assert (in_dnd["reason"], in_dnd["branches"], in_dnd["final"]["action"]) == (
        "dnd",
        [],
        "voicemail",
    )
    assert loop.status_code == 400
    assert loop.json()["fields"]["forward_always"][0]["code"] == "forward_loop"
    assert dnd_after_refusal is True  # the refused PATCH changed nothing
    # No trunk yet: an outside number is refused, and nothing changed.
    assert (outside.status_code, outside.json()["fields"]["forward_on_busy"][0]["code"]) == (
        400,
        "no_trunk",
    )
    assert forward.json()["treatment"]["forward_on_busy"] == "202"
    # 202 has nothing registered: the forward ends in 202's voicemail at once.
    assert (busy["reason"], busy["branches"], busy["final"]) == (
        "busy",
        [],
        {"action": "voicemail", "at_ms": 0, "mailbox": "202", "greeting": "unavailable"},
    )
    assert "Forwarding to extension 202 (" in " ".join(busy["trace"])


def test_routing_of_others(
    member: User, member_api: APIClient, admin_api: APIClient, other_tenant
) -> None:
    colleague = UserFactory(tenant=member.tenant)
    stranger = UserFactory(tenant=other_tenant)

    assert member_api.get(f"/api/v1/users/{colleague.pk}/routing").status_code == 404
    assert (
        member_api.post(
            f"/api/v1/users/{colleague.pk}/routing/simulate", {}, format="json"
        ).status_code
        == 404
    )
    assert admin_api.get(f"/api/v1/users/{stranger.pk}/routing").status_code == 404
    assert (
        admin_api.put(
            f"/api/v1/users/{stranger.pk}/routing/document", {"document": {}}, format="json"
        ).status_code
        == 404
    )
    assert admin_api.get(f"/api/v1/users/{member.pk}/routing").status_code == 200
    assert member_api.get("/api/v1/users/nobody/routing").status_code == 404


def test_schedules(
    member: User, member_api: APIClient, admin_api: APIClient, office_hours: int
) -> None:
    shared_by_member = member_api.post(
        "/api/v1/schedules", {"name": "x", "shared": True}, format="json"
    )
    personal = member_api.post(
        "/api/v1/schedules",
        {"name": "Gym", "weekly": [{"days": ["mon"], "start": "18:00", "end": "20:00"}]},
        format="json",
    )
    overlapping = member_api.post(
        "/api/v1/schedules",
        {
            "name": "Bad",
            "weekly": [
                {"days": ["mon"], "start": "09:00", "end": "12:00"},
                {"days": ["mon", "tue"], "start": "11:00", "end": "13:00"},
            ],
        },
        format="json",
    )
    edit_shared = member_api.patch(
        f"/api/v1/schedules/{office_hours}", {"name": "Mine"}, format="json"
    )

    assert shared_by_member.status_code == 403
    assert personal.status_code == 201
    assert personal.json()["shared"] is False
    assert overlapping.json()["fields"]["weekly"][0]["code"] == "overlapping_windows"
    assert edit_shared.status_code == 403
    assert sorted(s["name"] for s in member_api.get("/api/v1/schedules").json()["results"]) == [
        "Gym",
        "Office hours",
    ]
    assert [s["name"] for s in admin_api.get("/api/v1/schedules").json()["results"]] == [
        "Office hours"
    ]
    assert Schedule.objects.count() == 2


def test_a_schedule_in_use_cannot_be_deleted(
    member: User, member_api: APIClient, admin_api: APIClient, office_hours: int
) -> None:
    member_api.put(
        "/api/v1/users/me/routing/document",
        {
            "document": {
                "plans": [plan("p", ring(10, kind("softphone")))],
                "default_plan": "p",
                "rules": [{"name": "hours", "plan": "p", "schedule_id": office_hours}],
            }
        },
        format="json",
    )

    refused = admin_api.delete(f"/api/v1/schedules/{office_hours}")

    assert refused.status_code == 409
    assert refused.json()["code"] == "schedule_in_use"
    assert member.email in refused.json()["detail"]
    assert Schedule.objects.filter(pk=office_hours).exists()
