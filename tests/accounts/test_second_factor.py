"""The second factor on every surface: required for staff (admin) and tenant admins (portal,
API), optional for members; recovery codes work once; no way around it through the API."""

import re

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from pbx.accounts import second_factor
from pbx.audit.models import AuditEntry
from pbx.directory.models import User
from tests.factories import PASSWORD, UserFactory, totp_code, totp_device, verified_login

pytestmark = pytest.mark.django_db


def api_login(email: str, otp: str = ""):
    return APIClient().post(
        "/api/v1/auth/tokens", {"email": email, "password": PASSWORD, "otp": otp}, format="json"
    )


def codes_on(page: bytes) -> list[str]:
    return re.findall(rb"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", page)


def test_the_api_asks_an_enrolled_person_for_the_code_and_refuses_a_replay(member) -> None:
    device = totp_device(member)
    code = totp_code(device)

    missing = api_login(member.email)
    accepted = api_login(member.email, otp=code)
    replayed = api_login(member.email, otp=code)

    assert (missing.status_code, missing.json()["code"]) == (401, "otp_required")
    assert accepted.status_code == 201
    assert (replayed.status_code, replayed.json()["code"]) == (401, "otp_invalid")


def test_a_recovery_code_works_exactly_once(member) -> None:
    totp_device(member)
    codes = second_factor.recovery_codes_issue(user=member)

    first = api_login(member.email, otp=codes[3].upper())  # typed in capitals: still the code
    again = api_login(member.email, otp=codes[3])
    another = api_login(member.email, otp=codes[4])

    assert first.status_code == 201
    assert (again.status_code, again.json()["code"]) == (401, "otp_invalid")
    assert another.status_code == 201
    assert second_factor.recovery_codes_left(member) == 8
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert not stored & {c.replace("-", "") for c in codes}  # never kept in clear


def test_new_recovery_codes_replace_the_old_ones(member) -> None:
    totp_device(member)
    old = second_factor.recovery_codes_issue(user=member)
    new = second_factor.recovery_codes_issue(user=member)

    assert len(set(new)) == 10
    assert api_login(member.email, otp=old[0]).json()["code"] == "otp_invalid"
    assert api_login(member.email, otp=new[0]).status_code == 201


def test_a_tenant_admin_without_a_second_factor_cannot_sign_in_through_the_api(
    admin_user,
) -> None:
    response = api_login(admin_user.email)

    assert response.status_code == 401
    assert response.json()["code"] == "otp_enrolment_required"


def test_a_session_that_skipped_the_second_factor_is_no_api_credential(admin_user) -> None:
    skipped = APIClient()
    skipped.force_login(admin_user)
    verified = APIClient()
    verified_login(verified, admin_user)

    assert skipped.get("/api/v1/me").status_code == 401
    assert verified.get("/api/v1/me").status_code == 200


def test_a_tenant_admin_enrols_at_first_portal_sign_in_and_gets_codes_once(admin_user) -> None:
    client = Client()

    password = client.post("/portal/login/", {"username": admin_user.email, "password": PASSWORD})
    pending_page = client.get("/portal/devices/")
    enrol = client.get("/portal/login/enrol")
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    confirmed = client.post("/portal/login/enrol", {"code": totp_code(device)})
    devices = client.get("/portal/devices/")

    assert password["Location"] == "/portal/login/enrol"
    assert pending_page.status_code == 302  # not signed in with the password alone
    assert b"<svg" in enrol.content
    assert b'data-testid="totp-secret"' in enrol.content
    assert confirmed.status_code == 200
    assert len(codes_on(confirmed.content)) == 10
    assert devices.status_code == 200
    assert second_factor.second_factor_enrolled(admin_user)


def test_an_enrolled_tenant_admin_gives_a_code_at_each_portal_sign_in(admin_user) -> None:
    device = totp_device(admin_user)
    codes = second_factor.recovery_codes_issue(user=admin_user)

    def sign_in(code: str) -> tuple[str, int, int]:
        client = Client()
        first = client.post("/portal/login/", {"username": admin_user.email, "password": PASSWORD})
        second = client.post("/portal/login/code", {"code": code})
        return first["Location"], second.status_code, client.get("/portal/devices/").status_code

    wrong = "000000" if totp_code(device) != "000000" else "111111"
    assert sign_in(wrong) == (
        "/portal/login/code",
        200,  # the code page again, with the error
        302,
    )
    assert sign_in(totp_code(device)) == ("/portal/login/code", 302, 200)
    assert sign_in(codes[0]) == ("/portal/login/code", 302, 200)
    assert sign_in(codes[0]) == ("/portal/login/code", 200, 302)  # used up


def test_a_member_may_turn_the_second_factor_on_and_off(member) -> None:
    client = Client()
    client.force_login(member)

    page = client.get("/portal/security/")
    device = TOTPDevice.objects.get(user=member, confirmed=False)
    turned_on = client.post("/portal/security/", {"action": "enrol", "code": totp_code(device)})
    still_in = client.get("/portal/devices/")
    turned_off = client.post(
        "/portal/security/", {"action": "remove", "code": totp_code(device, steps=1)}
    )

    assert b"Optional" in page.content
    assert len(codes_on(turned_on.content)) == 10
    assert still_in.status_code == 200  # enrolling verified this session
    assert turned_off.status_code == 302
    assert not second_factor.second_factor_enrolled(member)
    assert api_login(member.email).status_code == 201


def test_a_tenant_admin_cannot_turn_it_off(admin_user) -> None:
    client = Client()
    verified_login(client, admin_user)
    codes = second_factor.recovery_codes_issue(user=admin_user)

    page = client.get("/portal/security/")
    refused = client.post("/portal/security/", {"action": "remove", "code": codes[0]})

    assert b"Turn off" not in page.content
    assert b"That cannot be done here." in refused.content
    assert second_factor.second_factor_enrolled(admin_user)
    assert second_factor.recovery_codes_left(admin_user) == 10  # the code was not used up


def test_a_session_from_before_the_rule_is_sent_through_the_second_factor(admin_user) -> None:
    totp_device(admin_user)
    client = Client()
    client.force_login(admin_user)  # signed in with a password only

    page = client.get("/portal/devices/")
    login = client.get(page["Location"])

    assert page["Location"] == "/portal/login/?next=/portal/devices/"
    assert login["Location"] == "/portal/login/code"


def test_staff_without_an_authenticator_are_sent_to_set_one_up() -> None:
    staff = UserFactory(tenant=None, role=User.Role.PLATFORM_ADMIN)
    client = Client()

    password = client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    before = client.get("/admin/")
    enrol = client.get("/admin/login/enrol")
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    confirmed = client.post("/admin/login/enrol", {"code": totp_code(device)})
    after = client.get("/admin/")

    assert password["Location"] == "/admin/login/enrol"
    assert before.status_code == 302
    assert b'data-testid="totp-secret"' in enrol.content
    assert len(codes_on(confirmed.content)) == 10
    assert after.status_code == 200


def test_staff_give_a_code_at_each_admin_sign_in() -> None:
    staff = UserFactory(tenant=None, role=User.Role.PLATFORM_ADMIN)
    device = totp_device(staff)
    client = Client()

    password = client.post(
        "/admin/login/?next=/admin/directory/user/",
        {"username": staff.email, "password": PASSWORD, "next": "/admin/directory/user/"},
    )
    between = client.get("/admin/directory/user/")
    code = client.post("/admin/login/code", {"code": totp_code(device)})
    after = client.get("/admin/directory/user/")

    assert password["Location"] == "/admin/login/code"
    assert between.status_code == 302
    assert code["Location"] == "/admin/directory/user/"
    assert after.status_code == 200


def test_staff_regenerate_their_recovery_codes_in_the_admin() -> None:
    staff = UserFactory(tenant=None, role=User.Role.PLATFORM_ADMIN)
    client = Client()
    device = verified_login(client, staff)
    old = second_factor.recovery_codes_issue(user=staff)

    index = client.get("/admin/")
    page = client.get("/admin/security/")
    regenerated = client.post(
        "/admin/security/", {"action": "regenerate", "code": totp_code(device)}
    )

    assert b'href="/admin/security/"' in index.content
    assert page.status_code == 200
    assert len(codes_on(regenerated.content)) == 10
    assert api_login(staff.email, otp=old[0]).json()["code"] == "otp_invalid"


def test_a_member_who_turned_it_on_gives_a_code_too(member) -> None:
    device = totp_device(member)
    client = Client()

    password = client.post("/portal/login/", {"username": member.email, "password": PASSWORD})
    between = client.get("/portal/devices/")
    code = client.post("/portal/login/code", {"code": totp_code(device)})

    assert password["Location"] == "/portal/login/code"
    assert between.status_code == 302
    assert code["Location"] == "/portal/"  # home: the devices page
    assert client.get("/portal/devices/").status_code == 200


def test_a_pending_sign_in_expires(member) -> None:
    device = totp_device(member)
    client = Client()
    client.post("/portal/login/", {"username": member.email, "password": PASSWORD})
    session = client.session
    session["signin_pending"]["at"] -= 11 * 60  # the password was given 11 minutes ago
    session.save()

    late = client.post("/portal/login/code", {"code": totp_code(device)})

    assert late["Location"] == "/portal/login/"
    assert client.get("/portal/devices/").status_code == 302


def test_staff_remove_a_lost_authenticator_in_the_admin_without_seeing_its_key(
    admin_user,
) -> None:
    staff_client = Client()
    verified_login(staff_client, UserFactory(tenant=None, role=User.Role.PLATFORM_ADMIN))
    lost = totp_device(admin_user)

    page = staff_client.get(f"/admin/otp_totp/totpdevice/{lost.pk}/change/")
    removed = staff_client.post(f"/admin/otp_totp/totpdevice/{lost.pk}/delete/", {"post": "yes"})
    entry = AuditEntry.objects.get(object_type="otp_totp.totpdevice", object_id=str(lost.pk))

    assert page.status_code == 200
    assert lost.key.encode() not in page.content
    assert removed.status_code == 302
    assert not second_factor.second_factor_enrolled(admin_user)
    assert entry.changes["key"] == "[secret changed]"
    assert lost.key not in str(entry.changes)
    assert api_login(admin_user.email).json()["code"] == "otp_enrolment_required"


def test_turning_the_second_factor_on_and_off_is_in_the_audit_trail(member) -> None:
    client = Client(REMOTE_ADDR="192.0.2.33")
    client.force_login(member)
    client.get("/portal/security/")
    device = TOTPDevice.objects.get(user=member, confirmed=False)

    # Three codes in a row: the previous, the current and the next time step (each used once).
    client.post("/portal/security/", {"action": "enrol", "code": totp_code(device, steps=-1)})
    client.post("/portal/security/", {"action": "regenerate", "code": totp_code(device)})
    client.post("/portal/security/", {"action": "remove", "code": totp_code(device, steps=1)})
    entries = list(
        AuditEntry.objects.filter(object_id=str(member.pk))
        .order_by("id")
        .values_list("action", "channel", "actor_id", "address", "changes")
    )

    assert entries == [
        ("second_factor_enrolled", "portal", member.pk, "192.0.2.33", {}),
        ("recovery_codes_issued", "portal", member.pk, "192.0.2.33", {}),
        ("second_factor_removed", "portal", member.pk, "192.0.2.33", {}),
    ]
