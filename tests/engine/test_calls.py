"""Calls through the real engine: Django's decision carried out with real SIP devices (sipp)."""

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devices import services
from devices.models import Device, Registration
from pbx.directory.models import User
from pbx.engine.process import EngineProcess
from tests import sip
from tests.factories import ExtensionFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def wait_for(condition: Callable[[], object], timeout: float = 8.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class Office:
    """A tenant with a called person (extension 201) and a caller (extension 202)."""

    def __init__(self, engine: EngineProcess, workdir: Path) -> None:
        self.engine, self.workdir = engine, workdir
        tenant = TenantFactory()
        self.domain = tenant.sip_domain
        self.callee: User = UserFactory(tenant=tenant)
        ExtensionFactory(owner=self.callee, number="201")
        caller = UserFactory(tenant=tenant)
        ExtensionFactory(owner=caller, number="202")
        issued = services.device_create(user=caller, kind=Device.Kind.SOFTPHONE, label="Caller")
        self.caller_username, self.caller_secret = issued.device.sip_username, issued.secret

    def device(self, kind: str, label: str, behaviour: str, **options: int) -> sip.Device:
        issued = services.device_create(user=self.callee, kind=kind, label=label)
        peer = sip.start_device(self.engine, self.workdir, label, sip.device_scenario(behaviour, **options))
        registered = sip.register_contact(
            self.engine,
            self.workdir,
            username=issued.device.sip_username,
            domain=self.domain,
            secret=issued.secret,
            contact_port=peer.port,
        )
        assert registered.ok, registered.output
        wait_for(lambda: Registration.objects.filter(device=issued.device).exists())
        return peer

    def call(self, *, expect: int = 200) -> tuple[sip.SippResult, float]:
        started = time.time()
        result = sip.run_sipp(
            self.engine,
            sip.caller_scenario(
                username=self.caller_username,
                secret=self.caller_secret,
                domain=self.domain,
                called="201",
                expect=expect,
            ),
            self.workdir,
            timeout=60,
        )
        return result, started


def test_all_devices_ring_one_answers_the_others_are_cancelled(engine: EngineProcess, sip_dir: Path) -> None:
    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "ring")
    laptop = office.device(Device.Kind.SOFTPHONE, "laptop", "answer", answer_ms=800)
    mobile = office.device(Device.Kind.MOBILE_APP, "mobile", "ring")

    result, _ = office.call()

    assert result.ok, f"{result.output}\n{[(p.name, p.port, p.received()) for p in (desk, laptop, mobile)]}"
    for peer in (desk, laptop, mobile):
        assert peer.wait() == 0, (peer.name, peer.received())
    invites = [peer.first("INVITE") for peer in (desk, laptop, mobile)]
    assert all(invites), invites
    assert (max(invites) - min(invites)).total_seconds() < 0.5  # in parallel
    assert desk.first("CANCEL") is not None
    assert mobile.first("CANCEL") is not None
    assert laptop.first("BYE") is not None
