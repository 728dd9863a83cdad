import pytest
from rest_framework.test import APIClient

from devices.models import Device, PushBinding
from pbx.directory.models import User
from tests.factories import UserFactory, make_device

pytestmark = pytest.mark.django_db

APNS_TOKEN = "ab" * 32
FCM_TOKEN = "dXk1:APA91bH-" + "x" * 140


def test_register_refresh_and_delete_a_push_token(member: User, member_api: APIClient) -> None:
    device = make_device(member, kind=Device.Kind.MOBILE_APP)
    url = f"/api/v1/devices/{device.pk}/push-binding"

    registered = member_api.put(
        url,
        {
            "provider": "apns",
            "token": APNS_TOKEN.upper(),
            "app_id": "com.example.pbx",
            "environment": "sandbox",
        },
        format="json",
    )
    refreshed = member_api.put(
        url, {"provider": "fcm", "token": FCM_TOKEN, "app_id": "com.example.pbx"}, format="json"
    )

    assert registered.status_code == 200
    assert registered.json()["token_suffix"] == APNS_TOKEN[-8:]
    assert refreshed.json()["provider"] == "fcm"
    binding = PushBinding.objects.get()
    assert (binding.device_id, binding.token, binding.environment) == (
        device.pk,
        FCM_TOKEN,
        "production",
    )
    assert member_api.get(url).json()["provider"] == "fcm"
    assert (
        member_api.get(f"/api/v1/devices/{device.pk}").json()["push_binding"]["provider"] == "fcm"
    )
    assert member_api.delete(url).status_code == 204
    assert PushBinding.objects.count() == 0
    assert member_api.get(url).status_code == 404


def test_refreshing_a_dead_token_revives_it(member: User, member_api: APIClient) -> None:
    device = make_device(member, kind=Device.Kind.MOBILE_APP)
    url = f"/api/v1/devices/{device.pk}/push-binding"
    member_api.put(
        url, {"provider": "fcm", "token": FCM_TOKEN, "app_id": "com.example.pbx"}, format="json"
    )
    PushBinding.objects.update(dead_reason="unregistered", dead_at="2026-01-01T00:00:00Z")

    body = member_api.put(
        url,
        {"provider": "fcm", "token": FCM_TOKEN + "2", "app_id": "com.example.pbx"},
        format="json",
    ).json()

    assert body["is_dead"] is False
    assert body["dead_reason"] == ""


def test_a_token_moves_to_the_device_that_registers_it_last(
    member: User, member_api: APIClient, client_for
) -> None:
    """Same phone, another person signs in: the previous person's calls must not wake it."""
    colleague = UserFactory(tenant=member.tenant)
    old = make_device(colleague, kind=Device.Kind.MOBILE_APP)
    client_for(colleague).put(
        f"/api/v1/devices/{old.pk}/push-binding",
        {"provider": "fcm", "token": FCM_TOKEN, "app_id": "com.example.pbx"},
        format="json",
    )
    new = make_device(member, kind=Device.Kind.MOBILE_APP)

    member_api.put(
        f"/api/v1/devices/{new.pk}/push-binding",
        {"provider": "fcm", "token": FCM_TOKEN, "app_id": "com.example.pbx"},
        format="json",
    )

    assert list(PushBinding.objects.values_list("device_id", flat=True)) == [new.pk]


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        (
            {"provider": "apns", "token": "zz" * 32, "app_id": "com.example.pbx"},
            "token",
            "invalid_push_token",
        ),
        (
            {"provider": "fcm", "token": "short", "app_id": "com.example.pbx"},
            "token",
            "invalid_push_token",
        ),
        (
            {"provider": "fcm", "token": FCM_TOKEN, "app_id": "not an id"},
            "app_id",
            "invalid_app_id",
        ),
        (
            {
                "provider": "fcm",
                "token": FCM_TOKEN,
                "app_id": "com.example.pbx",
                "environment": "sandbox",
            },
            "environment",
            "invalid_environment",
        ),
        (
            {"provider": "webpush", "token": FCM_TOKEN, "app_id": "com.example.pbx"},
            "provider",
            "invalid_choice",
        ),
        ({"provider": "fcm", "token": FCM_TOKEN}, "app_id", "required"),
        (
            {"provider": "fcm", "token": "x" * 1025, "app_id": "com.example.pbx"},
            "token",
            "max_length",
        ),
    ],
)
def test_bad_push_registrations_are_refused(
    member: User, member_api: APIClient, payload, field, code
) -> None:
    device = make_device(member, kind=Device.Kind.MOBILE_APP)

    response = member_api.put(f"/api/v1/devices/{device.pk}/push-binding", payload, format="json")

    assert response.status_code == 400
    assert response.json()["fields"][field][0]["code"] == code
    assert PushBinding.objects.count() == 0


def test_only_mobile_apps_have_push_tokens(member: User, member_api: APIClient) -> None:
    device = make_device(member, kind=Device.Kind.DESK_PHONE)

    response = member_api.put(
        f"/api/v1/devices/{device.pk}/push-binding",
        {"provider": "fcm", "token": FCM_TOKEN, "app_id": "com.example.pbx"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "not_a_mobile_app"
