"""Registration through the real engine: digest auth against Django's credentials, network
policy, events back to Django, revocation dropping the live registration."""

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection

from devices import services
from devices.models import Device, Registration, RegistrationFailure
from pbx.celery import app as celery_app
from pbx.engine.client import KamailioJsonRpc
from pbx.engine.process import EngineProcess, free_port
from tests import sip
from tests.factories import TenantFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def wait_for(condition: Callable[[], object], timeout: float = 8.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def new_device(**tenant_fields: object) -> services.IssuedCredentials:
    user = UserFactory(tenant=TenantFactory(**tenant_fields))
    return services.device_create(user=user, kind=Device.Kind.DESK_PHONE, label="Desk")


def aor(device: Device) -> str:
    return f"{device.sip_username}@{device.tenant.sip_domain}"


def test_right_secret_registers_and_django_hears_of_it(
    engine: EngineProcess, sip_dir: Path
) -> None:
    issued = new_device()
    device = issued.device

    result = sip.register(
        engine,
        sip_dir,
        username=device.sip_username,
        domain=device.tenant.sip_domain,
        secret=issued.secret,
    )

    assert result.ok, result.output
    registration = wait_for(lambda: Registration.objects.filter(device=device).first())
    assert registration.source_address == "127.0.0.1"
    assert registration.user_agent == "sipp-desk-phone"
    assert registration.transport == "udp"
    assert registration.contact.startswith(f"sip:{device.sip_username}@127.0.0.1:")
    contacts = KamailioJsonRpc(engine.rpc_url).registrations(aor=aor(device))
    assert len(contacts) == 1


@pytest.mark.parametrize("case", ["wrong_secret", "unknown_user", "revoked", "disabled"])
def test_refused_registrations(engine: EngineProcess, sip_dir: Path, case: str) -> None:
    issued = new_device()
    device, secret, username = issued.device, issued.secret, issued.device.sip_username
    if case == "wrong_secret":
        secret = "not-the-secret"
    elif case == "unknown_user":
        username = "nobody1234"
    elif case == "revoked":
        services.device_revoke(device=device)
    elif case == "disabled":
        services.device_update(device=device, data={"enabled": False})

    result = sip.register(
        engine,
        sip_dir,
        username=username,
        domain=device.tenant.sip_domain,
        secret=secret,
        expect=401,
    )

    assert result.ok, result.output
    failure = wait_for(lambda: RegistrationFailure.objects.filter(username=username).first())
    assert failure.reason == "bad_credentials"
    assert failure.detail == ""
    assert failure.source_address == "127.0.0.1"
    assert failure.device_id == (None if case == "unknown_user" else device.pk)
    assert not Registration.objects.filter(device=device).exists()


@pytest.mark.parametrize(
    ("tenant_networks", "device_networks", "expect"),
    [
        ([], ["10.0.0.0/8"], 403),
        (["192.0.2.0/24"], [], 403),
        (["127.0.0.0/8"], ["127.0.0.1/32"], 200),
        (["127.0.0.0/8", "10.0.0.0/8"], [], 200),
    ],
)
def test_allowed_networks_are_enforced(
    engine: EngineProcess,
    sip_dir: Path,
    tenant_networks: list[str],
    device_networks: list[str],
    expect: int,
) -> None:
    user = UserFactory(tenant=TenantFactory(allowed_registration_networks=tenant_networks))
    issued = services.device_create(
        user=user, kind=Device.Kind.SOFTPHONE, label="Laptop", allowed_networks=device_networks
    )
    device = issued.device

    result = sip.register(
        engine,
        sip_dir,
        username=device.sip_username,
        domain=device.tenant.sip_domain,
        secret=issued.secret,
        expect=expect,
    )

    assert result.ok, result.output
    if expect == 403:
        failure = wait_for(lambda: RegistrationFailure.objects.filter(device=device).first())
        assert failure.reason == "network_not_allowed"
    else:
        wait_for(lambda: Registration.objects.filter(device=device).exists())


def test_unregister_removes_the_registration(engine: EngineProcess, sip_dir: Path) -> None:
    issued = new_device()
    device = issued.device
    domain = device.tenant.sip_domain
    phone = {
        "username": device.sip_username,
        "domain": domain,
        "secret": issued.secret,
        "local_port": free_port(),
    }
    assert sip.register(engine, sip_dir, **phone).ok
    wait_for(lambda: Registration.objects.filter(device=device).exists())

    assert sip.register(engine, sip_dir, **phone, expires=0).ok

    wait_for(lambda: not Registration.objects.filter(device=device).exists())
    assert KamailioJsonRpc(engine.rpc_url).registrations(aor=aor(device)) == []


def test_revoking_drops_the_live_registration_and_refuses_the_next(
    engine: EngineProcess, sip_dir: Path, settings
) -> None:
    settings.PBX_ENGINE_RPC_URL = engine.rpc_url
    issued = new_device()
    device = issued.device
    domain = device.tenant.sip_domain
    client = KamailioJsonRpc(engine.rpc_url)
    assert sip.register(
        engine, sip_dir, username=device.sip_username, domain=domain, secret=issued.secret
    ).ok
    wait_for(lambda: client.registrations(aor=aor(device)))
    wait_for(lambda: Registration.objects.filter(device=device).exists())

    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, queues=["engine"], shutdown_timeout=10
    ):
        started = time.monotonic()
        services.device_revoke(device=device)
        wait_for(lambda: client.registrations(aor=aor(device)) == [], timeout=10)
        dropped_after = time.monotonic() - started

    assert dropped_after < 5
    assert not Registration.objects.filter(device=device).exists()
    again = sip.register(
        engine,
        sip_dir,
        username=device.sip_username,
        domain=domain,
        secret=issued.secret,
        expect=401,
    )
    assert again.ok, again.output


def test_registrations_survive_an_engine_restart(
    live_server, sip_dir: Path, tmp_path: Path
) -> None:
    from django.conf import settings as django_settings

    from pbx.engine.process import postgres_url, start_engine

    issued = new_device()
    device = issued.device

    def run() -> EngineProcess:
        return start_engine(
            db_url=postgres_url(connection.settings_dict),
            django_url=live_server.url,
            token=django_settings.PBX_ENGINE_TOKEN,
            workers=1,
            log_path=tmp_path / f"kamailio-{time.monotonic_ns()}.log",
        )

    first = run()
    try:
        assert sip.register(
            first,
            sip_dir,
            username=device.sip_username,
            domain=device.tenant.sip_domain,
            secret=issued.secret,
        ).ok
        wait_for(lambda: KamailioJsonRpc(first.rpc_url).registrations(aor=aor(device)))
    finally:
        first.stop()
    second = run()
    try:
        contacts = KamailioJsonRpc(second.rpc_url).registrations(aor=aor(device))
    finally:
        second.stop()

    assert len(contacts) == 1


def test_json_rpc_answers_only_allowed_networks(live_server, tmp_path: Path) -> None:
    from django.conf import settings as django_settings

    from pbx.engine.process import postgres_url, start_engine

    guarded = start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=live_server.url,
        token=django_settings.PBX_ENGINE_TOKEN,
        workers=1,
        rpc_allow="10.0.0.0/8",
        log_path=tmp_path / "kamailio-guarded.log",
    )
    try:
        response = httpx.post(
            guarded.rpc_url, json={"jsonrpc": "2.0", "method": "core.version", "id": 1}
        )
    finally:
        guarded.stop()

    assert response.status_code == 403


def test_registration_sync_repairs_what_django_missed(
    engine: EngineProcess, sip_dir: Path, settings
) -> None:
    """Events can still be lost (an event queue that overflowed during a long outage, an engine
    restarted with events queued): the periodic sync makes Django's view match the engine's own
    table again."""
    from django.utils import timezone

    from devices.tasks import sync_registrations

    settings.PBX_ENGINE_RPC_URL = engine.rpc_url
    online = new_device()
    ghost = new_device()  # Django believes it online; the engine never heard of it
    stale = new_device()  # revoked behind the engine's back: the engine still holds it
    client = KamailioJsonRpc(engine.rpc_url)
    for issued in (online, stale):
        device = issued.device
        assert sip.register(
            engine,
            sip_dir,
            username=device.sip_username,
            domain=device.tenant.sip_domain,
            secret=issued.secret,
        ).ok
        wait_for(lambda device=device: Registration.objects.filter(device=device).exists())
    Registration.objects.filter(device=online.device).delete()  # the lost "registered" event
    Registration.objects.create(
        device=ghost.device,
        contact="sip:ghost@192.0.2.1:5060",
        expires_at=timezone.now() + timezone.timedelta(minutes=5),
    )
    Device.objects.filter(pk=stale.device.pk).update(revoked_at=timezone.now(), enabled=False)

    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, queues=["engine"], shutdown_timeout=10
    ):
        outcome = sync_registrations()
        wait_for(lambda: client.registrations(aor=aor(stale.device)) == [], timeout=10)

    assert outcome["came_online"] == 1
    assert outcome["went_offline"] == 2  # the ghost, and the revoked device
    assert outcome["stale"] == 1
    assert not Registration.objects.filter(device=stale.device).exists()
    repaired = Registration.objects.get(device=online.device)
    assert repaired.contact.startswith(f"sip:{online.device.sip_username}@127.0.0.1:")
    assert repaired.expires_at > timezone.now() + timezone.timedelta(minutes=9)
    assert not Registration.objects.filter(device=ghost.device).exists()
    again = sync_registrations()
    assert again == {"online": 1, "came_online": 0, "went_offline": 0, "stale": 0}


def test_registration_sync_retries_while_the_engine_is_down(settings) -> None:
    from devices.tasks import sync_registrations
    from pbx.engine.client import EngineUnavailable

    settings.PBX_ENGINE_RPC_URL = f"http://127.0.0.1:{free_port()}/RPC"
    with pytest.raises(EngineUnavailable):
        sync_registrations.run()
    # Nothing was believed offline because the engine could not be asked.
