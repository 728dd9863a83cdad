"""The Softphone page's account endpoint without a browser: only the signed-in person's own web
softphone, only by a POST with the CSRF token, never cached, never a password."""

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from devices import services as device_services
from devices.models import Device
from pbx.audit.models import AuditEntry
from pbx.directory.models import User
from tests.factories import TenantFactory, UserFactory, verified_login

pytestmark = pytest.mark.django_db

ACCOUNT = "/portal/softphone/account"


@pytest.fixture
def signed_in(member: User) -> Client:
    client = Client()
    client.force_login(member)
    return client


def test_the_page_renders_without_any_secret_and_allows_the_engines_websocket(
    signed_in: Client, member: User, settings
) -> None:
    response = signed_in.get("/portal/softphone/")

    assert response.status_code == 200
    assert b'id="softphone"' in response.content
    assert b"ha1" not in response.content
    assert not Device.objects.filter(user=member).exists()  # nothing made by a GET
    policy = response["Content-Security-Policy"]
    assert "connect-src 'self' ws://127.0.0.1:5060" in policy
    assert "script-src 'self';" in policy


def test_the_account_is_the_persons_own_web_softphone_with_ha1_and_realm(
    signed_in: Client, member: User
) -> None:
    response = signed_in.post(ACCOUNT)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"].split(", ")
    assert "private" in response["Cache-Control"].split(", ")
    body = response.json()
    device = Device.objects.get(user=member)
    domain = member.tenant.sip_domain  # type: ignore[union-attr]
    assert device.kind == Device.Kind.WEB_SOFTPHONE
    assert body == {
        "device_id": device.pk,
        "uri": f"sip:{device.sip_username}@{domain}",
        "authorization_user": device.sip_username,
        "realm": domain,
        "ha1": device.ha1,
        "display_name": member.full_name,
        "websocket_url": "ws://127.0.0.1:5060",
        "domain": domain,
    }
    assert "password" not in body
    assert len(body["ha1"]) == 32
    entry = AuditEntry.objects.get(object_type="devices.device")
    assert (entry.action, entry.object_id, entry.channel) == ("create", str(device.pk), "portal")


def test_one_web_softphone_per_person_and_a_revoked_one_is_replaced(
    signed_in: Client, member: User
) -> None:
    first = signed_in.post(ACCOUNT).json()
    again = signed_in.post(ACCOUNT).json()
    assert again == first
    assert Device.objects.filter(user=member).count() == 1
    assert AuditEntry.objects.filter(object_type="devices.device").count() == 1

    device_services.device_revoke(device=Device.objects.get(pk=first["device_id"]))
    replaced = signed_in.post(ACCOUNT).json()

    assert replaced["device_id"] != first["device_id"]
    assert replaced["ha1"] != first["ha1"]
    assert Device.objects.filter(user=member, revoked_at__isnull=True).count() == 1


def test_nothing_in_the_request_names_another_persons_device(
    signed_in: Client, member: User
) -> None:
    colleague = UserFactory(tenant=member.tenant)
    theirs, _ = device_services.web_softphone_ensure(user=colleague)
    stranger, _ = device_services.web_softphone_ensure(user=UserFactory(tenant=TenantFactory()))

    attempts = [
        signed_in.post(ACCOUNT, {"device_id": theirs.pk}),
        signed_in.post(
            ACCOUNT, json.dumps({"device_id": stranger.pk}), content_type="application/json"
        ),
        signed_in.post(f"{ACCOUNT}?device={theirs.pk}&user={colleague.pk}"),
    ]

    ours = Device.objects.get(user=member)
    for response in attempts:
        assert response.status_code == 200
        assert response.json()["device_id"] == ours.pk
        assert response.json()["ha1"] not in (theirs.ha1, stranger.ha1)


def test_the_account_needs_a_post_with_the_csrf_token(member: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)

    read = client.get(ACCOUNT)
    forged = client.post(ACCOUNT)

    assert read.status_code == 405
    assert forged.status_code == 403
    assert b"ha1" not in read.content + forged.content
    assert not Device.objects.filter(user=member).exists()


def test_no_account_without_a_signed_in_person(client: Client) -> None:
    response = client.post(ACCOUNT)

    assert response.status_code == 302
    assert response["Location"].startswith("/portal/login/")
    assert not Device.objects.exists()


def test_an_admin_without_the_second_factor_gets_nothing_and_with_it_their_own(
    admin_user: User,
) -> None:
    client = Client()
    client.force_login(admin_user)  # a session that skipped the second factor
    assert client.post(ACCOUNT).status_code == 302
    assert not Device.objects.filter(user=admin_user).exists()

    verified_login(client, admin_user)
    response = client.post(ACCOUNT)

    assert response.status_code == 200
    assert response.json()["device_id"] == Device.objects.get(user=admin_user).pk


def test_a_disabled_web_softphone_is_not_handed_out(signed_in: Client, member: User) -> None:
    device, _ = device_services.web_softphone_ensure(user=member)
    device_services.device_update(device=device, data={"enabled": False})

    response = signed_in.post(ACCOUNT)

    assert response.status_code == 409
    assert "no-store" in response["Cache-Control"].split(", ")
    assert response.json() == {
        "code": "device_disabled",
        "detail": "Your web softphone is turned off: ask your administrator.",
    }


def test_the_device_limit_applies(signed_in: Client, member: User) -> None:
    tenant = member.tenant
    tenant.max_devices_per_user = 1  # type: ignore[union-attr]
    tenant.save()  # type: ignore[union-attr]
    device_services.device_create(user=member, kind=Device.Kind.DESK_PHONE, label="Desk")

    response = signed_in.post(ACCOUNT)

    assert response.status_code == 409
    assert response.json()["code"] == "device_limit_reached"
    assert not Device.objects.filter(user=member, kind=Device.Kind.WEB_SOFTPHONE).exists()


@pytest.mark.django_db(transaction=True)
def test_two_first_visits_at_once_make_one_device(member: User) -> None:
    made: list[int] = []

    def visit() -> None:
        try:
            device, _ = device_services.web_softphone_ensure(user=member)
            made.append(device.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=visit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(made) == 4
    assert len(set(made)) == 1
    assert Device.objects.filter(user=member, kind=Device.Kind.WEB_SOFTPHONE).count() == 1


def test_without_an_engine_websocket_the_softphone_says_it_is_not_set_up(
    signed_in: Client, member: User, settings
) -> None:
    settings.PBX_SIP_WEBSOCKET_URL = ""

    response = signed_in.post(ACCOUNT)

    assert response.status_code == 503
    assert response.json() == {
        "code": "softphone_not_configured",
        "detail": "The softphone is not set up on this server yet.",
    }
    assert not Device.objects.filter(user=member).exists()
