from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from pbx.directory.models import User
from pbx.tokens.models import AccessToken, ApiSession
from pbx.tokens.token_format import token_hash
from tests.factories import PASSWORD, totp_code, totp_device

pytestmark = pytest.mark.django_db


def login(client: APIClient, email: str, password: str = PASSWORD, otp: str = "") -> dict:
    response = client.post(
        "/api/v1/auth/tokens",
        {"email": email, "password": password, "client_name": "Ana's iPhone", "otp": otp},
        format="json",
        HTTP_USER_AGENT="PbxApp/1.0 iOS",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_login_returns_a_token_pair_and_stores_only_hashes(member: User) -> None:
    body = login(APIClient(), member.email.upper())  # e-mail login is case-insensitive

    assert body["token_type"] == "Bearer"
    assert body["access_token"].startswith("pbxa_")
    assert body["refresh_token"].startswith("pbxr_")
    assert 890 <= body["expires_in"] <= 900
    session = ApiSession.objects.get(pk=body["session_id"])
    assert session.client_name == "Ana's iPhone"
    assert session.user_agent == "PbxApp/1.0 iOS"
    assert session.refresh_hash == token_hash(body["refresh_token"])
    assert AccessToken.objects.get(session=session).token_hash == token_hash(body["access_token"])
    stored = str(list(ApiSession.objects.values()) + list(AccessToken.objects.values()))
    assert body["access_token"] not in stored
    assert body["refresh_token"] not in stored


def test_access_token_authenticates(member: User) -> None:
    body = login(APIClient(), member.email)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")

    response = client.get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["email"] == member.email


@pytest.mark.parametrize(
    ("email", "password"),
    [("nobody@example.com", PASSWORD), (None, "wrong-password-123")],
)
def test_wrong_credentials_are_refused_without_saying_which(member: User, email, password) -> None:
    response = APIClient().post(
        "/api/v1/auth/tokens", {"email": email or member.email, "password": password}, format="json"
    )

    assert response.status_code == 401
    assert response.json() == {"code": "invalid_credentials", "detail": "Wrong e-mail or password."}
    assert ApiSession.objects.count() == 0


def test_deactivated_user_cannot_log_in(member: User) -> None:
    member.is_active = False
    member.save()

    response = APIClient().post(
        "/api/v1/auth/tokens", {"email": member.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_login_is_throttled_per_address(member: User) -> None:
    # Each guess names another account, so no account locks (tests/pbx/test_sign_in_lockout.py):
    # this is the request rate limit of one address.
    client = APIClient()
    codes = [
        client.post(
            "/api/v1/auth/tokens",
            {"email": f"guess{n}@example.com", "password": "bad-password-x"},
            format="json",
        ).status_code
        for n in range(11)
    ]

    assert codes == [401] * 10 + [429]
    throttled = client.post(
        "/api/v1/auth/tokens", {"email": member.email, "password": PASSWORD}, format="json"
    )
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0


def test_expired_access_token_says_so(member: User) -> None:
    body = login(APIClient(), member.email)
    AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")

    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer pbxa_not-a-real-token", "Bearer \u00e9t\u00e9"],
)
def test_malformed_or_unknown_bearer_tokens_are_refused(member: User, header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.encode().decode("latin-1"))

    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_no_credentials_is_not_authenticated() -> None:
    response = APIClient().get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_refresh_rotates_and_the_old_access_token_keeps_working_until_expiry(member: User) -> None:
    first = login(APIClient(), member.email)

    response = APIClient().post(
        "/api/v1/auth/tokens/refresh", {"refresh_token": first["refresh_token"]}, format="json"
    )

    assert response.status_code == 200
    second = response.json()
    assert second["session_id"] == first["session_id"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    for token in (first["access_token"], second["access_token"]):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert client.get("/api/v1/me").status_code == 200


def test_reusing_a_refresh_token_revokes_the_whole_session(member: User) -> None:
    first = login(APIClient(), member.email)
    second = (
        APIClient()
        .post(
            "/api/v1/auth/tokens/refresh", {"refresh_token": first["refresh_token"]}, format="json"
        )
        .json()
    )

    replay = APIClient().post(
        "/api/v1/auth/tokens/refresh", {"refresh_token": first["refresh_token"]}, format="json"
    )

    assert replay.status_code == 401
    assert replay.json()["code"] == "refresh_token_reused"
    session = ApiSession.objects.get(pk=first["session_id"])
    assert session.revoked_reason == "refresh_token_reused"
    legit = APIClient().post(
        "/api/v1/auth/tokens/refresh", {"refresh_token": second["refresh_token"]}, format="json"
    )
    assert legit.status_code == 401
    assert legit.json()["code"] == "token_revoked"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {second['access_token']}")
    assert client.get("/api/v1/me").json()["code"] == "token_revoked"


def test_expired_refresh_token_is_refused(member: User) -> None:
    body = login(APIClient(), member.email)
    ApiSession.objects.update(refresh_expires_at=timezone.now() - timedelta(seconds=1))

    response = APIClient().post(
        "/api/v1/auth/tokens/refresh", {"refresh_token": body["refresh_token"]}, format="json"
    )

    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_logout_revokes_the_session(member: User) -> None:
    body = login(APIClient(), member.email)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")

    assert client.post("/api/v1/auth/logout").status_code == 204

    assert client.get("/api/v1/me").json()["code"] == "token_revoked"
    refresh = APIClient().post(
        "/api/v1/auth/tokens/refresh", {"refresh_token": body["refresh_token"]}, format="json"
    )
    assert refresh.json()["code"] == "token_revoked"


def test_user_lists_and_revokes_their_sessions(member: User, admin_user: User) -> None:
    phone = login(APIClient(), member.email)
    laptop = login(APIClient(), member.email)
    login(APIClient(), admin_user.email, otp=totp_code(totp_device(admin_user)))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {laptop['access_token']}")

    listed = client.get("/api/v1/me/sessions").json()
    assert listed["count"] == 2
    assert {(s["id"], s["current"]) for s in listed["results"]} == {
        (phone["session_id"], False),
        (laptop["session_id"], True),
    }
    assert client.delete(f"/api/v1/me/sessions/{phone['session_id']}").status_code == 204
    assert ApiSession.objects.get(pk=phone["session_id"]).revoked_reason == "revoked_by_user"
    admin_session = ApiSession.objects.get(user=admin_user)
    assert client.delete(f"/api/v1/me/sessions/{admin_session.pk}").status_code == 404


def test_deactivating_a_user_revokes_their_tokens(
    member: User, admin_user: User, client_for
) -> None:
    body = login(APIClient(), member.email)

    response = client_for(admin_user).patch(
        f"/api/v1/users/{member.pk}", {"is_active": False}, format="json"
    )

    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert client.get("/api/v1/me").json()["code"] == "token_revoked"


def test_suspended_tenant_cannot_use_the_api(member: User, member_api: APIClient) -> None:
    member.tenant.is_active = False
    member.tenant.save()

    response = member_api.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["code"] == "tenant_suspended"


def test_browser_session_auth_requires_csrf(member: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member)

    assert client.get("/api/v1/me").status_code == 200
    refused = client.patch("/api/v1/me", {"full_name": "X"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert "CSRF" in refused.json()["detail"]
