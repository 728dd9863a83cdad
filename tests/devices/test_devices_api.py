import hashlib
import logging

import pytest
from rest_framework.test import APIClient

from devices.models import Device, PushBinding
from pbx.directory.models import User
from tests.factories import UserFactory, make_device

pytestmark = pytest.mark.django_db


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest is MD5


def test_member_creates_a_device_and_sees_the_secret_once(
    member: User, member_api: APIClient
) -> None:
    response = member_api.post(
        "/api/v1/devices", {"kind": "softphone", "label": "Laptop"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    device = Device.objects.get(pk=body["id"])
    realm = member.tenant.sip_domain
    assert body["sip_domain"] == realm
    assert body["sip_username"] == device.sip_username
    assert body["sip_username"].startswith("sp")
    assert len(body["sip_secret"]) == 24
    assert device.ha1 == md5(f"{device.sip_username}:{realm}:{body['sip_secret']}")
    assert device.ha1b == md5(f"{device.sip_username}@{realm}:{realm}:{body['sip_secret']}")
    assert body["state"] == "active"
    assert device.user == member
    detail = member_api.get(f"/api/v1/devices/{device.pk}").json()
    assert "sip_secret" not in detail
    assert body["sip_secret"] not in str(detail)


def test_secret_is_never_stored_or_logged(
    member: User, member_api: APIClient, caplog, settings
) -> None:
    settings.DEBUG = True  # makes Django log every SQL statement with its parameters
    caplog.set_level(logging.DEBUG)
    with caplog.at_level(logging.DEBUG, logger="django.db.backends"):
        created = member_api.post(
            "/api/v1/devices", {"kind": "desk_phone", "label": "Desk"}, format="json"
        ).json()
        rotated = member_api.post(f"/api/v1/devices/{created['id']}/rotate-secret").json()

    secrets = [created["sip_secret"], rotated["sip_secret"]]
    assert secrets[0] != secrets[1]
    row = Device.objects.filter(pk=created["id"]).values().get()
    for secret in secrets:
        assert all(secret not in str(value) for value in row.values())
        assert secret not in caplog.text
    # The SQL log was really captured (so the check above could have failed).
    assert "UPDATE" in caplog.text
    assert row["ha1"] in caplog.text


def test_rotate_secret_changes_the_digest(member: User, member_api: APIClient) -> None:
    device = make_device(member)
    old_ha1 = device.ha1

    response = member_api.post(f"/api/v1/devices/{device.pk}/rotate-secret")

    assert response.status_code == 200
    device.refresh_from_db()
    secret = response.json()["sip_secret"]
    assert device.ha1 != old_ha1
    assert device.ha1 == md5(f"{device.sip_username}:{member.tenant.sip_domain}:{secret}")


def test_member_renames_but_only_an_admin_disables(
    member: User, member_api: APIClient, admin_api: APIClient
) -> None:
    device = make_device(member)

    renamed = member_api.patch(
        f"/api/v1/devices/{device.pk}", {"label": "Work laptop"}, format="json"
    )
    refused = member_api.patch(
        f"/api/v1/devices/{device.pk}",
        {"enabled": False, "allowed_networks": ["192.0.2.0/24"]},
        format="json",
    )
    disabled = admin_api.patch(f"/api/v1/devices/{device.pk}", {"enabled": False}, format="json")

    assert renamed.status_code == 200
    assert renamed.json()["label"] == "Work laptop"
    assert refused.status_code == 403
    assert refused.json() == {
        "code": "admin_only_field",
        "detail": "Only an administrator may change allowed_networks, enabled.",
    }
    assert disabled.json()["state"] == "disabled"
    device.refresh_from_db()
    assert (device.label, device.enabled, device.allowed_networks) == ("Work laptop", False, [])


def test_revoke_is_final_and_idempotent(member: User, member_api: APIClient) -> None:
    device = make_device(member, kind=Device.Kind.MOBILE_APP)
    member_api.put(
        f"/api/v1/devices/{device.pk}/push-binding",
        {"provider": "fcm", "token": "f" * 40, "app_id": "com.example.pbx"},
        format="json",
    )

    first = member_api.post(f"/api/v1/devices/{device.pk}/revoke")
    second = member_api.post(f"/api/v1/devices/{device.pk}/revoke")

    assert first.status_code == 200
    assert first.json()["state"] == "revoked"
    assert second.json()["revoked_at"] == first.json()["revoked_at"]
    assert PushBinding.objects.count() == 0
    rotate = member_api.post(f"/api/v1/devices/{device.pk}/rotate-secret")
    assert rotate.status_code == 409
    assert rotate.json()["code"] == "device_revoked"
    patch = member_api.patch(f"/api/v1/devices/{device.pk}", {"label": "Back"}, format="json")
    assert patch.status_code == 409
    device.refresh_from_db()
    assert (device.enabled, device.label) == (False, "Laptop")


def test_device_limit_of_the_tenant(member: User, member_api: APIClient) -> None:
    member.tenant.max_devices_per_user = 2
    member.tenant.save()
    make_device(member)
    revoked = make_device(member)
    member_api.post(f"/api/v1/devices/{revoked.pk}/revoke")
    assert (
        member_api.post(
            "/api/v1/devices", {"kind": "softphone", "label": "2"}, format="json"
        ).status_code
        == 201
    )

    response = member_api.post(
        "/api/v1/devices", {"kind": "softphone", "label": "3"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "device_limit_reached"
    assert Device.objects.filter(user=member, revoked_at__isnull=True).count() == 2


def test_desk_phone_mac_is_normalised_and_unique(member: User, member_api: APIClient) -> None:
    first = member_api.post(
        "/api/v1/devices",
        {
            "kind": "desk_phone",
            "label": "Desk",
            "mac_address": "00-1A-2B-3C-4D-5E",
            "model": "Yealink T54W",
        },
        format="json",
    )
    duplicate = member_api.post(
        "/api/v1/devices",
        {"kind": "desk_phone", "label": "Desk 2", "mac_address": "001a.2b3c.4d5e"},
        format="json",
    )
    on_softphone = member_api.post(
        "/api/v1/devices",
        {"kind": "softphone", "label": "SP", "mac_address": "00:1a:2b:3c:4d:5f"},
        format="json",
    )

    assert first.json()["mac_address"] == "00:1a:2b:3c:4d:5e"
    assert duplicate.status_code == 400
    assert duplicate.json()["fields"]["mac_address"][0]["code"] == "mac_address_taken"
    assert on_softphone.json()["fields"]["mac_address"][0]["code"] == "mac_not_allowed"
    assert Device.objects.count() == 1


def test_allowed_networks_are_validated_and_canonical(member_api: APIClient) -> None:
    ok = member_api.post(
        "/api/v1/devices",
        {
            "kind": "softphone",
            "label": "Office",
            "allowed_networks": ["192.0.2.0/24", "2001:db8::/32", "192.0.2.0/24"],
        },
        format="json",
    )
    bad = member_api.post(
        "/api/v1/devices",
        {"kind": "softphone", "label": "Office", "allowed_networks": ["192.0.2.1/24", "nonsense"]},
        format="json",
    )

    assert ok.json()["allowed_networks"] == ["192.0.2.0/24", "2001:db8::/32"]
    assert bad.status_code == 400
    assert bad.json()["fields"]["allowed_networks"][0]["code"] == "invalid_network"


def test_member_sees_only_their_own_devices(member: User, member_api: APIClient) -> None:
    colleague = UserFactory(tenant=member.tenant)
    mine = make_device(member)
    theirs = make_device(colleague)

    listed = member_api.get("/api/v1/devices").json()

    assert [d["id"] for d in listed["results"]] == [mine.pk]
    for method, suffix in [
        ("get", ""),
        ("patch", ""),
        ("post", "/revoke"),
        ("post", "/rotate-secret"),
    ]:
        response = getattr(member_api, method)(
            f"/api/v1/devices/{theirs.pk}{suffix}", {}, format="json"
        )
        assert response.status_code == 404, (method, suffix)
        assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_member_cannot_create_a_device_for_someone_else(
    member: User, member_api: APIClient
) -> None:
    colleague = UserFactory(tenant=member.tenant)

    response = member_api.post(
        "/api/v1/devices", {"kind": "softphone", "label": "X", "user": colleague.pk}, format="json"
    )

    assert response.status_code == 403
    assert Device.objects.count() == 0


def test_tenant_admin_manages_devices_of_their_organisation(
    admin_user: User, admin_api: APIClient, other_tenant
) -> None:
    colleague = UserFactory(tenant=admin_user.tenant)
    stranger = UserFactory(tenant=other_tenant)
    make_device(stranger)

    created = admin_api.post(
        "/api/v1/devices",
        {"kind": "desk_phone", "label": "Reception", "user": colleague.pk},
        format="json",
    )
    foreign = admin_api.post(
        "/api/v1/devices", {"kind": "desk_phone", "label": "X", "user": stranger.pk}, format="json"
    )

    assert created.status_code == 201
    assert created.json()["user"] == colleague.pk
    assert foreign.status_code == 400
    assert foreign.json()["fields"]["user"][0]["code"] == "does_not_exist"
    listed = admin_api.get("/api/v1/devices").json()
    assert [d["id"] for d in listed["results"]] == [created.json()["id"]]


def test_filters(admin_user: User, admin_api: APIClient) -> None:
    colleague = UserFactory(tenant=admin_user.tenant)
    desk = make_device(colleague, kind=Device.Kind.DESK_PHONE, label="Desk")
    mobile = make_device(colleague, kind=Device.Kind.MOBILE_APP, label="Phone")
    own = make_device(admin_user, kind=Device.Kind.SOFTPHONE, label="Mine")
    admin_api.post(f"/api/v1/devices/{mobile.pk}/revoke")

    def ids(query: str) -> list[int]:
        return [d["id"] for d in admin_api.get(f"/api/v1/devices?{query}").json()["results"]]

    assert ids("kind=desk_phone") == [desk.pk]
    assert ids("state=revoked") == [mobile.pk]
    assert ids("user=me") == [own.pk]
    assert sorted(ids(f"user={colleague.pk}&state=active")) == [desk.pk]
    assert ids("user=abc") == []
    bad = admin_api.get("/api/v1/devices?state=broken")
    assert bad.status_code == 400
    assert bad.json()["fields"]["state"][0]["code"] == "invalid_choice"


def test_pagination(member: User, member_api: APIClient) -> None:
    for n in range(5):
        make_device(member, label=f"D{n}")

    page = member_api.get("/api/v1/devices?limit=2&offset=2").json()

    assert page["count"] == 5
    assert [d["label"] for d in page["results"]] == ["D2", "D3"]
    assert "offset=4" in page["next"]
