"""A small office for call tests: a called person (201), a caller (202), their devices played by
sipp, and colleagues with extensions of their own."""

import socket
import time
from collections.abc import Callable
from pathlib import Path

from devices import services
from devices.models import Device, Registration
from devices.services import IssuedCredentials
from pbx.directory.models import User
from pbx.engine.process import EngineProcess, free_port
from tests import sip_calls as sip
from tests.factories import ExtensionFactory, TenantFactory, UserFactory


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
        self.tenant = tenant
        self.domain = tenant.sip_domain
        self.sockets: list[socket.socket] = []
        self.callee: User = UserFactory(tenant=tenant)
        ExtensionFactory(owner=self.callee, number="201")
        caller = UserFactory(tenant=tenant)
        ExtensionFactory(owner=caller, number="202")
        issued = services.device_create(user=caller, kind=Device.Kind.SOFTPHONE, label="Caller")
        self.caller_username, self.caller_secret = issued.device.sip_username, issued.secret

    def device(
        self,
        kind: str,
        label: str,
        behaviour: str,
        *,
        django_up: bool = True,
        owner: User | None = None,
        scenario: str | None = None,
        **options: int,
    ) -> sip.Device:
        """A device of the called person, registered with a sipp peer that acts as `behaviour`
        (or plays `scenario`). With Django down the engine still takes the REGISTER, but no
        event reaches Django."""
        issued = services.device_create(user=owner or self.callee, kind=kind, label=label)
        peer = sip.start_device(
            self.engine,
            self.workdir,
            label,
            scenario or sip.device_scenario(behaviour, **options),
        )
        self._register(issued, peer.port, django_up=django_up)
        return peer

    def _register(self, issued: IssuedCredentials, port: int, *, django_up: bool = True) -> None:
        registered = sip.register_contact(
            self.engine,
            self.workdir,
            username=issued.device.sip_username,
            domain=self.domain,
            secret=issued.secret,
            contact_port=port,
        )
        assert registered.ok, registered.output
        if django_up:
            wait_for(lambda: Registration.objects.filter(device=issued.device).exists())

    def colleague(self, number: str, name: str) -> User:
        person: User = UserFactory(tenant=self.tenant, full_name=name)
        ExtensionFactory(owner=person, number=number, display_name=name)
        return person

    def vanished_device(self, kind: str, label: str, *, silent: bool) -> int:
        """A device registered but gone (battery dead, network lost): nothing listens at its
        contact (`silent`: a socket takes the datagrams and never answers). Its device id."""
        issued = services.device_create(user=self.callee, kind=kind, label=label)
        if silent:
            sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sink.bind(("127.0.0.1", 0))
            self.sockets.append(sink)
            port = sink.getsockname()[1]
        else:
            port = free_port()
        self._register(issued, port)
        return issued.device.pk

    def caller_scenario(
        self, *, expect: int = 200, secret: str | None = None, called: str = "201"
    ) -> str:
        """The caller (202) dialling `called` (201), with its secret or `secret`."""
        return sip.caller_scenario(
            username=self.caller_username,
            secret=self.caller_secret if secret is None else secret,
            domain=self.domain,
            called=called,
            expect=expect,
        )

    def register_caller(self, *, source: str = "127.0.0.1") -> sip.SippResult:
        """The caller's device registers from `source` (the engine then knows that address)."""
        return sip.register_contact(
            self.engine,
            self.workdir,
            username=self.caller_username,
            domain=self.domain,
            secret=self.caller_secret,
            contact_port=free_port(source),
            source=source,
        )

    def call(self, *, expect: int = 200, source: str = "127.0.0.1") -> tuple[sip.SippResult, float]:
        started = time.time()
        result = sip.run_sipp(
            self.engine,
            self.caller_scenario(expect=expect),
            self.workdir,
            timeout=60,
            wait_ms=40000,
            source=source,
        )
        return result, started


def plan(*stages: tuple[int, str, list[int]], final: dict | None = None) -> dict:
    return {
        "plans": [
            {
                "name": "p",
                "stages": [
                    {
                        "seconds": s,
                        "mode": m,
                        "targets": [{"type": "device", "device_id": d} for d in ids],
                    }
                    for s, m, ids in stages
                ],
                "final": final or {"action": "voicemail"},
            }
        ],
        "default_plan": "p",
    }


def device_id(office: Office, label: str) -> int:
    return Device.objects.get(user=office.callee, label=label).pk
