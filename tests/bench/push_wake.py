"""Push wake-up latency through the whole chain, on loopback: a sipp caller's INVITE ->
Kamailio -> route decision (Django under uvicorn) -> Celery worker (push queue) -> the APNs
request arriving at a local fake (HTTP/2, TLS); then the woken app's REGISTER -> Kamailio ->
the INVITE reaching the app. Timestamps come from sipp's message logs and the fake."""

import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from pbx.engine.process import EngineProcess, free_port, postgres_url, start_engine
from tests import sip
from tests.bench.sip_load import ROOT, bench_env, start_engine_api

_SENT = re.compile(
    r"-{10,} (?P<at>\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+)\s*\n"
    r"\S+ message (?P<dir>sent|received)[^\n]*\n\s*\n(?P<first>[^\r\n]+)"
)


def _messages(log: Path, direction: str, method: str) -> list[float]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [
        datetime.strptime(" ".join(m["at"].split()), "%Y-%m-%d %H:%M:%S.%f").timestamp()  # noqa: DTZ007 - sipp's local time, compared with time.time() on the same machine
        for m in _SENT.finditer(text)
        if m["dir"] == direction and m["first"].startswith(method + " ")
    ]


def _start_worker(
    db_name: str, env_extra: dict[str, str], workdir: Path
) -> subprocess.Popen[bytes]:
    env = bench_env(db_name, env_extra)
    return subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "pbx",
            "worker",
            "-Q",
            "push",
            "-P",
            "solo",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=(workdir / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def push_wake_latencies(calls: int = 40, warmup: int = 1) -> dict[str, list[float]]:
    """Milliseconds per call: INVITE sent -> push at the provider, REGISTER sent -> INVITE.
    The first `warmup` calls are not counted: the worker's first push opens the HTTP/2
    connection and signs the provider token (about 150 ms once per worker process)."""
    from django.conf import settings
    from django.db import connection

    from devices import services
    from devices.models import Device, Registration
    from devices.push import bindings
    from pbx.engine.client import KamailioJsonRpc
    from routing.services import routing_document_set
    from tests import sip_calls
    from tests.factories import ExtensionFactory, TenantFactory, UserFactory
    from tests.fakes.apns import FakeApns

    tenant = TenantFactory()
    callee = UserFactory(tenant=tenant)
    ExtensionFactory(owner=callee, number="201")
    caller = services.device_create(
        user=UserFactory(tenant=tenant), kind=Device.Kind.SOFTPHONE, label="Calls"
    )
    mobile = services.device_create(user=callee, kind=Device.Kind.MOBILE_APP, label="Sleeps")
    bindings.push_binding_register(
        device=mobile.device, provider="apns", token="ab" * 32, app_id="com.example.phone"
    )
    routing_document_set(
        user=callee,
        document={
            "plans": [
                {
                    "name": "p",
                    "stages": [
                        {
                            "seconds": 10,
                            "mode": "add",
                            "targets": [{"type": "device", "device_id": mobile.device.pk}],
                        }
                    ],
                    "final": {"action": "voicemail"},
                }
            ],
            "default_plan": "p",
        },
    )
    domain = tenant.sip_domain
    aor = f"{mobile.device.sip_username}@{domain}"
    invite_to_push: list[float] = []
    register_to_invite: list[float] = []
    with TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        fake = FakeApns(workdir).start()
        env = {
            "PBX_APNS_KEY_FILE": str(fake.key_file()),
            "PBX_APNS_KEY_ID": fake.key_id,
            "PBX_APNS_TEAM_ID": fake.team_id,
            "PBX_APNS_URL": fake.url,
            "PBX_APNS_CA_FILE": str(fake.cert_path),
        }
        db_name = str(connection.settings_dict["NAME"])
        # the engine's decisions from the engine API, as in production
        django, django_url = start_engine_api(db_name, workdir, env)
        worker = _start_worker(db_name, env, workdir)
        uas_port = free_port()
        (workdir / "app.xml").write_text(sip_calls.device_scenario("answer", answer_ms=0))
        app = subprocess.Popen(  # noqa: S603 - the woken app, answering every call
            [
                sip.SIPP,
                "-sf",
                "app.xml",
                "-i",
                "127.0.0.1",
                "-p",
                str(uas_port),
                "-nostdin",
                "-trace_msg",
                "-message_file",
                "app-messages.log",
            ],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        engine: EngineProcess | None = None
        try:
            engine = start_engine(
                db_url=postgres_url(connection.settings_dict),
                django_url=django_url,
                token=settings.PBX_ENGINE_TOKEN,
                workers=4,
                log_path=workdir / "engine.log",
            )
            client = KamailioJsonRpc(engine.rpc_url)
            time.sleep(2.0)  # the worker connects to the broker
            for number in range(calls + warmup):
                calldir = workdir / f"call-{number}"
                calldir.mkdir()

                def woken(_request: object, calldir: Path = calldir) -> None:
                    sip_calls.register_contact(
                        engine,
                        calldir,
                        username=mobile.device.sip_username,
                        domain=domain,
                        secret=mobile.secret,
                        contact_port=uas_port,
                    )

                fake.on_send = woken
                pushes_before = len(fake.requests)
                result = sip.run_sipp(
                    engine,
                    sip_calls.caller_scenario(
                        username=caller.device.sip_username,
                        secret=caller.secret,
                        domain=domain,
                        called="201",
                    ),
                    calldir,
                    timeout=20,
                    wait_ms=15000,
                )
                if result.ok and len(fake.requests) > pushes_before and number >= warmup:
                    logs = list(calldir.glob("*-messages.log"))
                    invites = [at for log in logs for at in _messages(log, "sent", "INVITE")]
                    registers = [at for log in logs for at in _messages(log, "sent", "REGISTER")]
                    invite_to_push.append((fake.requests[pushes_before].at - max(invites)) * 1000)
                    app_invites = _messages(workdir / "app-messages.log", "received", "INVITE")
                    woken = max(registers) if registers else None
                    after = [at for at in app_invites if woken and at >= woken]
                    if after and woken:
                        register_to_invite.append((after[0] - woken) * 1000)
                # The app goes back to sleep before the next call (once Django has heard of
                # its registration: a late event must not bring it back online).
                deadline = time.monotonic() + 2
                while (
                    not Registration.objects.filter(device=mobile.device).exists()
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.02)
                client.drop_registrations(aor=aor)
                Registration.objects.filter(device=mobile.device).delete()
                time.sleep(0.2)
        finally:
            if engine is not None:
                engine.stop()
            app.terminate()
            worker.terminate()
            worker.wait(timeout=10)
            django.terminate()
            fake.on_send = None
            fake.stop()
    return {"invite_to_push": invite_to_push, "register_to_invite": register_to_invite}
