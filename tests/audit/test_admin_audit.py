"""Changes made in the Django admin land in the audit trail with the staff member, the address
and before/after values; actions (revoke, new secret, PIN reset, offboarding) are named."""

import re

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client

from devices.models import Device
from pbx.audit.admin import AuditedAdmin, AuditEntryAdmin
from pbx.audit.models import AuditEntry
from pbx.directory.admin import AdminAuditAdmin
from pbx.directory.models import User
from tests.factories import ExtensionFactory, PhoneNumberFactory, make_device, verified_login
from voicemail.selectors import mailbox_of

pytestmark = pytest.mark.django_db

STAFF_ADDRESS = "198.51.100.9"


@pytest.fixture
def staff() -> User:
    return User.objects.create_superuser("staff@pbx.test", "long-staff-password")


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client(REMOTE_ADDR=STAFF_ADDRESS)
    verified_login(client, staff)  # staff pass the second factor to open the admin
    return client


def _row_text(entry: AuditEntry) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT row_to_json(a)::text FROM audit_auditentry a WHERE id = %s", [entry.pk]
        )
        return str(cursor.fetchone()[0])


def _device_form(device: Device, **changes: str) -> dict[str, str]:
    return {
        "user": str(device.user_id),
        "kind": device.kind,
        "label": device.label,
        "enabled": "on",
        "transport_policy": device.transport_policy,
        "mac_address": device.mac_address,
        "model": device.model,
        "allowed_networks": "[]",
        "push_binding-TOTAL_FORMS": "0",
        "push_binding-INITIAL_FORMS": "0",
        "registrations-TOTAL_FORMS": "0",
        "registrations-INITIAL_FORMS": "0",
        **changes,
    }


def test_a_change_in_the_admin_is_recorded_with_its_address(
    staff: User, staff_client: Client, member: User
) -> None:
    device = make_device(member, label="Desk")

    response = staff_client.post(
        f"/admin/devices/device/{device.pk}/change/",
        _device_form(device, label="Reception", allowed_networks='["192.0.2.0/24"]'),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    [entry] = AuditEntry.objects.all()
    assert (entry.channel, entry.credential, entry.address) == ("admin", "session", STAFF_ADDRESS)
    assert (entry.actor_id, entry.actor_label) == (staff.pk, staff.email)
    assert (entry.tenant_id, entry.object_type, entry.object_id, entry.action) == (
        member.tenant_id,
        "devices.device",
        str(device.pk),
        "update",
    )
    assert entry.changes == {
        "allowed_networks": {"before": [], "after": ["192.0.2.0/24"]},
        "label": {"before": "Desk", "after": "Reception"},
    }
    assert LogEntry.objects.count() == 1  # Django's own history is kept alongside


def test_adding_a_device_records_it_without_the_secret(staff_client: Client, member: User) -> None:
    response = staff_client.post(
        "/admin/devices/device/add/",
        {
            "user": member.pk,
            "kind": "softphone",
            "label": "Laptop",
            "transport_policy": "inherit",
            "mac_address": "",
            "model": "",
            "allowed_networks": "[]",
            "push_binding-TOTAL_FORMS": "0",
            "push_binding-INITIAL_FORMS": "0",
            "registrations-TOTAL_FORMS": "0",
            "registrations-INITIAL_FORMS": "0",
        },
        follow=True,
    )

    secret = re.search(r"secret (\w{24})", response.content.decode())
    assert secret is not None
    device = Device.objects.get()
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.object_id) == ("create", str(device.pk))
    assert entry.changes["label"] == {"before": None, "after": "Laptop"}
    assert entry.changes["ha1"] == "[secret changed]"
    for hidden in (secret.group(1), device.ha1, device.ha1b):
        assert hidden not in _row_text(entry)


def test_actions_are_recorded_by_name(staff_client: Client, member: User) -> None:
    device = make_device(member)
    old_ha1 = device.ha1

    rotated = staff_client.post(
        "/admin/devices/device/",
        {"action": "rotate_secrets", "_selected_action": [device.pk]},
        follow=True,
    )
    staff_client.post(
        "/admin/devices/device/", {"action": "revoke_devices", "_selected_action": [device.pk]}
    )

    secret = re.search(r"new secret (\w{24})", rotated.content.decode())
    assert secret is not None
    rotate, revoke = AuditEntry.objects.order_by("id")
    assert (rotate.action, revoke.action) == ("rotate_secret", "revoke")
    assert rotate.changes["ha1"] == "[secret changed]"
    assert set(revoke.changes) == {"enabled", "revoked_at"}
    assert revoke.address == STAFF_ADDRESS
    device.refresh_from_db()
    for hidden in (secret.group(1), old_ha1, device.ha1):
        assert hidden not in _row_text(rotate)


def test_password_changes_and_pin_resets_never_show_the_secret(
    staff_client: Client, member: User
) -> None:
    old_hash = member.password
    ExtensionFactory(owner=member, number="260")

    staff_client.post(
        f"/admin/directory/user/{member.pk}/password/",
        {"password1": "a-brand-new-passphrase", "password2": "a-brand-new-passphrase"},
    )
    reset = staff_client.post(
        "/admin/voicemail/mailbox/",
        {"action": "reset_pins", "_selected_action": [mailbox_of(member).pk]},
        follow=True,
    )

    password, pin_reset = AuditEntry.objects.order_by("id")
    assert (password.object_type, password.action) == ("directory.user", "update")
    assert password.changes == {"password": "[secret changed]"}
    member.refresh_from_db()
    for hidden in (old_hash, member.password, "a-brand-new-passphrase"):
        assert hidden not in _row_text(password)
    pin = re.search(r"new PIN (\d+)", reset.content.decode())
    assert pin is not None
    assert (pin_reset.action, pin_reset.changes) == ("pin_reset", {"pin_hash": "[secret changed]"})
    assert pin.group(1) not in _row_text(pin_reset)


def test_deletions_and_offboarding(staff_client: Client, member: User) -> None:
    number = PhoneNumberFactory(label="Sales")
    make_device(member)

    staff_client.post(f"/admin/directory/phonenumber/{number.pk}/delete/", {"post": "yes"})
    staff_client.post(
        "/admin/directory/user/", {"action": "offboard_users", "_selected_action": [member.pk]}
    )

    delete, offboard = AuditEntry.objects.order_by("id")
    assert (delete.object_type, delete.object_id, delete.action) == (
        "directory.phonenumber",
        str(number.pk),
        "delete",
    )
    assert delete.changes["label"] == {"before": "Sales", "after": None}
    assert (offboard.object_type, offboard.action) == ("directory.user", "offboard")
    assert offboard.changes == {"is_active": {"before": True, "after": False}}


def test_every_project_admin_is_audited() -> None:
    read_only_trails = {AdminAuditAdmin, AuditEntryAdmin}
    unaudited = sorted(
        type(model_admin).__name__
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label not in ("auth",)
        and type(model_admin) not in read_only_trails
        and not isinstance(model_admin, AuditedAdmin)
    )

    assert unaudited == []
