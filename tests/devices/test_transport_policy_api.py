"""Transport policy through the API: a device's own (tenant admins only: a member cannot weaken
their device's), the organisation's default, what is in force, and bad input."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from devices.models import Device, Registration
from pbx.directory.models import Tenant, TransportPolicy, User
from tests.factories import make_device

pytestmark = pytest.mark.django_db


def subscriber_policy(device: Device) -> str:
    """What the engine reads for the device (kamailio_subscriber)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT transport_policy FROM kamailio_subscriber WHERE device_id = %s", [device.pk]
        )
        return str(cursor.fetchone()[0])


def test_a_new_device_inherits_the_organisations_default(
    member: User, member_api: APIClient
) -> None:
    body = member_api.post(
        "/api/v1/devices", {"kind": "softphone", "label": "Laptop"}, format="json"
    ).json()

    assert body["transport_policy"] == "inherit"
    assert body["effective_transport_policy"] == "any"
    device = Device.objects.get(pk=body["id"])
    assert subscriber_policy(device) == "any"


def registered(device: Device, transport: str) -> None:
    Registration.objects.create(
        device=device,
        contact=f"sip:x@192.0.2.7:5060;transport={transport}",
        transport=transport,
        expires_at=timezone.now() + timedelta(minutes=5),
    )


def test_an_admin_requires_tls_for_a_device(
    member: User, admin_api: APIClient, django_capture_on_commit_callbacks
) -> None:
    over_udp, over_tls = make_device(member), make_device(member, label="Other")
    registered(over_udp, "udp")
    registered(over_tls, "tls")

    after: dict[int, int] = {}
    for device in (over_udp, over_tls):
        with django_capture_on_commit_callbacks() as callbacks:
            response = admin_api.patch(
                f"/api/v1/devices/{device.pk}",
                {"transport_policy": "tls_srtp_required"},
                format="json",
            )
        after[device.pk] = len(callbacks)
        assert response.status_code == 200, response.content
        assert response.json()["transport_policy"] == "tls_srtp_required"
        assert response.json()["effective_transport_policy"] == "tls_srtp_required"
        assert subscriber_policy(device) == "tls_srtp_required"

    # the registration over UDP is not kept alive: dropped here and, one task more after
    # commit, in the engine; the one over TLS stays
    assert not Registration.objects.filter(device=over_udp).exists()
    assert Registration.objects.filter(device=over_tls).count() == 1
    assert after[over_udp.pk] == after[over_tls.pk] + 1


def test_an_admin_creates_a_device_that_requires_tls(member: User, admin_api: APIClient) -> None:
    response = admin_api.post(
        "/api/v1/devices",
        {
            "kind": "desk_phone",
            "label": "Desk",
            "user": member.pk,
            "transport_policy": "tls_srtp_required",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["effective_transport_policy"] == "tls_srtp_required"


def test_a_member_cannot_weaken_their_devices_policy(member: User, member_api: APIClient) -> None:
    device = make_device(member)
    Device.objects.filter(pk=device.pk).update(transport_policy="tls_srtp_required")

    weakened = member_api.patch(
        f"/api/v1/devices/{device.pk}", {"transport_policy": "any"}, format="json"
    )
    inherited = member_api.patch(
        f"/api/v1/devices/{device.pk}", {"transport_policy": "inherit"}, format="json"
    )
    created = member_api.post(
        "/api/v1/devices",
        {"kind": "softphone", "label": "Laptop", "transport_policy": "any"},
        format="json",
    )

    for response in (weakened, inherited, created):
        assert response.status_code == 403
        assert response.json()["code"] == "admin_only_field"
    assert weakened.json()["detail"] == "Only an administrator may change transport_policy."
    assert created.json()["detail"] == "Only an administrator may set transport_policy."
    device.refresh_from_db()
    assert device.transport_policy == "tls_srtp_required"
    assert Device.objects.filter(user=member).count() == 1


@pytest.mark.parametrize("value", ["tls", "TLS_SRTP_REQUIRED", "", None, 1])
def test_an_invalid_policy_is_refused(member: User, admin_api: APIClient, value: object) -> None:
    device = make_device(member)

    response = admin_api.patch(
        f"/api/v1/devices/{device.pk}", {"transport_policy": value}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"]["transport_policy"][0]["code"] in ("invalid_choice", "null")
    device.refresh_from_db()
    assert device.transport_policy == "inherit"


def test_the_organisations_default_applies_to_devices_that_inherit(
    admin_user: User, member: User, admin_api: APIClient, member_api: APIClient
) -> None:
    inheriting = make_device(member)
    own = make_device(member)
    Device.objects.filter(pk=own.pk).update(transport_policy="any")

    refused = member_api.patch("/api/v1/tenant", {"default_transport_policy": "any"}, format="json")
    changed = admin_api.patch(
        "/api/v1/tenant", {"default_transport_policy": "tls_srtp_required"}, format="json"
    )
    invalid = admin_api.patch(
        "/api/v1/tenant", {"default_transport_policy": "inherit"}, format="json"
    )

    assert refused.status_code == 403
    assert changed.status_code == 200, changed.content
    assert changed.json()["default_transport_policy"] == "tls_srtp_required"
    assert invalid.status_code == 400
    assert invalid.json()["fields"]["default_transport_policy"][0]["code"] == "invalid_choice"
    tenant = Tenant.objects.get(pk=admin_user.tenant_id)
    assert tenant.default_transport_policy == TransportPolicy.TLS_SRTP_REQUIRED
    assert subscriber_policy(inheriting) == "tls_srtp_required"
    assert subscriber_policy(own) == "any"
    listed = {d["id"]: d for d in member_api.get("/api/v1/devices").json()["results"]}
    assert listed[inheriting.pk]["effective_transport_policy"] == "tls_srtp_required"
    assert listed[own.pk]["effective_transport_policy"] == "any"
