"""Digest credentials served from the engine's memory (htable `creds`): filled from PostgreSQL on
a miss, forgotten by Django after every change, never filled by a hostile username; refresh
REGISTERs that change nothing coalesced into one event."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from devices import services
from devices.models import Device, Registration, RegistrationFailure
from pbx.directory.services import tenant_update, user_update
from pbx.engine.process import EngineProcess, free_port
from tests import sip
from tests.engine.credentials import cached_credentials, engine_worker
from tests.factories import TenantFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def wait_for(condition: Callable[[], object], timeout: float = 8.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def new_device(**tenant_fields: object) -> services.IssuedCredentials:
    user = UserFactory(tenant=TenantFactory(**tenant_fields))
    return services.device_create(user=user, kind=Device.Kind.DESK_PHONE, label="Desk")


def account(device: Device) -> str:
    return f"{device.sip_username}@{device.tenant.sip_domain}"


def register(engine: EngineProcess, sip_dir: Path, device: Device, secret: str, **kw: Any) -> Any:
    return sip.register(
        engine,
        sip_dir,
        username=device.sip_username,
        domain=device.tenant.sip_domain,
        secret=secret,
        **kw,
    )


def test_a_registration_fills_the_cache_with_the_views_row(
    engine: EngineProcess, sip_dir: Path
) -> None:
    issued = new_device()
    device = issued.device
    assert cached_credentials(engine, account(device)) is None

    assert register(engine, sip_dir, device, issued.secret).ok

    device.refresh_from_db()
    assert (
        cached_credentials(engine, account(device))
        == f"{device.ha1}|{device.ha1b}|{device.pk}|0|any"
    )


def test_a_revoked_device_is_refused_at_once(
    engine: EngineProcess, sip_dir: Path, settings
) -> None:
    issued = new_device()
    device = issued.device
    assert register(engine, sip_dir, device, issued.secret).ok
    assert cached_credentials(engine, account(device)) is not None

    with engine_worker(settings, engine):
        started = time.monotonic()
        services.device_revoke(device=device)
        wait_for(lambda: cached_credentials(engine, account(device)) is None, timeout=5)
        forgotten_after = time.monotonic() - started
        again = register(engine, sip_dir, device, issued.secret, expect=401)

    assert forgotten_after < 1.0
    assert again.ok, again.output
    failure = wait_for(lambda: RegistrationFailure.objects.filter(device=device).first())
    assert failure.reason == "bad_credentials"


def test_a_rotated_secret_refuses_the_old_one_and_takes_the_new_one(
    engine: EngineProcess, sip_dir: Path, settings
) -> None:
    issued = new_device()
    device = issued.device
    phone = {"local_port": free_port()}
    assert register(engine, sip_dir, device, issued.secret, **phone).ok
    assert cached_credentials(engine, account(device)) is not None

    with engine_worker(settings, engine):
        started = time.monotonic()
        rotated = services.device_rotate_secret(device=device)
        wait_for(lambda: cached_credentials(engine, account(device)) is None, timeout=5)
        forgotten_after = time.monotonic() - started
        old = register(engine, sip_dir, device, issued.secret, expect=401, **phone)
        new = register(engine, sip_dir, device, rotated.secret, **phone)

    assert forgotten_after < 1.0
    assert old.ok, old.output
    assert new.ok, new.output
    # looked up, not stored: a lookup within 10 s of the change might have read the old row
    assert cached_credentials(engine, account(device)) is None


def _disable(device: Device) -> None:
    services.device_update(device=device, data={"enabled": False})


def _limit_networks(device: Device) -> None:
    services.device_update(device=device, data={"allowed_networks": ["10.0.0.0/8"]})


def _require_tls(device: Device) -> None:
    services.device_update(device=device, data={"transport_policy": "tls_srtp_required"})


def _deactivate_owner(device: Device) -> None:
    user_update(user=device.user, data={"is_active": False})


def _disable_organisation(device: Device) -> None:
    tenant_update(tenant=device.tenant, data={"is_active": False})


def _organisation_requires_tls(device: Device) -> None:
    tenant_update(tenant=device.tenant, data={"default_transport_policy": "tls_srtp_required"})


def _organisation_limits_networks(device: Device) -> None:
    tenant_update(tenant=device.tenant, data={"allowed_registration_networks": ["10.0.0.0/8"]})


def _offboard_owner(device: Device) -> None:
    from devices.offboarding import user_offboard

    user_offboard(user=device.user)


@pytest.mark.parametrize(
    ("change", "expect", "reason"),
    [
        (_disable, 401, "bad_credentials"),
        (_limit_networks, 403, "network_not_allowed"),
        (_require_tls, 403, "transport_policy"),
        (_deactivate_owner, 401, "bad_credentials"),
        (_offboard_owner, 401, "bad_credentials"),
        (_disable_organisation, 401, "bad_credentials"),
        (_organisation_requires_tls, 403, "transport_policy"),
        (_organisation_limits_networks, 403, "network_not_allowed"),
    ],
)
def test_every_change_to_the_view_reaches_the_engine_at_once(
    engine: EngineProcess,
    sip_dir: Path,
    settings,
    change: Callable[[Device], None],
    expect: int,
    reason: str,
) -> None:
    issued = new_device()
    device = issued.device
    assert register(engine, sip_dir, device, issued.secret).ok
    assert cached_credentials(engine, account(device)) is not None

    with engine_worker(settings, engine):
        started = time.monotonic()
        change(device)
        wait_for(lambda: cached_credentials(engine, account(device)) is None, timeout=5)
        forgotten_after = time.monotonic() - started
        again = register(engine, sip_dir, device, issued.secret, expect=expect)

    assert forgotten_after < 1.0
    assert again.ok, again.output
    failure = wait_for(
        lambda: RegistrationFailure.objects.filter(device=device).order_by("-id").first()
    )
    assert failure.reason == reason


@contextmanager
def view_unreadable() -> Iterator[None]:
    """kamailio_subscriber is gone for the engine (renamed): every query for it fails."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER VIEW kamailio_subscriber RENAME TO kamailio_subscriber_away")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER VIEW kamailio_subscriber_away RENAME TO kamailio_subscriber")


def test_a_cached_device_registers_without_postgresql(engine: EngineProcess, sip_dir: Path) -> None:
    cached_one = new_device()
    uncached = new_device()
    assert register(engine, sip_dir, cached_one.device, cached_one.secret).ok

    with view_unreadable():
        hit = register(engine, sip_dir, cached_one.device, cached_one.secret)
        miss = register(engine, sip_dir, uncached.device, uncached.secret, expect=401)

    assert hit.ok, hit.output
    assert miss.ok, miss.output
    assert cached_credentials(engine, account(uncached.device)) is None
    # the view back: the uncached device was refused for want of it, nothing else
    assert register(engine, sip_dir, uncached.device, uncached.secret).ok


HOSTILE_USERNAMES = (
    # defeats quoting with a backslash before each quote (sqlops' {sql.val}, MySQL style):
    # PostgreSQL ends the literal at the quote and runs the rest
    "x'UNION/**/SELECT/**/$$0123456789abcdef0123456789abcdef$$,$$h$$,1,0,$$any$$--",
    # defeats no quoting at all
    "a'or'1'='1",
)


def test_a_hostile_username_reaches_postgresql_as_data(
    engine: EngineProcess, sip_dir: Path
) -> None:
    """A username built to make the lookup return a row: the engine must find no device and
    cache nothing (a row the query returned would be cached before the password is checked,
    so an empty cache shows the query returned none)."""
    victim = new_device()
    realm = victim.device.tenant.sip_domain
    backslash_quoted = "'" + HOSTILE_USERNAMES[0].replace("'", "\\'") + "'"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ha1, ha1b, device_id, network_limited, transport_policy"  # noqa: S608
            " FROM kamailio_subscriber WHERE username = " + backslash_quoted
        )
        # against that quoting the injection works: the attacker's row comes back
        assert cursor.fetchall() == [("0123456789abcdef0123456789abcdef", "h", 1, 0, "any")]

    for username in HOSTILE_USERNAMES:
        result = sip.register(
            engine, sip_dir, username=username, domain=realm, secret="guess", expect=401
        )
        assert result.ok, result.output
        assert cached_credentials(engine, f"{username}@{realm}") is None
    recorded = [name[:64] for name in HOSTILE_USERNAMES]  # the contract clips usernames
    wait_for(lambda: RegistrationFailure.objects.filter(username__in=recorded).count() == 2)
    assert set(
        RegistrationFailure.objects.filter(username__in=recorded).values_list("reason", "device_id")
    ) == {("bad_credentials", None)}
    assert cached_credentials(engine, account(victim.device)) is None


def test_identical_refreshes_are_one_event_and_a_new_contact_another(
    engine: EngineProcess, sip_dir: Path
) -> None:
    issued = new_device()
    device = issued.device
    port = free_port()
    assert register(engine, sip_dir, device, issued.secret, local_port=port).ok
    first = wait_for(lambda: Registration.objects.filter(device=device).first())

    for _ in range(4):
        assert register(engine, sip_dir, device, issued.secret, local_port=port).ok
    time.sleep(0.6)  # two report ticks: any event queued has reached Django

    # Django recorded one event: the row was written once
    assert Registration.objects.filter(device=device).count() == 1
    unchanged = Registration.objects.get(device=device)
    assert unchanged.updated_at == first.updated_at
    assert unchanged.expires_at == first.expires_at

    moved = free_port()
    assert register(engine, sip_dir, device, issued.secret, local_port=moved).ok
    latest = wait_for(lambda: Registration.objects.filter(device=device, source_port=moved).first())
    assert latest.contact.endswith(f":{moved};transport=UDP>") or str(moved) in latest.contact
    assert Registration.objects.filter(device=device).count() == 1


def test_a_changed_user_agent_and_an_unregister_are_reported(
    engine: EngineProcess, sip_dir: Path
) -> None:
    issued = new_device()
    device = issued.device
    port = free_port()
    assert register(engine, sip_dir, device, issued.secret, local_port=port).ok
    wait_for(lambda: Registration.objects.filter(device=device).exists())

    assert register(
        engine, sip_dir, device, issued.secret, local_port=port, user_agent="sipp-upgraded"
    ).ok
    wait_for(
        lambda: Registration.objects.filter(device=device, user_agent="sipp-upgraded").exists()
    )
    assert register(engine, sip_dir, device, issued.secret, local_port=port, expires=0).ok
    wait_for(lambda: not Registration.objects.filter(device=device).exists())

    # registering again (same as before the unregister) is news again
    assert register(
        engine, sip_dir, device, issued.secret, local_port=port, user_agent="sipp-upgraded"
    ).ok
    wait_for(lambda: Registration.objects.filter(device=device).exists())


def _staff_client() -> Any:
    from django.test import Client

    from pbx.directory.models import User
    from tests.factories import verified_login

    client = Client()
    staff = User.objects.create_superuser(f"staff{free_port()}@pbx.test", "long-staff-password")
    verified_login(client, staff)
    return client


def _admin_deletes_the_device(client: Any, device: Device) -> Any:
    return client.post(f"/admin/devices/device/{device.pk}/delete/", {"post": "yes"})


def _admin_disables_the_device(client: Any, device: Device) -> Any:
    return client.post(
        f"/admin/devices/device/{device.pk}/change/",
        {
            "user": device.user_id,
            "kind": device.kind,
            "label": device.label,
            "transport_policy": device.transport_policy,
            "allowed_networks": "[]",
            "mac_address": "",
            "model": "",
            "push_binding-TOTAL_FORMS": "0",
            "push_binding-INITIAL_FORMS": "0",
            "registrations-TOTAL_FORMS": "0",
            "registrations-INITIAL_FORMS": "0",
        },
    )


def _admin_deactivates_the_owner(client: Any, device: Device) -> Any:
    owner = device.user
    return client.post(
        f"/admin/directory/user/{owner.pk}/change/",
        {
            "email": owner.email,
            "full_name": owner.full_name,
            "tenant": owner.tenant_id,
            "role": owner.role,
            "time_zone": "",
            "mobile_number": "",
        },
    )


def _admin_disables_the_organisation(client: Any, device: Device) -> Any:
    tenant = device.tenant
    return client.post(
        f"/admin/directory/tenant/{tenant.pk}/change/",
        {
            "name": tenant.name,
            "time_zone": tenant.time_zone,
            "max_devices_per_user": tenant.max_devices_per_user,
            "max_ring_seconds": tenant.max_ring_seconds,
            "allowed_registration_networks": "[]",
            "default_transport_policy": tenant.default_transport_policy,
        },
    )


@pytest.mark.parametrize(
    "change",
    [
        _admin_deletes_the_device,
        _admin_disables_the_device,
        _admin_deactivates_the_owner,
        _admin_disables_the_organisation,
    ],
)
def test_changes_in_the_console_reach_the_engine_at_once(
    engine: EngineProcess, sip_dir: Path, settings, change: Callable[[Any, Device], Any]
) -> None:
    issued = new_device()
    device = issued.device
    client = _staff_client()
    assert register(engine, sip_dir, device, issued.secret).ok
    assert cached_credentials(engine, account(device)) is not None

    with engine_worker(settings, engine):
        started = time.monotonic()
        response = change(client, device)
        wait_for(lambda: cached_credentials(engine, account(device)) is None, timeout=5)
        forgotten_after = time.monotonic() - started
        again = register(engine, sip_dir, device, issued.secret, expect=401)

    assert response.status_code == 302, response.content.decode()[-2000:]
    assert forgotten_after < 1.0
    assert again.ok, again.output


def test_forgetting_retries_while_the_engine_is_down(settings) -> None:
    from pbx.engine.client import EngineUnavailable
    from pbx.engine.tasks import forget_credentials

    settings.PBX_ENGINE_RPC_URL = f"http://127.0.0.1:{free_port()}/RPC"
    with pytest.raises(EngineUnavailable):
        forget_credentials.run(["dp0000000000@org.pbx.test"])
    assert forget_credentials.autoretry_for == (EngineUnavailable,)
    assert forget_credentials.max_retries is None


def test_a_refresh_is_reported_again_once_a_third_of_its_expiry_has_passed(
    engine: EngineProcess, sip_dir: Path
) -> None:
    """Expires 30 (the registrar's minimum): refreshes within 10 s of the last report are
    withheld, the first one after is reported and moves Django's expires_at on."""
    issued = new_device()
    device = issued.device
    phone = {"local_port": free_port(), "expires": 30}
    assert register(engine, sip_dir, device, issued.secret, **phone).ok
    first = wait_for(lambda: Registration.objects.filter(device=device).first())
    assert register(engine, sip_dir, device, issued.secret, **phone).ok
    time.sleep(0.5)
    assert Registration.objects.get(device=device).updated_at == first.updated_at

    # htable expiry counts whole seconds: 10 s after the report is up to 11 s
    time.sleep(max(0.0, 11.3 - (time.time() - first.updated_at.timestamp())))
    assert register(engine, sip_dir, device, issued.secret, **phone).ok

    refreshed = wait_for(
        lambda: Registration.objects.filter(device=device, updated_at__gt=first.updated_at).first()
    )
    assert refreshed.expires_at > first.expires_at


def test_a_registration_the_engine_dropped_is_reported_when_the_phone_returns(
    engine: EngineProcess, sip_dir: Path
) -> None:
    """Django dropped the device's registration (here and with ul.rm in the engine): the same
    REGISTER as before must reach Django again."""
    from pbx.engine.client import KamailioJsonRpc

    issued = new_device()
    device = issued.device
    phone = {"local_port": free_port()}
    assert register(engine, sip_dir, device, issued.secret, **phone).ok
    wait_for(lambda: Registration.objects.filter(device=device).exists())
    Registration.objects.filter(device=device).delete()
    assert KamailioJsonRpc(engine.rpc_url).drop_registrations(aor=account(device))

    assert register(engine, sip_dir, device, issued.secret, **phone).ok

    wait_for(lambda: Registration.objects.filter(device=device).exists())
