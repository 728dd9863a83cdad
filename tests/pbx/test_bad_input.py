"""Hostile and broken payloads: a clear 400 with a stable code and nothing half-written."""

import pytest
from rest_framework.test import APIClient

from devices.models import Device
from pbx.directory.models import Extension, PhoneNumber, User
from tests.factories import ExtensionFactory

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return (
        User.objects.count(),
        Extension.objects.count(),
        PhoneNumber.objects.count(),
        Device.objects.count(),
    )


def test_malformed_json(admin_api: APIClient) -> None:
    before = counts()

    response = admin_api.generic(
        "POST", "/api/v1/users", '{"email": "a@example.com",', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert "JSON parse error" in response.json()["detail"]
    assert counts() == before


def test_wrong_content_type(admin_api: APIClient) -> None:
    response = admin_api.generic(
        "POST",
        "/api/v1/users",
        "email=a@example.com",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize("body", ["[]", '"text"', "42", "null"])
def test_body_that_is_not_an_object(admin_api: APIClient, body: str) -> None:
    before = counts()

    response = admin_api.generic(
        "POST", "/api/v1/extensions", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert counts() == before


def test_unknown_and_read_only_fields_are_refused(admin_user: User, admin_api: APIClient) -> None:
    response = admin_api.post(
        "/api/v1/extensions",
        {
            "number": "300",
            "display_name": "x",
            "owner": admin_user.pk,
            "tenant": 999,
            "id": 5,
            "colour": "red",
        },
        format="json",
    )

    assert response.status_code == 400
    fields = response.json()["fields"]
    assert {k: v[0]["code"] for k, v in fields.items()} == {
        "tenant": "unknown_field",
        "id": "unknown_field",
        "colour": "unknown_field",
    }
    assert Extension.objects.count() == 0


def test_unknown_field_in_a_nested_object(admin_api: APIClient) -> None:
    response = admin_api.post(
        "/api/v1/users",
        {"email": "n@example.com", "extension": {"number": "301", "voicemail": True}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"]["extension.voicemail"][0]["code"] == "unknown_field"
    assert not User.objects.filter(email="n@example.com").exists()


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"number": 300, "display_name": "x"}, "owner", "required"),
        ({"number": ["300"], "display_name": "x", "owner": 1}, "number", "invalid"),
        ({"number": "300", "display_name": "x" * 81, "owner": 1}, "display_name", "max_length"),
        ({"number": "0300", "display_name": "x", "owner": 1}, "number", "invalid_extension_number"),
        ({"number": "12345678901", "display_name": "x", "owner": 1}, "number", "max_length"),
        ({"number": "300", "display_name": "x", "owner": "abc"}, "owner", "incorrect_type"),
        ({"number": "300", "display_name": "x", "owner": 10**30}, "owner", "does_not_exist"),
        (
            {"number": "300", "display_name": "bad\u0000byte", "owner": 1},
            "display_name",
            "null_characters_not_allowed",
        ),
    ],
)
def test_wrong_types_and_values_give_field_errors(
    admin_api: APIClient, payload, field: str, code: str
) -> None:
    response = admin_api.post("/api/v1/extensions", payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"][field][0]["code"] == code
    assert Extension.objects.count() == 0


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("0612345678", "not_e164"),
        ("+1 555", "invalid_phone_number"),
        ("+999123456789", "not_e164"),
        ("call me", "not_e164"),
        ("+" + "1" * 40, "max_length"),
    ],
)
def test_numbers_that_are_not_e164(admin_api: APIClient, number: str, code: str) -> None:
    dids = admin_api.post("/api/v1/phone-numbers", {"number": number}, format="json")
    mobile = admin_api.post(
        "/api/v1/users", {"email": "m@example.com", "mobile_number": number}, format="json"
    )

    assert dids.json()["fields"]["number"][0]["code"] == code
    assert mobile.json()["fields"]["mobile_number"][0]["code"] == code
    assert counts()[0] == 1  # only the admin exists
    assert counts()[2] == 0  # no number stored


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"email": "not-an-email"}, "email", "invalid"),
        ({"email": "a" * 250 + "@example.com"}, "email", "max_length"),
        ({"email": "t@example.com", "time_zone": "Mars/Olympus"}, "time_zone", "invalid_time_zone"),
        ({"email": "t@example.com", "full_name": True}, "full_name", "invalid"),
        ({"email": "t@example.com", "extension": "301"}, "extension.non_field_errors", "invalid"),
    ],
)
def test_user_payloads(admin_api: APIClient, payload, field: str, code: str) -> None:
    response = admin_api.post("/api/v1/users", payload, format="json")

    assert response.status_code == 400
    assert response.json()["fields"][field][0]["code"] == code
    assert User.objects.count() == 1


def test_huge_lists_are_bounded(member_api: APIClient) -> None:
    networks = [f"10.{i // 256}.{i % 256}.0/24" for i in range(51)]

    response = member_api.post(
        "/api/v1/devices",
        {"kind": "softphone", "label": "x", "allowed_networks": networks},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"]["allowed_networks"][0]["code"] == "max_length"
    assert Device.objects.count() == 0


def test_unknown_url_and_method(member_api: APIClient) -> None:
    missing = member_api.get("/api/v1/nothing-here")
    put = member_api.put("/api/v1/me", {}, format="json")

    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "detail": "No such resource."}
    assert put.status_code == 405
    assert put.json()["code"] == "method_not_allowed"


def test_non_numeric_id_is_not_found(member_api: APIClient) -> None:
    response = member_api.get("/api/v1/devices/abc")

    assert response.status_code == 404


def test_a_tenant_network_that_is_not_one_is_refused(admin_api: APIClient) -> None:
    """Found by schemathesis: the service's own parse raised past the API (500)."""
    response = admin_api.patch(
        "/api/v1/tenant", {"allowed_registration_networks": ["(G+\u00e3"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"]["allowed_registration_networks"][0]["code"] == (
        "invalid_network"
    )


ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))


def test_an_id_in_a_body_or_query_is_ascii_digits(admin_user: User, admin_api: APIClient) -> None:
    """`int()` reads Arabic-Indic digits as the number they spell: such an id names nothing."""
    device = admin_api.post("/api/v1/devices", {"kind": "softphone", "label": "x"}, format="json")
    spelled = {"owner": str(admin_user.pk).translate(ARABIC_INDIC)}

    extension = admin_api.post(
        "/api/v1/extensions", {"number": "300", "display_name": "x", **spelled}, format="json"
    )
    ascii_extension = admin_api.post(
        "/api/v1/extensions", {"number": "301", "display_name": "x", "owner": str(admin_user.pk)}
    )
    calls = admin_api.get(
        "/api/v1/calls", {"device": str(device.json()["id"]).translate(ARABIC_INDIC)}
    )

    assert extension.status_code == 400
    assert extension.json()["fields"]["owner"][0]["code"] == "incorrect_type"
    assert ascii_extension.status_code == 201
    assert calls.status_code == 400
    assert calls.json()["fields"]["device"][0]["code"] == "invalid"


def test_an_id_filter_is_ascii_digits(admin_user: User, admin_api: APIClient) -> None:
    ExtensionFactory(owner=admin_user, tenant=admin_user.tenant, number="310")

    spelled = admin_api.get(
        "/api/v1/extensions", {"owner": str(admin_user.pk).translate(ARABIC_INDIC)}
    )
    plain = admin_api.get("/api/v1/extensions", {"owner": str(admin_user.pk)})

    assert spelled.status_code == 400
    assert spelled.json()["fields"]["owner"][0]["code"] == "invalid"
    assert [e["number"] for e in plain.json()["results"]] == ["310"]
