"""Django's password validators wherever a password is set: the admin (new user, change
password), the API (a tenant admin creating a user) and the management commands."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from pbx.directory.models import User
from tests.factories import UserFactory, verified_login

pytestmark = pytest.mark.django_db
GOOD = "violet-kettle-harbour"


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    verified_login(client, UserFactory(tenant=None, role=User.Role.PLATFORM_ADMIN))
    return client


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("kettle-harb1", None),  # 12 characters: long enough
        ("kettle-harb", "at least 12 characters"),
        ("password1234", "too common"),
        ("834529018375", "entirely numeric"),
        ("ana.lopez.example", "too similar"),
    ],
)
def test_the_policy(password: str, message: str | None) -> None:
    user = User(email="ana.lopez@example.com", full_name="Ana Lopez")
    if message is None:
        validate_password(password, user)
        return
    with pytest.raises(ValidationError, match=message):
        validate_password(password, user)


def test_the_admin_refuses_a_weak_password_for_a_new_user(staff_client, tenant) -> None:
    def add(password: str):
        return staff_client.post(
            "/admin/directory/user/add/",
            {
                "email": f"new-{len(password)}@example.com",
                "tenant": tenant.pk,
                "role": "member",
                "password1": password,
                "password2": password,
                "usable_password": "true",
            },
        )

    weak = add("short-pw1")
    good = add(GOOD)

    assert weak.status_code == 200
    assert b"at least 12 characters" in weak.content
    assert not User.objects.filter(email="new-9@example.com").exists()
    assert good.status_code == 302
    assert User.objects.get(email=f"new-{len(GOOD)}@example.com").check_password(GOOD)


def test_the_admin_refuses_a_weak_password_change(staff_client, member) -> None:
    url = f"/admin/directory/user/{member.pk}/password/"

    weak = staff_client.post(url, {"password1": "123456789012", "password2": "123456789012"})
    good = staff_client.post(url, {"password1": GOOD, "password2": GOOD})

    assert b"entirely numeric" in weak.content
    assert good.status_code == 302
    member.refresh_from_db()
    assert member.check_password(GOOD)


def test_the_api_refuses_a_weak_password(admin_api, tenant) -> None:
    response = admin_api.post(
        "/api/v1/users",
        {"email": "weak@example.com", "password": "eleven-char"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"]["password"][0]["code"] == "password_too_weak"
    assert "at least 12 characters" in response.json()["fields"]["password"][0]["detail"]
