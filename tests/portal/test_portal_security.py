"""The portal's guards without a browser: sign-in required, CSRF, session expiry, and nobody
reaching another person's devices or the platform admin."""

import pytest
from django.test import Client
from django.utils import timezone

from devices import services as device_services
from devices.models import Device
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.mark.parametrize("page", ["devices/", "ring-plan/", "voicemail/", "calls/"])
def test_pages_need_a_signed_in_person(client, page: str) -> None:
    response = client.get(f"/portal/{page}")

    assert response.status_code == 302
    assert response["Location"].startswith("/portal/login/")


@pytest.mark.parametrize("page", ["devices/", "ring-plan/", "voicemail/", "calls/"])
def test_pages_render_for_a_member(signed_in, page: str) -> None:
    response = signed_in.get(f"/portal/{page}")

    assert response.status_code == 200
    assert b'<main id="main"' in response.content


def test_a_member_cannot_reach_the_admin(signed_in) -> None:
    response = signed_in.get("/admin/directory/user/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_another_persons_device_is_not_found(signed_in, tenant) -> None:
    colleague = UserFactory(tenant=tenant)
    theirs = device_services.device_create(user=colleague, kind=Device.Kind.SOFTPHONE, label="X")

    rotate = signed_in.post(f"/portal/devices/{theirs.device.pk}/rotate")
    revoke = signed_in.post(f"/portal/devices/{theirs.device.pk}/revoke")

    assert (rotate.status_code, revoke.status_code) == (404, 404)
    theirs.device.refresh_from_db()
    assert theirs.device.revoked_at is None


def test_forms_without_the_csrf_token_are_refused(member) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)

    response = client.post("/portal/devices/add", {"label": "Sneaky"})

    assert response.status_code == 403
    assert not Device.objects.filter(user=member, label="Sneaky").exists()


def test_an_expired_session_signs_the_person_out(signed_in) -> None:
    from django.contrib.sessions.models import Session

    Session.objects.update(expire_date=timezone.now() - timezone.timedelta(seconds=1))

    response = signed_in.get("/portal/devices/")

    assert response.status_code == 302
    assert response["Location"].startswith("/portal/login/")


def test_adding_a_softphone_shows_its_credentials_once(signed_in, member) -> None:
    created = signed_in.post("/portal/devices/add", {"label": "Laptop"}, follow=True)
    again = signed_in.get("/portal/devices/")

    device = Device.objects.get(user=member, label="Laptop")
    assert created.status_code == 200
    assert device.sip_username.encode() in created.content
    assert b"<svg" in created.content  # the QR code
    assert b'data-testid="cred-secret"' in created.content
    assert b'data-testid="cred-secret"' not in again.content  # shown only once
    assert device.kind == Device.Kind.SOFTPHONE
