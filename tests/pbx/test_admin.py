import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from devices.models import Device, Registration, RegistrationFailure
from pbx.audit.models import AuditEntry
from pbx.directory.models import User
from pbx.edge.models import SourceBan
from pbx.tokens.models import ApiSession
from pbx.tokens.services import api_session_open
from routing.domain.documents import default_document
from routing.services import routing_template_assign, routing_template_create, schedule_create
from tests.factories import (
    ExtensionFactory,
    PhoneNumberFactory,
    UserFactory,
    make_device,
    verified_login,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    verified_login(client, User.objects.create_superuser("staff@pbx.test", "long-staff-password"))
    return client


def test_every_model_page_renders(staff_client: Client, member: User) -> None:
    device = make_device(member, kind=Device.Kind.MOBILE_APP)
    extension = ExtensionFactory(owner=member)
    number = PhoneNumberFactory(extension=extension)
    session = api_session_open(user=member).session
    schedule = schedule_create(tenant=member.tenant, owner=None, name="Office")
    template = routing_template_create(
        tenant=member.tenant, name="office", document=default_document()
    )
    routing_template_assign(user=member, template=template)
    pages = {
        "directory/tenant": member.tenant_id,
        "directory/user": member.pk,
        "directory/extension": extension.pk,
        "directory/phonenumber": number.pk,
        "devices/device": device.pk,
        "tokens/apisession": session.pk,
        "routing/schedule": schedule.pk,
        "routing/routingtemplate": template.pk,
        "routing/routingprofile": member.pk,
        "edge/sourceban": SourceBan.objects.create(
            source_address="198.51.100.7",
            reason="scanner",
            banned_at=timezone.now(),
            until=timezone.now() + timedelta(minutes=5),
        ).pk,
        "devices/registrationfailure": RegistrationFailure.objects.create(
            tenant=member.tenant, username="x", domain="x.example", reason="bad_credentials"
        ).pk,
    }
    for model, pk in pages.items():
        assert staff_client.get(f"/admin/{model}/").status_code == 200, model
        assert staff_client.get(f"/admin/{model}/{pk}/change/").status_code == 200, model
    assert staff_client.get("/admin/devices/device/?q=" + device.sip_username).status_code == 200
    assert (
        device.ha1
        not in staff_client.get(f"/admin/devices/device/{device.pk}/change/").content.decode()
    )


def test_adding_a_device_in_admin_issues_credentials_once(
    staff_client: Client, member: User
) -> None:
    response = staff_client.post(
        "/admin/devices/device/add/",
        {
            "user": member.pk,
            "kind": "desk_phone",
            "label": "Reception",
            "transport_policy": "tls_srtp_required",
            "mac_address": "00:1a:2b:3c:4d:5e",
            "model": "T54W",
            "allowed_networks": "[]",
            "push_binding-TOTAL_FORMS": "0",
            "push_binding-INITIAL_FORMS": "0",
            "registrations-TOTAL_FORMS": "0",
            "registrations-INITIAL_FORMS": "0",
        },
        follow=True,
    )

    assert response.status_code == 200
    device = Device.objects.get()
    assert device.transport_policy == "tls_srtp_required"
    message = re.search(r"secret (\w{24})", response.content.decode())
    assert message is not None
    from devices.domain.credentials import digest_credentials

    assert (
        digest_credentials(
            username=device.sip_username, realm=member.tenant.sip_domain, secret=message.group(1)
        ).ha1
        == device.ha1
    )


def test_lifting_a_ban_in_admin(staff_client: Client) -> None:
    ban = SourceBan.objects.create(
        source_address="198.51.100.7",
        reason="auth_failures",
        banned_at=timezone.now(),
        until=timezone.now() + timedelta(minutes=5),
    )

    listed = staff_client.get("/admin/edge/sourceban/?active=yes").content.decode()
    staff_client.post("/admin/edge/sourceban/", {"action": "lift", "_selected_action": [ban.pk]})

    assert "198.51.100.7" in listed
    ban.refresh_from_db()
    assert ban.lifted_at is not None
    assert ban.lifted_by.email == "staff@pbx.test"
    assert (
        "198.51.100.7" not in staff_client.get("/admin/edge/sourceban/?active=yes").content.decode()
    )


def test_revoke_action(staff_client: Client, member: User) -> None:
    device = make_device(member)

    staff_client.post(
        "/admin/devices/device/", {"action": "revoke_devices", "_selected_action": [device.pk]}
    )

    device.refresh_from_db()
    assert device.state == "revoked"


def test_requiring_tls_in_admin_drops_a_registration_over_udp(
    staff_client: Client, member: User
) -> None:
    device = make_device(member)
    Registration.objects.create(
        device=device,
        contact="sip:x@192.0.2.7:5060",
        transport="udp",
        expires_at=timezone.now() + timedelta(minutes=5),
    )

    response = staff_client.post(
        f"/admin/devices/device/{device.pk}/change/",
        {
            "user": member.pk,
            "kind": device.kind,
            "label": device.label,
            "enabled": "on",
            "transport_policy": "tls_srtp_required",
            "allowed_networks": "[]",
            "mac_address": "",
            "model": "",
            "push_binding-TOTAL_FORMS": "0",
            "push_binding-INITIAL_FORMS": "0",
            "registrations-TOTAL_FORMS": "0",
            "registrations-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content.decode()[-2000:]
    device.refresh_from_db()
    assert device.transport_policy == "tls_srtp_required"
    assert not Registration.objects.filter(device=device).exists()
    entry = AuditEntry.objects.get(object_id=str(device.pk), action="update")
    assert entry.changes["transport_policy"] == {"before": "inherit", "after": "tls_srtp_required"}


def test_deactivating_in_admin_revokes_api_sessions(staff_client: Client, member: User) -> None:
    api_session_open(user=member)
    page = staff_client.get(f"/admin/directory/user/{member.pk}/change/")
    assert page.status_code == 200

    staff_client.post(
        f"/admin/directory/user/{member.pk}/change/",
        {
            "email": member.email,
            "full_name": member.full_name,
            "tenant": member.tenant_id,
            "role": "member",
            "time_zone": "",
            "mobile_number": "",
        },
    )

    member.refresh_from_db()
    assert member.is_active is False
    assert ApiSession.objects.get(user=member).revoked_reason == "user_deactivated"


def test_tenant_users_cannot_open_the_admin(member: User) -> None:
    admin_of_tenant = UserFactory(tenant=member.tenant, role=User.Role.TENANT_ADMIN)
    for user in (member, admin_of_tenant):
        client = Client()
        client.force_login(user)
        response = client.get("/admin/devices/device/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
