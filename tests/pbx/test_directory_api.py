import pytest
from rest_framework.test import APIClient

from pbx.directory.models import Extension, PhoneNumber, Tenant, User
from tests.factories import ExtensionFactory, PhoneNumberFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_me_and_my_extensions(member: User, member_api: APIClient) -> None:
    ExtensionFactory(owner=member, number="201")
    ExtensionFactory(owner=member, number="299")
    ExtensionFactory(owner=UserFactory(tenant=member.tenant), number="202")

    me = member_api.get("/api/v1/me").json()
    extensions = member_api.get("/api/v1/me/extensions").json()

    assert me["email"] == member.email
    assert me["tenant"] == member.tenant_id
    assert me["role"] == "member"
    assert me["effective_time_zone"] == "Europe/Paris"
    assert [e["number"] for e in extensions] == ["201", "299"]


def test_me_update_normalises_the_mobile_number(member_api: APIClient) -> None:
    response = member_api.patch(
        "/api/v1/me",
        {"mobile_number": "+44 7911 123456", "time_zone": "America/New_York"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["mobile_number"] == "+447911123456"
    assert response.json()["effective_time_zone"] == "America/New_York"


def test_member_cannot_promote_themselves(member: User, member_api: APIClient) -> None:
    via_me = member_api.patch("/api/v1/me", {"role": "tenant_admin"}, format="json")
    via_users = member_api.patch(
        f"/api/v1/users/{member.pk}", {"role": "tenant_admin"}, format="json"
    )

    assert via_me.status_code == 400
    assert via_me.json()["fields"]["role"][0]["code"] == "unknown_field"
    assert via_users.status_code == 403
    member.refresh_from_db()
    assert member.role == "member"


def test_admin_creates_a_user_with_their_extension(admin_user: User, admin_api: APIClient) -> None:
    response = admin_api.post(
        "/api/v1/users",
        {
            "email": "New.Person@Example.com",
            "full_name": "New Person",
            "mobile_number": "+33612345678",
            "extension": {"number": "305"},
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    user = User.objects.get(pk=response.json()["id"])
    assert (user.email, user.tenant_id, user.role) == (
        "new.person@example.com",
        admin_user.tenant_id,
        "member",
    )
    assert not user.has_usable_password()
    extension = Extension.objects.get(owner=user)
    assert (extension.number, extension.display_name, extension.tenant_id) == (
        "305",
        "New Person",
        admin_user.tenant_id,
    )


def test_admin_cannot_create_platform_admins(admin_api: APIClient) -> None:
    response = admin_api.post(
        "/api/v1/users", {"email": "x@example.com", "role": "platform_admin"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"]["role"][0]["code"] == "invalid_choice"


def test_weak_password_is_refused(admin_api: APIClient) -> None:
    response = admin_api.post(
        "/api/v1/users", {"email": "x@example.com", "password": "12345678"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"]["password"][0]["code"] == "password_too_weak"
    assert not User.objects.filter(email="x@example.com").exists()


def test_duplicate_email_is_a_field_error(admin_user: User, admin_api: APIClient) -> None:
    response = admin_api.post("/api/v1/users", {"email": admin_user.email.upper()}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"]["email"][0]["code"] == "email_taken"


def test_last_admin_cannot_be_demoted_or_deactivated(
    admin_user: User, admin_api: APIClient
) -> None:
    demote = admin_api.patch(f"/api/v1/users/{admin_user.pk}", {"role": "member"}, format="json")
    deactivate = admin_api.patch(
        f"/api/v1/users/{admin_user.pk}", {"is_active": False}, format="json"
    )

    assert demote.status_code == 409
    assert demote.json()["code"] == "last_tenant_admin"
    assert deactivate.json()["code"] == "last_tenant_admin"
    UserFactory(tenant=admin_user.tenant, role=User.Role.TENANT_ADMIN)
    assert (
        admin_api.patch(
            f"/api/v1/users/{admin_user.pk}", {"role": "member"}, format="json"
        ).status_code
        == 200
    )


def test_user_list_filters_and_search(admin_user: User, admin_api: APIClient) -> None:
    UserFactory(tenant=admin_user.tenant, full_name="Zoe Field", email="zoe@example.com")
    UserFactory(tenant=admin_user.tenant, full_name="Yann Office", is_active=False)

    search = admin_api.get("/api/v1/users?search=zoe").json()
    inactive = admin_api.get("/api/v1/users?is_active=false").json()
    admins = admin_api.get("/api/v1/users?role=tenant_admin").json()

    assert [u["email"] for u in search["results"]] == ["zoe@example.com"]
    assert [u["full_name"] for u in inactive["results"]] == ["Yann Office"]
    assert [u["id"] for u in admins["results"]] == [admin_user.pk]


def test_members_see_only_themselves_in_users(member: User, member_api: APIClient) -> None:
    UserFactory(tenant=member.tenant)

    listed = member_api.get("/api/v1/users").json()

    assert [u["id"] for u in listed["results"]] == [member.pk]


def test_extension_lifecycle(admin_user: User, admin_api: APIClient) -> None:
    owner = UserFactory(tenant=admin_user.tenant)

    created = admin_api.post(
        "/api/v1/extensions",
        {"number": "410", "display_name": "Sales", "owner": owner.pk},
        format="json",
    )
    renumbered = admin_api.patch(
        f"/api/v1/extensions/{created.json()['id']}", {"number": "411"}, format="json"
    )
    listed = admin_api.get("/api/v1/extensions?number_prefix=41").json()
    deleted = admin_api.delete(f"/api/v1/extensions/{created.json()['id']}")

    assert created.status_code == 201
    assert created.json()["owner_email"] == owner.email
    assert renumbered.json()["number"] == "411"
    assert [e["number"] for e in listed["results"]] == ["411"]
    assert deleted.status_code == 204
    assert Extension.objects.count() == 0


def test_duplicate_extension_number_is_a_field_error_and_writes_nothing(
    admin_user: User, admin_api: APIClient
) -> None:
    ExtensionFactory(owner=admin_user, number="500")

    direct = admin_api.post(
        "/api/v1/extensions",
        {"number": "500", "display_name": "Dup", "owner": admin_user.pk},
        format="json",
    )
    with_user = admin_api.post(
        "/api/v1/users", {"email": "dup@example.com", "extension": {"number": "500"}}, format="json"
    )

    assert direct.status_code == 400
    assert direct.json()["fields"]["number"][0]["code"] == "extension_number_taken"
    assert with_user.status_code == 400
    assert with_user.json()["fields"]["extension.number"][0]["code"] == "extension_number_taken"
    assert not User.objects.filter(email="dup@example.com").exists()
    assert Extension.objects.count() == 1


def test_same_extension_number_in_two_tenants_is_fine(
    admin_user: User, admin_api: APIClient, other_tenant: Tenant
) -> None:
    ExtensionFactory(owner=UserFactory(tenant=other_tenant), number="600")

    response = admin_api.post(
        "/api/v1/extensions",
        {"number": "600", "display_name": "Mine", "owner": admin_user.pk},
        format="json",
    )

    assert response.status_code == 201


def test_members_cannot_change_extensions(member: User, member_api: APIClient) -> None:
    extension = ExtensionFactory(owner=member)

    assert member_api.get(f"/api/v1/extensions/{extension.pk}").status_code == 200
    response = member_api.patch(
        f"/api/v1/extensions/{extension.pk}", {"display_name": "Mine"}, format="json"
    )
    assert response.status_code == 403
    assert (
        member_api.post(
            "/api/v1/extensions",
            {"number": "700", "display_name": "x", "owner": member.pk},
            format="json",
        ).status_code
        == 403
    )


def test_phone_numbers(admin_user: User, admin_api: APIClient) -> None:
    extension = ExtensionFactory(owner=admin_user, number="200")

    created = admin_api.post(
        "/api/v1/phone-numbers",
        {"number": "+1 (212) 555-0100", "extension": extension.pk, "label": "Main"},
        format="json",
    )
    unassigned = admin_api.post("/api/v1/phone-numbers", {"number": "+12125550101"}, format="json")
    duplicate = admin_api.post("/api/v1/phone-numbers", {"number": "+12125550100"}, format="json")
    moved = admin_api.patch(
        f"/api/v1/phone-numbers/{unassigned.json()['id']}",
        {"extension": extension.pk},
        format="json",
    )

    assert created.status_code == 201, created.content
    assert created.json()["number"] == "+12125550100"
    assert created.json()["extension_number"] == "200"
    assert unassigned.json()["extension"] is None
    assert duplicate.json()["fields"]["number"][0]["code"] == "phone_number_taken"
    assert moved.json()["extension"] == extension.pk
    assert admin_api.get("/api/v1/phone-numbers?assigned=true").json()["count"] == 2
    assert PhoneNumber.objects.count() == 2


def test_member_sees_numbers_routed_to_them(member: User, member_api: APIClient) -> None:
    mine = PhoneNumberFactory(extension=ExtensionFactory(owner=member))
    PhoneNumberFactory(extension=ExtensionFactory(owner=UserFactory(tenant=member.tenant)))

    listed = member_api.get("/api/v1/phone-numbers").json()

    assert [n["number"] for n in listed["results"]] == [mine.number]


def test_tenant_admin_edits_their_organisation_policy(
    admin_user: User, admin_api: APIClient, member_api: APIClient
) -> None:
    response = admin_api.patch(
        "/api/v1/tenant",
        {"max_devices_per_user": 3, "allowed_registration_networks": ["198.51.100.0/24"]},
        format="json",
    )
    domain_change = admin_api.patch(
        "/api/v1/tenant", {"sip_domain": "evil.example.com"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["max_devices_per_user"] == 3
    assert response.json()["allowed_registration_networks"] == ["198.51.100.0/24"]
    assert domain_change.json()["fields"]["sip_domain"][0]["code"] == "unknown_field"
    assert member_api.get("/api/v1/tenant").json()["id"] == admin_user.tenant_id
    assert member_api.patch("/api/v1/tenant", {"name": "Mine"}, format="json").status_code == 403


def test_platform_admin_manages_tenants(client_for, tenant: Tenant, member_api: APIClient) -> None:
    staff = User.objects.create_superuser("staff@pbx.test", "long-staff-password")
    api = client_for(staff)

    created = api.post(
        "/api/v1/tenants",
        {"name": "Acme", "sip_domain": "Acme.PBX.example.com", "time_zone": "Asia/Tokyo"},
        format="json",
    )
    taken = api.post(
        "/api/v1/tenants", {"name": "Acme 2", "sip_domain": "acme.pbx.example.com"}, format="json"
    )
    suspended = api.patch(f"/api/v1/tenants/{tenant.pk}", {"is_active": False}, format="json")

    assert created.status_code == 201
    assert created.json()["sip_domain"] == "acme.pbx.example.com"
    assert taken.json()["fields"]["sip_domain"][0]["code"] == "sip_domain_taken"
    assert suspended.json()["is_active"] is False
    assert member_api.get("/api/v1/tenants").status_code == 401  # tenant suspended above
    no_tenant = api.get("/api/v1/devices")
    assert no_tenant.status_code == 403
    assert no_tenant.json()["code"] == "no_tenant"


def test_sip_domain_is_frozen_once_devices_exist(client_for, member: User) -> None:
    from tests.factories import make_device

    staff = User.objects.create_superuser("staff@pbx.test", "long-staff-password")
    make_device(member)

    response = client_for(staff).patch(
        f"/api/v1/tenants/{member.tenant_id}", {"sip_domain": "new.pbx.test"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "sip_domain_in_use"


def test_members_cannot_list_tenants(member_api: APIClient) -> None:
    assert member_api.get("/api/v1/tenants").status_code == 403
