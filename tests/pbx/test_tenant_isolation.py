"""Every detail endpoint: another tenant's object answers 404 and is left untouched."""

from collections.abc import Callable

import pytest
from django.db import models
from rest_framework.test import APIClient

from devices.models import Device
from pbx.directory.models import Extension, PhoneNumber, Tenant, User
from pbx.tokens.models import ApiSession
from pbx.tokens.services import api_session_open
from routing.models import Call
from tests.factories import (
    CallFactory,
    ExtensionFactory,
    PhoneNumberFactory,
    UserFactory,
    make_device,
)

pytestmark = pytest.mark.django_db


def foreign_user(t: Tenant) -> User:
    return UserFactory(tenant=t)


def foreign_extension(t: Tenant) -> Extension:
    return ExtensionFactory(owner=UserFactory(tenant=t))


def foreign_number(t: Tenant) -> PhoneNumber:
    return PhoneNumberFactory(extension=foreign_extension(t))


def foreign_device(t: Tenant) -> Device:
    return make_device(UserFactory(tenant=t), kind=Device.Kind.MOBILE_APP)


def foreign_session(t: Tenant) -> ApiSession:
    return api_session_open(user=UserFactory(tenant=t)).session


def foreign_call(t: Tenant) -> Call:
    return CallFactory(callee=UserFactory(tenant=t))


CASES: list[tuple[str, Callable[[Tenant], models.Model], str, str, dict]] = [
    ("users/{id}", foreign_user, "get", "", {}),
    ("users/{id}", foreign_user, "patch", "", {"full_name": "Hacked"}),
    ("extensions/{id}", foreign_extension, "get", "", {}),
    ("extensions/{id}", foreign_extension, "patch", "", {"display_name": "Hacked"}),
    ("extensions/{id}", foreign_extension, "delete", "", {}),
    ("phone-numbers/{id}", foreign_number, "get", "", {}),
    ("phone-numbers/{id}", foreign_number, "patch", "", {"label": "Hacked"}),
    ("phone-numbers/{id}", foreign_number, "delete", "", {}),
    ("devices/{id}", foreign_device, "get", "", {}),
    ("devices/{id}", foreign_device, "patch", "", {"label": "Hacked"}),
    ("devices/{id}", foreign_device, "post", "/revoke", {}),
    ("devices/{id}", foreign_device, "post", "/rotate-secret", {}),
    ("devices/{id}", foreign_device, "get", "/push-binding", {}),
    (
        "devices/{id}",
        foreign_device,
        "put",
        "/push-binding",
        {"provider": "fcm", "token": "t" * 30, "app_id": "com.x.y"},
    ),
    ("devices/{id}", foreign_device, "delete", "/push-binding", {}),
    ("me/sessions/{id}", foreign_session, "get", "", {}),
    ("me/sessions/{id}", foreign_session, "delete", "", {}),
    ("calls/{id}", foreign_call, "get", "", {}),
]


@pytest.mark.parametrize(("path", "make", "method", "suffix", "payload"), CASES)
def test_other_tenants_objects_answer_404(
    admin_api: APIClient,
    other_tenant: Tenant,
    path: str,
    make,
    method: str,
    suffix: str,
    payload: dict,
) -> None:
    obj = make(other_tenant)
    before = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}

    response = getattr(admin_api, method)(
        f"/api/v1/{path.format(id=obj.pk)}{suffix}", payload, format="json"
    )

    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    obj.refresh_from_db()
    assert {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields} == before


def test_foreign_ids_in_payloads_are_unknown(admin_api: APIClient, other_tenant: Tenant) -> None:
    stranger = UserFactory(tenant=other_tenant)
    their_extension = foreign_extension(other_tenant)

    extension = admin_api.post(
        "/api/v1/extensions",
        {"number": "250", "display_name": "x", "owner": stranger.pk},
        format="json",
    )
    number = admin_api.post(
        "/api/v1/phone-numbers",
        {"number": "+12125550199", "extension": their_extension.pk},
        format="json",
    )

    assert extension.json()["fields"]["owner"][0]["code"] == "does_not_exist"
    assert number.json()["fields"]["extension"][0]["code"] == "does_not_exist"
    assert Extension.objects.filter(number="250").count() == 0
    assert PhoneNumber.objects.count() == 0


def test_another_tenants_calls_are_not_listed(admin_api: APIClient, other_tenant: Tenant) -> None:
    foreign_call(other_tenant)

    response = admin_api.get("/api/v1/calls")

    assert response.status_code == 200
    assert (response.json()["count"], response.json()["results"]) == (0, [])
    assert Call.objects.count() == 1
