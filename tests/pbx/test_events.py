"""Live events over WebSockets: authenticated by bearer subprotocol or session cookie,
delivered after commit, only to the user they concern."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from devices.services import device_revoke
from pbx.asgi import application
from pbx.directory.models import User
from pbx.tokens.services import api_session_open
from tests.factories import UserFactory, make_device, verified_login

pytestmark = pytest.mark.django_db(transaction=True)


def connect(
    subprotocols: list[str], headers: list[tuple[bytes, bytes]] | None = None
) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/ws/events", subprotocols=subprotocols, headers=headers or []
    )


def test_bearer_socket_receives_its_users_device_events_only(member: User) -> None:
    token = api_session_open(user=member).access_token
    colleague = UserFactory(tenant=member.tenant)
    mine = make_device(member)
    theirs = make_device(colleague)

    async def scenario() -> list[dict]:
        socket = connect(["pbx.v1", f"pbx.bearer.{token}"])
        connected, subprotocol = await socket.connect()
        assert (connected, subprotocol) == (True, "pbx.v1")
        await sync_to_async(device_revoke)(device=theirs)
        await sync_to_async(device_revoke)(device=mine)
        event = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "ping"})
        pong = await socket.receive_json_from(timeout=5)
        nothing_else = await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return [event, pong, {"nothing_else": nothing_else}]

    event, pong, rest = async_to_sync(scenario)()

    assert event["type"] == "device.revoked"
    assert event["data"] == {
        "device_id": mine.pk,
        "kind": "softphone",
        "label": "Laptop",
        "state": "revoked",
    }
    assert pong == {"type": "pong"}
    assert rest == {"nothing_else": True}


@pytest.mark.parametrize("token", ["pbxa_invalid", None])
def test_unauthenticated_sockets_are_closed(token: str | None) -> None:
    async def scenario() -> tuple[bool, int]:
        protocols = ["pbx.v1"] + ([f"pbx.bearer.{token}"] if token else [])
        socket = connect(protocols, headers=[(b"origin", b"http://localhost")])
        connected, code = await socket.connect()
        return connected, code

    assert async_to_sync(scenario)() == (False, 4401)


def test_cookie_socket_needs_an_allowed_origin(member: User, client) -> None:
    client.force_login(member)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def attempt(origin: bytes) -> bool:
        socket = connect(["pbx.v1"], headers=[(b"cookie", cookie), (b"origin", origin)])
        connected, _ = await socket.connect()
        if connected:
            await socket.disconnect()
        return connected

    assert async_to_sync(attempt)(b"http://localhost") is True
    assert async_to_sync(attempt)(b"https://evil.example") is False


def test_a_cookie_session_that_skipped_the_second_factor_gets_no_socket(admin_user) -> None:
    skipped, verified = Client(), Client()
    skipped.force_login(admin_user)  # a tenant admin must use a second factor
    verified_login(verified, admin_user)

    async def attempt(client: Client) -> bool:
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
        socket = connect(
            ["pbx.v1"], headers=[(b"cookie", cookie), (b"origin", b"http://localhost")]
        )
        connected, _ = await socket.connect()
        if connected:
            await socket.disconnect()
        return connected

    assert async_to_sync(attempt)(skipped) is False
    assert async_to_sync(attempt)(verified) is True


def test_routing_changes_are_announced_to_the_person(member: User) -> None:
    from routing.services import routing_treatment_update

    token = api_session_open(user=member).access_token

    async def scenario() -> dict:
        socket = connect(["pbx.v1", f"pbx.bearer.{token}"])
        await socket.connect()
        await sync_to_async(routing_treatment_update)(user=member, data={"dnd": True})
        event = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return event

    event = async_to_sync(scenario)()

    assert (event["type"], event["data"]) == ("routing.updated", {})


def test_only_groups_someone_listens_to_are_sent_to() -> None:
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    from pbx.events.publish import _listened

    layer = get_channel_layer()

    async def scenario() -> tuple[set[str], set[str]]:
        channel = await layer.new_channel()
        await layer.group_add("user.900001", channel)
        try:
            found = await _listened(layer, {"user.900001", "user.900002"})
        finally:
            await layer.group_discard("user.900001", channel)
        after = await _listened(layer, {"user.900001", "user.900002"})
        return found, after

    found, after = async_to_sync(scenario)()

    assert type(layer).__name__ == "RedisChannelLayer"  # the real layer of the tests
    assert found == {"user.900001"}
    assert after == set()
    # a layer that is not channels_redis's is sent everything
    assert async_to_sync(_listened)(InMemoryChannelLayer(), {"user.1", "user.2"}) == {
        "user.1",
        "user.2",
    }
