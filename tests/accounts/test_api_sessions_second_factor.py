"""An API session opened without a code serves only someone who still needs none: sessions
from before two-step sign-in, and a member's session once they enrol or are promoted, stop."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from pbx.directory.models import User
from pbx.tokens.models import ApiSession
from pbx.tokens.services import api_session_open
from tests.factories import PASSWORD, totp_code, totp_device

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_tenant_admins_session_from_before_two_step_sign_in_stops(admin_user: User) -> None:
    pair = api_session_open(user=admin_user, second_factor=False)  # as migrated: opened without

    me = bearer(pair.access_token).get("/api/v1/me")
    refreshed = APIClient().post(
        "/api/v1/auth/tokens/refresh", {"refresh_token": pair.refresh_token}, format="json"
    )

    assert me.status_code == 401
    assert me.json()["code"] == "otp_required"
    assert refreshed.status_code == 401
    assert refreshed.json()["code"] == "otp_required"


def test_a_members_session_without_a_code_stops_when_they_enrol_or_are_promoted(
    member: User,
) -> None:
    pair = api_session_open(user=member, second_factor=False)
    client = bearer(pair.access_token)
    assert client.get("/api/v1/me").status_code == 200

    device = totp_device(member)
    assert client.get("/api/v1/me").status_code == 401

    device.delete()
    User.objects.filter(pk=member.pk).update(role=User.Role.TENANT_ADMIN)
    assert client.get("/api/v1/me").status_code == 401


def test_signing_in_records_whether_a_code_was_given(member: User, admin_user: User) -> None:
    member.set_password(PASSWORD)
    member.save()
    admin_user.set_password(PASSWORD)
    admin_user.save()
    code = totp_code(totp_device(admin_user))

    for user, otp in ((member, ""), (admin_user, code)):
        answer = APIClient().post(
            "/api/v1/auth/tokens",
            {"email": user.email, "password": PASSWORD, "client_name": "app", "otp": otp},
            format="json",
        )
        assert answer.status_code == 201, answer.content

    assert ApiSession.objects.get(user=member).second_factor is False
    assert ApiSession.objects.get(user=admin_user).second_factor is True


@pytest.mark.parametrize("surface", ["/portal/login/", "/admin/login/"])
def test_a_session_cookie_alone_cannot_enrol_an_authenticator(surface, admin_user) -> None:
    """A signed-in session from before two-step sign-in (it may be stolen) must give the
    password again before it binds an authenticator to the account."""
    person = admin_user
    if surface.startswith("/admin"):
        person = User.objects.create_superuser("old-staff@pbx.test", PASSWORD)
    client = Client()
    client.force_login(person)

    answer = client.get(surface)

    assert answer.status_code == 200  # the password form, not the enrolment page
    assert "_auth_user_id" not in client.session
