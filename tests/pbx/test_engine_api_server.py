"""The engine's API in processes of its own (pbx.internal.server): the same answers as the web
tier's /internal/ views, the same guard, and hostile requests refused without harm."""

import json
import socket
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from devices.models import Device, Registration
from pbx.engine.contract import CONTRACT_VERSION
from tests.factories import ExtensionFactory, TenantFactory, UserFactory, make_device

pytestmark = pytest.mark.django_db(transaction=True)

DECISIONS = "/internal/engine/route-decisions"
EVENTS = "/internal/engine/events"


@pytest.fixture
def server(engine_api: str) -> str:
    return engine_api


def _headers() -> dict[str, str]:
    return {"X-Engine-Token": settings.PBX_ENGINE_TOKEN, "Content-Type": "application/json"}


def _callee() -> tuple[str, Device]:
    tenant = TenantFactory()
    user = UserFactory(tenant=tenant)
    ExtensionFactory(owner=user, number="201")
    device = make_device(user, kind=Device.Kind.DESK_PHONE, label="Desk")
    Registration.objects.create(
        device=device,
        contact=f"sip:{device.sip_username}@192.0.2.10:5060",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    return str(tenant.sip_domain), device


def _question(domain: str, call_id: str = "") -> dict[str, object]:
    return {"version": CONTRACT_VERSION, "domain": domain, "called": "201", "call_id": call_id}


def test_a_route_decision_is_the_web_tiers_answer(server: str) -> None:
    domain, device = _callee()
    question = _question(domain)
    answer = httpx.post(server + DECISIONS, json=question, headers=_headers())
    web = Client().post(
        DECISIONS,
        json.dumps(question),
        content_type="application/json",
        HTTP_X_ENGINE_TOKEN=settings.PBX_ENGINE_TOKEN,
    )
    assert answer.status_code == 200
    assert answer.json() == web.json()
    assert [b["sip_username"] for b in answer.json()["branches"]] == [device.sip_username]


def test_requests_on_one_kept_alive_connection(server: str) -> None:
    domain, _ = _callee()
    with httpx.Client(headers=_headers()) as client:
        answers = [client.post(server + DECISIONS, json=_question(domain)) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert all(a.http_version == "HTTP/1.1" for a in answers)


def test_events_are_applied(server: str) -> None:
    domain, _ = _callee()
    call_id = "engine-api-call-1"
    assert httpx.post(server + DECISIONS, json=_question(domain, call_id), headers=_headers())
    batch = {
        "version": CONTRACT_VERSION,
        "events": [
            {"type": "answered", "call_id": call_id, "domain": domain, "code": 200},
            {"type": "ended", "call_id": call_id, "domain": domain, "code": 200},
            {"type": "nonsense"},
        ],
    }
    answer = httpx.post(server + EVENTS, json=batch, headers=_headers())
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"rejected": 1, "known_calls": 2} == answer.json()
    from routing.models import Call

    call = Call.objects.get(call_id=call_id)
    assert call.answered_at is not None
    assert call.ended_at is not None


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "code"),
    [
        (DECISIONS, {}, b"{}", 401, "not_authenticated"),
        (DECISIONS, {"X-Engine-Token": "wrong"}, b"{}", 401, "not_authenticated"),
        (DECISIONS, None, b"not json", 400, "malformed_request"),
        (DECISIONS, None, b"[1, 2]", 400, "malformed_request"),
        (DECISIONS, None, b'{"version": 1}', 400, None),
        (DECISIONS, None, b"x" * 5000, 413, "too_large"),
        ("/admin/", None, b"{}", 404, "not_found"),
    ],
)
def test_hostile_requests_get_a_clear_refusal(
    server: str,
    path: str,
    headers: dict[str, str] | None,
    body: bytes,
    status: int,
    code: str | None,
) -> None:
    sent = _headers() if headers is None else headers | {"Content-Type": "application/json"}
    answer = httpx.post(server + path, content=body, headers=sent)
    assert answer.status_code == status, answer.text
    if code:
        assert answer.json()["code"] == code


def test_a_huge_declared_body_is_refused_unread_and_the_server_keeps_serving(
    server: str,
) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            f"POST {DECISIONS} HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n"
            f"X-Engine-Token: {settings.PBX_ENGINE_TOKEN}\r\n\r\n{{".encode()
        )
        reply = raw.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 413")
    # a client that vanishes mid-request costs nothing either
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(f"POST {DECISIONS} HTTP/1.1\r\nContent-Length: 100\r\n\r\n{{".encode())
    domain, _ = _callee()
    assert httpx.post(server + DECISIONS, json=_question(domain), headers=_headers()).is_success
