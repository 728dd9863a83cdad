"""Phones vanish without unregistering: the engine pings every contact and drops the ones that
stop answering, so a vanished phone goes offline and stops being rung."""

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devices import services
from devices.models import Device, Registration
from pbx.engine.client import KamailioJsonRpc
from pbx.engine.process import EngineProcess, free_port, postgres_url, start_engine
from tests import sip_calls as sip
from tests.engine.office import wait_for
from tests.factories import ExtensionFactory, TenantFactory, UserFactory
from tests.sip import SIPP

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

INTERVAL, TIMEOUT = 2, 6  # seconds: ping every 2 s, drop after 6 s without an answer
# usrloc marks a silent contact to expire 10 s later, on its timer: the bound it promises.
DROPPED_WITHIN = TIMEOUT + 10 + 2 * INTERVAL

ANSWERS_PINGS = sip.answering("OPTIONS", "a phone that answers the engine's pings")


@pytest.fixture
def pinging_engine(django_db_setup: None, live_server, tmp_path: Path) -> Iterator[EngineProcess]:
    process = start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=live_server.url,
        token=settings.PBX_ENGINE_TOKEN,
        workers=2,
        log_path=tmp_path / "kamailio-keepalive.log",
        keepalive=(INTERVAL, TIMEOUT),
    )
    yield process
    process.stop()


def _registered_device(engine: EngineProcess, workdir: Path, user, label: str, port: int) -> Device:
    issued = services.device_create(user=user, kind=Device.Kind.SOFTPHONE, label=label)
    result = sip.register_contact(
        engine,
        workdir,
        username=issued.device.sip_username,
        domain=user.tenant.sip_domain,
        secret=issued.secret,
        contact_port=port,
    )
    assert result.ok, result.output
    return issued.device


def test_a_phone_that_stops_answering_pings_is_dropped_and_goes_offline(
    pinging_engine: EngineProcess, tmp_path: Path
) -> None:
    user = UserFactory(tenant=TenantFactory())
    ExtensionFactory(owner=user, number="201")
    live_port = free_port()
    scenario = tmp_path / "pings.xml"
    scenario.write_text(ANSWERS_PINGS)
    responder = subprocess.Popen(  # noqa: S603 - a test runs its own scenario
        [
            SIPP,
            "-sf",
            str(scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(live_port),
            "-m",
            "1000",
            "-nostdin",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        alive = _registered_device(pinging_engine, tmp_path, user, "alive", live_port)
        gone = _registered_device(pinging_engine, tmp_path, user, "gone", free_port())
        wait_for(lambda: Registration.objects.filter(device__in=[alive, gone]).count() == 2)
        started = time.monotonic()
        deadline = started + DROPPED_WITHIN + 3
        while time.monotonic() < deadline:
            if not Registration.objects.filter(device=gone).exists():
                break
            time.sleep(0.2)
        dropped_after = time.monotonic() - started

        assert not Registration.objects.filter(device=gone).exists(), pinging_engine.log()[-3000:]
        assert TIMEOUT <= dropped_after <= DROPPED_WITHIN + 1, dropped_after
        rpc = KamailioJsonRpc(pinging_engine.rpc_url)
        domain = user.tenant.sip_domain
        assert rpc.registrations(aor=f"{gone.sip_username}@{domain}") == []
        # The phone that answers its pings stays registered, in the engine and in Django.
        assert len(rpc.registrations(aor=f"{alive.sip_username}@{domain}")) == 1
        assert Registration.objects.filter(device=alive).count() == 1
        assert "dropped (expired or not answering pings)" in pinging_engine.log()
    finally:
        responder.kill()
        responder.wait()
