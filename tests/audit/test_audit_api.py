"""Changes made through the REST API land in the audit trail, with before/after values, never a
secret; tenant admins read their organisation's trail (and only theirs) as JSON or CSV."""

import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from devices.models import Device
from pbx.audit.models import AuditEntry
from pbx.directory.models import Tenant, User
from pbx.edge.models import SourceBan
from pbx.tokens.models import AccessToken
from pbx.tokens.token_format import token_hash
from tests.factories import ExtensionFactory, UserFactory, make_device

pytestmark = pytest.mark.django_db


def _row_text(entry: AuditEntry) -> str:
    """Every column of the stored row, as PostgreSQL has it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT row_to_json(a)::text FROM audit_auditentry a WHERE id = %s", [entry.pk]
        )
        return str(cursor.fetchone()[0])


def _session_id(client: APIClient) -> int:
    token = client._credentials["HTTP_AUTHORIZATION"].split()[1]  # type: ignore[attr-defined]
    return AccessToken.objects.get(token_hash=token_hash(token)).session_id


def test_a_device_change_is_recorded_with_before_and_after(
    admin_user: User, admin_api: APIClient, member: User
) -> None:
    device = make_device(member, kind=Device.Kind.DESK_PHONE, label="Desk")

    response = admin_api.patch(
        f"/api/v1/devices/{device.pk}",
        {"label": "Reception", "allowed_networks": ["192.0.2.0/24"]},
        format="json",
        REMOTE_ADDR="203.0.113.7",
    )

    assert response.status_code == 200, response.content
    [entry] = AuditEntry.objects.all()
    assert entry.tenant_id == member.tenant_id
    assert entry.actor_id == admin_user.pk
    assert entry.actor_label == admin_user.email
    assert entry.channel == "api"
    assert entry.credential == "api_token"
    assert entry.api_session_id == _session_id(admin_api)
    assert entry.address == "203.0.113.7"
    assert (entry.object_type, entry.object_id, entry.action) == (
        "devices.device",
        str(device.pk),
        "update",
    )
    assert entry.changes == {
        "allowed_networks": {"before": [], "after": ["192.0.2.0/24"]},
        "label": {"before": "Desk", "after": "Reception"},
    }


def test_a_user_change_is_recorded(admin_api: APIClient, member: User) -> None:
    response = admin_api.patch(
        f"/api/v1/users/{member.pk}", {"full_name": "Ada L.", "role": "tenant_admin"}, format="json"
    )

    assert response.status_code == 200, response.content
    [entry] = AuditEntry.objects.all()
    assert (entry.object_type, entry.action) == ("directory.user", "update")
    assert entry.changes == {
        "full_name": {"before": member.full_name, "after": "Ada L."},
        "role": {"before": "member", "after": "tenant_admin"},
    }


def test_an_update_that_changes_nothing_is_not_recorded(admin_api: APIClient, member: User) -> None:
    response = admin_api.patch(
        f"/api/v1/users/{member.pk}", {"full_name": member.full_name}, format="json"
    )

    assert response.status_code == 200
    assert AuditEntry.objects.count() == 0


def test_a_refused_change_records_nothing(admin_api: APIClient, member: User) -> None:
    device = make_device(member)
    admin_api.post(f"/api/v1/devices/{device.pk}/revoke")

    response = admin_api.post(f"/api/v1/devices/{device.pk}/rotate-secret")

    assert response.status_code == 409
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["revoke"]


def test_a_new_secret_is_recorded_but_never_the_secret(admin_api: APIClient, member: User) -> None:
    created = admin_api.post(
        "/api/v1/devices",
        {"kind": "softphone", "label": "Laptop", "user": member.pk},
        format="json",
    ).json()
    old = Device.objects.get(pk=created["id"])

    rotated = admin_api.post(f"/api/v1/devices/{created['id']}/rotate-secret").json()

    new = Device.objects.get(pk=created["id"])
    create, rotate = AuditEntry.objects.order_by("id")
    assert (create.action, rotate.action) == ("create", "rotate_secret")
    assert create.changes["ha1"] == "[secret changed]"
    assert create.changes["label"] == {"before": None, "after": "Laptop"}
    assert set(rotate.changes) == {"ha1", "ha1b", "secret_rotated_at"}
    assert rotate.changes["ha1"] == rotate.changes["ha1b"] == "[secret changed]"
    export = admin_api.get("/api/v1/audit/export.csv").content.decode()
    listed = json.dumps(admin_api.get("/api/v1/audit").json())
    for secret in (
        created["sip_secret"],
        rotated["sip_secret"],
        old.ha1,
        old.ha1b,
        new.ha1,
        new.ha1b,
    ):
        for text in (_row_text(create), _row_text(rotate), export, listed):
            assert secret not in text
    assert "[secret changed]" in export


def test_a_ring_plan_change_is_recorded(
    admin_user: User, member: User, member_api: APIClient
) -> None:
    desk = make_device(member, kind=Device.Kind.DESK_PHONE, label="Desk")
    document = {
        "plans": [
            {
                "name": "office",
                "stages": [
                    {
                        "seconds": 15,
                        "mode": "add",
                        "targets": [{"type": "device", "device_id": desk.pk}],
                    }
                ],
                "final": {"action": "voicemail"},
            }
        ],
        "default_plan": "office",
        "rules": [],
    }

    put = member_api.put("/api/v1/users/me/routing/document", {"document": document}, format="json")
    dnd = member_api.patch("/api/v1/users/me/routing", {"dnd": True}, format="json")

    assert put.status_code == 200, put.content
    assert dnd.status_code == 200, dnd.content
    document_set, update = AuditEntry.objects.order_by("id")
    assert (document_set.object_type, document_set.object_id) == (
        "routing.routingprofile",
        str(member.pk),
    )
    assert document_set.action == "document_set"
    assert document_set.actor_id == member.pk
    assert document_set.changes["document"]["before"] is None
    assert document_set.changes["document"]["after"]["default_plan"] == "office"
    assert update.action == "update"
    assert update.changes == {"dnd": {"before": False, "after": True}}


def test_a_pin_reset_names_no_pin(admin_api: APIClient, member: User) -> None:
    ExtensionFactory(owner=member, number="250")

    response = admin_api.post(f"/api/v1/users/{member.pk}/voicemail/pin-reset")

    assert response.status_code == 200, response.content
    [entry] = AuditEntry.objects.all()
    assert (entry.object_type, entry.action) == ("voicemail.mailbox", "pin_reset")
    assert entry.changes == {"pin_hash": "[secret changed]"}
    assert response.json()["pin"] not in _row_text(entry)


@pytest.fixture
def busy_trail(
    admin_user: User,
    admin_api: APIClient,
    member: User,
    other_tenant: Tenant,
    client_for: Callable[[User], APIClient],
) -> dict[str, object]:
    """Three entries in this organisation, one in another."""
    device = make_device(member, label="Desk")
    admin_api.patch(f"/api/v1/devices/{device.pk}", {"label": "Hall"}, format="json")
    admin_api.patch(f"/api/v1/users/{member.pk}", {"full_name": "Bea"}, format="json")
    admin_api.post(f"/api/v1/devices/{device.pk}/revoke")
    stranger = UserFactory(tenant=other_tenant, role=User.Role.TENANT_ADMIN)
    client_for(stranger).patch("/api/v1/me", {"full_name": "Someone Else"}, format="json")
    return {"device": device, "stranger": stranger}


def test_tenant_admins_list_their_organisation_only(
    admin_api: APIClient, admin_user: User, member: User, busy_trail: dict[str, object]
) -> None:
    assert AuditEntry.objects.count() == 4

    body = admin_api.get("/api/v1/audit").json()

    assert body["count"] == 3
    assert [(e["object_type"], e["action"]) for e in body["results"]] == [
        ("devices.device", "revoke"),
        ("directory.user", "update"),
        ("devices.device", "update"),
    ]
    assert body["results"][1]["actor"] == {"id": admin_user.pk, "name": admin_user.email}
    assert body["results"][1]["changes"] == {
        "full_name": {"before": member.full_name, "after": "Bea"}
    }
    assert body["results"][1]["address"] == "127.0.0.1"
    stranger: User = busy_trail["stranger"]  # type: ignore[assignment]
    assert "Someone Else" not in json.dumps(body)
    csv_text = admin_api.get("/api/v1/audit/export.csv").content.decode()
    assert "Someone Else" not in csv_text
    assert stranger.email not in csv_text
    assert admin_api.get(f"/api/v1/audit?actor={stranger.pk}").json()["count"] == 0


def test_filters(admin_api: APIClient, admin_user: User, busy_trail: dict[str, object]) -> None:
    device: Device = busy_trail["device"]  # type: ignore[assignment]
    first = AuditEntry.objects.filter(tenant_id=admin_user.tenant_id).order_by("id").first()
    assert first is not None
    later = (first.at + timedelta(microseconds=1)).isoformat().replace("+00:00", "Z")

    def count(query: str) -> int:
        response = admin_api.get("/api/v1/audit?" + query)
        assert response.status_code == 200, response.content
        return int(response.json()["count"])

    assert count("object_type=devices.device") == 2
    assert count(f"object_type=devices.device&object_id={device.pk}") == 2
    assert count("action=revoke") == 1
    assert count(f"actor={admin_user.pk}") == 3
    assert count(f"since={later}") == 2
    assert count(f"until={later}") == 1
    assert count("limit=1") == 3
    assert len(admin_api.get("/api/v1/audit?limit=1").json()["results"]) == 1
    assert admin_api.get("/api/v1/audit?colour=red").json()["fields"]["colour"][0]["code"] == (
        "unknown_field"
    )
    assert admin_api.get(f"/api/v1/audit?since={later}&until={later}").status_code == 400


def test_members_are_refused(member_api: APIClient, busy_trail: dict[str, object]) -> None:
    listed = member_api.get("/api/v1/audit")
    exported = member_api.get("/api/v1/audit/export.csv")

    assert listed.status_code == exported.status_code == 403
    assert listed.json()["code"] == "permission_denied"


def test_csv_export(
    admin_api: APIClient, admin_user: User, member: User, busy_trail: dict[str, object]
) -> None:
    device: Device = busy_trail["device"]  # type: ignore[assignment]

    response = admin_api.get("/api/v1/audit/export.csv?object_type=devices.device")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="audit.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["action"] for row in rows] == ["revoke", "update"]
    update = rows[1]
    assert update["actor_id"] == str(admin_user.pk)
    assert update["actor"] == admin_user.email
    assert update["channel"] == "api"
    assert update["credential"] == "api_token"
    assert update["address"] == "127.0.0.1"
    assert update["object_type"] == "devices.device"
    assert update["object_id"] == str(device.pk)
    assert update["summary"] == "label: 'Desk' -> 'Hall'"
    assert json.loads(update["changes"]) == {"label": {"before": "Desk", "after": "Hall"}}
    assert set(json.loads(rows[0]["changes"])) == {"enabled", "revoked_at"}


def test_csv_cells_never_start_a_formula(admin_api: APIClient, member: User) -> None:
    device = make_device(member, label="Desk")
    admin_api.patch(f"/api/v1/devices/{device.pk}", {"label": "=HYPERLINK(1)"}, format="json")

    rows = list(csv.DictReader(io.StringIO(admin_api.get("/api/v1/audit/export.csv").text)))

    assert rows[0]["object"] == f"'=HYPERLINK(1) ({device.sip_username})"


def test_sessions_signed_out_are_recorded_and_push_tokens_are_not(
    member: User, member_api: APIClient, client_for: Callable[[User], APIClient]
) -> None:
    phone = make_device(member, kind=Device.Kind.MOBILE_APP, label="Pixel")
    lost = client_for(member)
    lost_session = _session_id(lost)

    pushed = member_api.put(
        f"/api/v1/devices/{phone.pk}/push-binding",
        {"provider": "fcm", "token": "fcm-token-" + "x" * 40, "app_id": "com.example.pbx"},
        format="json",
    )
    signed_out = member_api.delete(f"/api/v1/me/sessions/{lost_session}")

    assert pushed.status_code == 200, pushed.content
    assert signed_out.status_code == 204
    [entry] = AuditEntry.objects.all()
    assert (entry.object_type, entry.object_id, entry.action) == (
        "tokens.apisession",
        str(lost_session),
        "delete",
    )
    assert entry.tenant_id == member.tenant_id
    assert entry.changes["revoked_reason"] == {"before": "", "after": "revoked_by_user"}


def test_lifting_a_ban_is_recorded_platform_wide(
    client_for: Callable[[User], APIClient], admin_api: APIClient
) -> None:
    staff = User.objects.create_superuser("staff@pbx.test", "long-staff-password")
    now = timezone.now()
    ban = SourceBan.objects.create(
        source_address="198.51.100.66",
        reason=SourceBan.Reason.AUTH_FAILURES,
        banned_at=now,
        until=now + timedelta(minutes=10),
        failures=20,
    )

    response = client_for(staff).post(f"/api/v1/bans/{ban.pk}/lift")

    assert response.status_code == 200, response.content
    [entry] = AuditEntry.objects.all()
    assert (entry.object_type, entry.action, entry.tenant_id) == ("edge.sourceban", "lift", None)
    assert (entry.actor_id, entry.credential) == (staff.pk, "api_token")
    assert set(entry.changes) == {"lifted_at", "lifted_by_id"}
    assert entry.changes["lifted_by_id"] == {"before": None, "after": staff.pk}
    assert admin_api.get("/api/v1/audit").json()["count"] == 0  # no organisation's business
