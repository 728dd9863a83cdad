"""The registration-events endpoint the engine posts to: parsing, applying, hostile input."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from devices import services
from devices.models import Device, Registration, RegistrationFailure
from devices.registrations import registration_saved
from pbx.directory.models import User
from pbx.engine.contract import CONTRACT_VERSION, parse_event
from tests.factories import make_device

pytestmark = pytest.mark.django_db
URL = "/internal/engine/events"
TOKEN = {"HTTP_X_ENGINE_TOKEN": "development-engine-token"}


def post(body: object, **headers: str):
    """A batch as the engine sends it (the contract's version added to any object)."""
    if isinstance(body, dict):
        body = {"version": CONTRACT_VERSION} | body
    return Client().post(
        URL, json.dumps(body), content_type="application/json", **(headers or TOKEN)
    )


def event(device: Device, **fields: object) -> dict:
    return {
        "type": "registered",
        "username": device.sip_username,
        "domain": device.tenant.sip_domain,
        "contact": f"sip:{device.sip_username}@192.0.2.7:5060",
        "expires": "300",
        "source_address": "192.0.2.7",
        "source_port": 5060,
        "transport": "udp",
        "user_agent": "Yealink T54W",
    } | fields


def test_registered_then_unregistered(member: User) -> None:
    device = make_device(member)

    first = post({"events": [event(device)]})
    registration = Registration.objects.get(device=device)
    second = post({"events": [event(device, type="unregistered", expires="0")]})

    assert first.json() == {"accepted": 1, "rejected": 0, "known_devices": 1, "known_calls": 0}
    assert registration.user_agent == "Yealink T54W"
    assert 295 <= (registration.expires_at - timezone.now()).total_seconds() <= 300
    assert second.status_code == 200
    assert not Registration.objects.filter(device=device).exists()


def test_one_contact_per_device_and_expiry_is_capped(member: User) -> None:
    device = make_device(member)

    post(
        {
            "events": [
                event(device),
                event(device, contact="sip:new@192.0.2.8:5060", expires="999999"),
            ]
        }
    )

    registration = Registration.objects.get(device=device)
    assert registration.contact == "sip:new@192.0.2.8:5060"
    assert (registration.expires_at - timezone.now()) <= timedelta(seconds=3600)


def test_a_moved_binding_updates_the_registration_in_a_few_statements(
    member: User, django_assert_max_num_queries
) -> None:
    """A registration storm (every phone back after an outage) is one such event per phone:
    its cost is a handful of statements, not one per field or check."""
    device = make_device(member)
    post({"events": [event(device)]})
    before = Registration.objects.get(device=device)
    moved = parse_event(event(device, source_port=40000))

    # the device locked, its registrations read, one UPDATE
    with django_assert_max_num_queries(3):
        seen = registration_saved(event=moved, now=timezone.now())

    assert seen is not None
    assert not seen.appeared
    registration = Registration.objects.get(device=device)
    assert registration.pk == before.pk
    assert registration.source_port == 40000
    assert registration.updated_at > before.updated_at
    assert 295 <= (registration.expires_at - timezone.now()).total_seconds() <= 300


def test_refusals_are_kept_for_the_security_work(member: User) -> None:
    device = make_device(member)

    post(
        {
            "events": [
                event(device, type="refused", reason="bad_credentials"),
                event(device, type="refused", username="ghost"),
            ]
        }
    )

    assert list(
        RegistrationFailure.objects.order_by("id").values_list("username", "device_id", "reason")
    ) == [
        (device.sip_username, device.pk, "bad_credentials"),
        ("ghost", None, "refused"),
    ]


def test_late_events_do_not_bring_a_revoked_device_back_online(member: User) -> None:
    device = make_device(member)
    services.device_revoke(device=device)

    post({"events": [event(device)]})

    assert not Registration.objects.filter(device=device).exists()


def test_bad_events_are_skipped_without_losing_the_batch(member: User) -> None:
    device = make_device(member)

    response = post(
        {
            "events": [
                "not an object",
                event(device, type="exploded"),
                event(device, source_address="999.1.1.1"),
                event(device, source_port=70000),
                event(device, username=None),
                event(device),
            ]
        }
    )

    assert response.json() == {"accepted": 1, "rejected": 5, "known_devices": 1, "known_calls": 0}
    assert Registration.objects.filter(device=device).count() == 1


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        ({"events": []}, {"HTTP_X_ENGINE_TOKEN": "wrong"}, 401, "not_authenticated"),
        ({"events": "x"}, {}, 400, "malformed_request"),
        ({"nothing": []}, {}, 400, "malformed_request"),
        ({"version": 2, "events": []}, {}, 400, "contract_version"),
        ({"version": None, "events": []}, {}, 400, "contract_version"),
        ({"events": [{"pad": "x" * 600_000}]}, {}, 413, "too_large"),
    ],
)
def test_bad_requests(body: object, headers: dict, status: int, code: str) -> None:
    response = post(body, **headers)

    assert (response.status_code, response.json()["code"]) == (status, code)


def test_call_events_are_validated_and_unknown_calls_ignored(member: User) -> None:
    response = post(
        {
            "events": [
                {"type": "answered", "call_id": "", "domain": "x.example"},
                {"type": "missed", "call_id": "c1", "domain": "x.example", "code": 99},
                {"type": "ended", "call_id": ["c1"], "domain": "x.example"},
                {"type": "ended", "call_id": "never-decided", "domain": member.tenant.sip_domain},
            ]
        }
    )

    assert response.json() == {"accepted": 1, "rejected": 3, "known_devices": 0, "known_calls": 0}
