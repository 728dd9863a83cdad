"""Every id in every URL is ASCII digits: `/api/v1/devices/` + U+0661 (ARABIC-INDIC DIGIT ONE)
is not device 1 and `/api/v1/users/` + U+00B3 (SUPERSCRIPT THREE) is not a 500, on every route.

The routes come from the URL resolver itself, so a route added later is walked too (and fails
here until this test knows which object its id names). Each id parameter gets, in turn, the id of
an object that exists spelled in Arabic-Indic, full-width and superscript digits, the other
parameters their real values: `int()` would read the first two as the real id.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from rest_framework.test import APIClient

from devices.models import Device
from pbx.object_ids import parse_id
from pbx.tokens.services import api_session_open
from tests.api_world import World, build_world
from tests.factories import verified_login

pytestmark = pytest.mark.django_db

ASCII_DIGITS = "0123456789"
SPELLINGS = {
    "arabic-indic": str.maketrans(ASCII_DIGITS, "".join(chr(0x0660 + d) for d in range(10))),
    "full-width": str.maketrans(ASCII_DIGITS, "".join(chr(0xFF10 + d) for d in range(10))),
    "superscript": str.maketrans(
        ASCII_DIGITS, "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
    ),
}
NUMERIC_CONVERTERS = {"IntConverter", "IdConverter", "UserRefConverter"}
ID_NAMES = {"pk", "id", "object_id"}


@dataclass(frozen=True)
class Param:
    name: str
    is_id: bool


@dataclass(frozen=True)
class Route:
    """A URL pattern flattened: literal text and parameters, in order."""

    parts: tuple[str | Param, ...]
    callback: Callable[..., Any]

    @property
    def params(self) -> list[Param]:
        return [part for part in self.parts if isinstance(part, Param)]

    def url(self, values: dict[str, str]) -> str:
        return "/" + "".join(
            part if isinstance(part, str) else values[part.name] for part in self.parts
        )


_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>(?:[^()]|\([^()]*\))*)\)")


def _route_parts(pattern: RoutePattern) -> list[str | Param]:
    route, parts, end = str(pattern._route), [], 0
    for match in _ROUTE_PARAM.finditer(route):
        parts.append(route[end : match.start()])
        converter = type(pattern.converters[match["name"]]).__name__
        is_id = converter in NUMERIC_CONVERTERS or match["name"] in ID_NAMES
        parts.append(Param(match["name"], is_id))
        end = match.end()
    parts.append(route[end:])
    return parts


def _regex_parts(pattern: RegexPattern) -> list[str | Param]:
    regex = str(pattern._regex).removeprefix("^").removesuffix("$").replace("/?", "")
    parts, end = [], 0
    for match in _REGEX_GROUP.finditer(regex):
        parts.append(regex[end : match.start()])
        is_id = "0-9" in match["body"] or r"\d" in match["body"] or match["name"] in ID_NAMES
        parts.append(Param(match["name"], is_id))
        end = match.end()
    parts.append(regex[end:])
    literal = [part.replace("\\.", ".") if isinstance(part, str) else part for part in parts]
    for part in literal:
        assert not isinstance(part, str) or not re.search(r"[\\()\[\]|*+?]", part), part
    return literal


def _walk(resolver: URLResolver, prefix: tuple[str | Param, ...] = ()) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            parts = prefix + tuple(_route_parts(pattern))
        else:
            assert isinstance(pattern, RegexPattern), type(pattern)
            parts = prefix + tuple(_regex_parts(pattern))
        if isinstance(entry, URLResolver):
            yield from _walk(entry, parts)
        else:
            assert isinstance(entry, URLPattern)
            yield Route(parts, entry.callback)


ROUTES = [route for route in _walk(get_resolver()) if any(p.is_id for p in route.params)]


def _label(route: Route) -> str:
    return route.url({p.name: "{" + p.name + "}" for p in route.params})


def test_the_walk_finds_the_routes_of_every_area() -> None:
    labels = {_label(route) for route in ROUTES}

    assert "/api/v1/devices/{pk}" in labels
    assert "/api/v1/users/{user}/voicemail/messages/{message}/audio" in labels
    assert "/internal/voicemail/mailboxes/{mailbox_id}/greetings/{kind}" in labels
    assert "/portal/devices/{device_id}/revoke" in labels
    assert "/admin/devices/device/{object_id}/change/" in labels


def _api_pk(world: World, url: str, session_id: int) -> int:
    """The object a router's `{pk}` names, by the collection it is in."""
    collection = re.sub(r"^/api/v1/|/\{pk\}.*$", "", url)
    objects = {
        "tenants": world.tenant.pk,
        "users": world.admin.pk,
        "extensions": world.extension.pk,
        "phone-numbers": world.phone_number.pk,
        "devices": world.mobile.pk,
        "me/sessions": session_id,
        "schedules": world.schedule.pk,
        "routing-templates": world.template.pk,
        "calls": world.call.pk,
        "bans": world.ban.pk,
        "registration-failures": world.failure.pk,
    }
    assert collection in objects, f"{url}: which object does its id name? Add it here."
    return objects[collection]


def _values(world: World, route: Route, session_id: int) -> dict[str, str]:
    """Real values for every parameter of `route`, as the client of its area would send them."""
    label = _label(route)
    # ModelAdmin.get_urls() marks its views; extra ones (a user's password) are its methods.
    model_admin = getattr(route.callback, "model_admin", None)
    view: Any = route.callback
    while model_admin is None and view is not None:
        model_admin, view = getattr(view, "__self__", None), getattr(view, "__wrapped__", None)
    values: dict[str, str] = {}
    for param in route.params:
        if param.name == "format":
            values[param.name] = "json"
        elif param.name == "kind":
            values[param.name] = "unavailable"
        elif param.name == "app_label":
            assert model_admin is not None, label
            values[param.name] = model_admin.model._meta.app_label
        elif param.name == "content_type_id":  # the admin's "view on site" redirect
            values[param.name] = str(ContentType.objects.get_for_model(Device).pk)
        elif label.startswith("/admin/r/") and param.name == "object_id":
            values[param.name] = str(world.device.pk)
        elif label.startswith("/admin/") and param.name in ("object_id", "id"):
            first = model_admin.model._default_manager.order_by("pk").first()
            values[param.name] = str(first.pk if first is not None else 1)
        elif param.name == "pk":
            values[param.name] = str(_api_pk(world, label, session_id))
        else:
            known = {
                "user": world.admin.pk,
                "message": world.message.pk,
                "mailbox_id": world.mailbox.pk,
                "device_id": world.member_device.pk,  # the portal is the member's
            }
            assert param.name in known, f"{label}: what does {param.name} name? Add it here."
            values[param.name] = str(known[param.name])
    return values


@pytest.fixture
def world(tenant, admin_user, member) -> World:
    return build_world(tenant=tenant, admin=admin_user, member=member)


def _clients(world: World) -> tuple[dict[str, Client], int]:
    """The client of each area, signed in as who uses it."""
    api = APIClient()
    pair = api_session_open(user=world.admin, client_name="path ids")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.access_token}")
    portal, staff = Client(), Client()
    portal.force_login(world.member)
    verified_login(staff, world.staff)  # the admin opens only after the second factor
    engine = Client(headers={"X-Engine-Token": "development-engine-token"})
    clients = {"/api/": api, "/portal/": portal, "/admin/": staff, "/internal/": engine}
    return clients, pair.session.pk


def test_unicode_digits_in_an_id_name_nothing(world: World, settings) -> None:
    settings.PBX_ENGINE_TOKEN = "development-engine-token"
    clients, session_id = _clients(world)
    checked, wrong = 0, []
    for route in ROUTES:
        label = _label(route)
        client = next((c for area, c in clients.items() if label.startswith(area)), None)
        assert client is not None, f"{label}: which client calls this area? Add it here."
        real = _values(world, route, session_id)
        for param in (p for p in route.params if p.is_id and parse_id(real[p.name]) is not None):
            for spelling, table in SPELLINGS.items():
                url = route.url({**real, param.name: real[param.name].translate(table)})
                # follow: the admin's `<id>/` only redirects to `<id>/change/`
                response = client.get(url, follow=True)
                checked += 1
                if response.status_code != 404:
                    wrong.append((url, spelling, response.status_code))
                elif label.startswith("/api/"):
                    assert response.json()["code"] == "not_found", url

    assert wrong == [], "\n".join(map(str, wrong))
    assert checked == 3 * sum(1 for r in ROUTES for p in r.params if p.is_id)
