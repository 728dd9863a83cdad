"""Changes made on the portal land in the audit trail as the portal's: its own forms (devices)
and the API calls its pages make with the browser session (ring plan, forwarding, voicemail)."""

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from devices.models import Device
from pbx.audit.models import AuditEntry
from pbx.directory.models import User
from tests.factories import make_device

pytestmark = pytest.mark.django_db

HOME = "192.0.2.44"


@pytest.fixture
def browser(member: User) -> Client:
    client = Client(REMOTE_ADDR=HOME)
    client.force_login(member)
    return client


def test_device_forms_are_recorded_as_the_portal(browser: Client, member: User) -> None:
    browser.post("/portal/devices/add", {"label": "Laptop"})
    shown = browser.get("/portal/devices/").content.decode()
    device = Device.objects.get()
    browser.post(f"/portal/devices/{device.pk}/rotate")
    browser.post(f"/portal/devices/{device.pk}/revoke")

    create, rotate, revoke = AuditEntry.objects.order_by("id")
    assert [e.action for e in (create, rotate, revoke)] == ["create", "rotate_secret", "revoke"]
    for entry in (create, rotate, revoke):
        assert (entry.channel, entry.credential, entry.address) == ("portal", "session", HOME)
        assert (entry.actor_id, entry.tenant_id) == (member.pk, member.tenant_id)
        assert entry.object_id == str(device.pk)
    assert create.changes["label"] == {"before": None, "after": "Laptop"}
    assert rotate.changes["ha1"] == "[secret changed]"
    secret = re.search(r'data-testid="cred-secret"><code>(\w{24})</code>', shown)
    assert secret is not None
    assert secret.group(1) not in str(list(AuditEntry.objects.values()))


def test_a_refused_portal_change_records_nothing(browser: Client, member: User) -> None:
    device = make_device(member)
    browser.post(f"/portal/devices/{device.pk}/revoke")

    browser.post(f"/portal/devices/{device.pk}/rotate")  # revoked: refused, nothing changes

    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["revoke"]


def test_the_portals_api_calls_are_the_portals(browser: Client, member: User) -> None:
    headers = {"HTTP_X_PBX_CLIENT": "portal"}

    response = browser.patch(
        "/api/v1/users/me/routing",
        {"forward_always": "", "dnd": True},
        content_type="application/json",
        **headers,
    )

    assert response.status_code == 200, response.content
    [entry] = AuditEntry.objects.all()
    assert (entry.channel, entry.credential, entry.address) == ("portal", "session", HOME)
    # The first change of a person's routing creates their profile.
    assert (entry.object_type, entry.action) == ("routing.routingprofile", "create")
    assert entry.changes["dnd"] == {"before": None, "after": True}


def test_a_token_cannot_claim_to_be_the_portal(member_api: APIClient) -> None:
    member_api.patch(
        "/api/v1/users/me/routing", {"dnd": True}, format="json", HTTP_X_PBX_CLIENT="portal"
    )

    [entry] = AuditEntry.objects.all()
    assert (entry.channel, entry.credential) == ("api", "api_token")
