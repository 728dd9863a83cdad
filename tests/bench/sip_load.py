"""SIP load through the real engine, next to Kamailio alone on the same machine in the same run.

REGISTER with digest authentication: ours reads HA1 from PostgreSQL (the `kamailio_subscriber`
view) and queues an event for Django per REGISTER; Kamailio alone checks the HA1 from memory.
Calls: ours asks Django for a route decision per INVITE (async worker + HTTP); Kamailio alone
looks the callee up in memory. sipp generates the load on loopback and shares the two cores.
"""

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
from django.conf import settings

from pbx.engine.media_relay import MediaRelaySettings, start_media_relay
from pbx.engine.process import (
    EngineProcess,
    free_port,
    free_udp_range,
    postgres_url,
    start_engine,
)
from tests import sip

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

REGISTER_LOAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register load">
  <send><![CDATA[

      REGISTER sip:[domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[domain]>;tag=[call_number]
      To: <sip:[service]@[domain]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[service]@[local_ip]:[local_port]>
      Expires: 600
      Content-Length: 0

  ]]></send>
  <recv response="401" auth="true"/>
  <send><![CDATA[

      REGISTER sip:[domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[domain]>;tag=[call_number]
      To: <sip:[service]@[domain]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[service]@[local_ip]:[local_port]>
      [authentication]
      Expires: 600
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"""


@dataclass(frozen=True)
class LoadResult:
    name: str
    per_second: int  # highest offered rate sustained at >= 99.5 % success
    success: float


def _successful(output: str) -> int:
    match = re.search(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(match.group(1)) if match else 0


def sustained(
    target: tuple[str, int],
    scenario: str,
    workdir: Path,
    *,
    user: str,
    secret: str,
    domain: str,
    rates: tuple[int, ...] = (1000, 2000, 4000, 6000, 8000, 12000, 16000, 20000),
    seconds: int = 3,
    concurrency: float = 0.25,
) -> tuple[int, float]:
    """The highest offered rate answered at >= 99.5 % success: (rate, success ratio there)."""
    best = (0, 0.0)
    for rate in rates:
        calls = rate * seconds
        ok, _ = sipp_load(
            target,
            scenario,
            workdir,
            user=user,
            secret=secret,
            domain=domain,
            calls=calls,
            rate=rate,
            limit=max(rate // 4, 50),
        )
        ratio = ok / calls
        if ratio < 0.995:
            break
        best = (rate, ratio)
    return best


def sipp_load(
    target: tuple[str, int],
    scenario: str,
    workdir: Path,
    *,
    user: str,
    secret: str,
    domain: str,
    calls: int,
    rate: int,
    limit: int,
) -> tuple[int, float]:
    path = workdir / f"load-{free_port()}.xml"
    path.write_text(scenario)
    args = [
        sip.SIPP,
        f"{target[0]}:{target[1]}",
        "-sf",
        str(path),
        "-s",
        user,
        "-au",
        user,
        "-ap",
        secret,
        "-key",
        "domain",
        domain,
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(limit),
        "-timeout",
        "60s",
        "-nostdin",
        "-recv_timeout",
        "1500",
    ]
    started = time.perf_counter()
    completed = subprocess.run(args, capture_output=True, text=True, timeout=180, check=False)  # noqa: S603
    return _successful(completed.stdout), time.perf_counter() - started


def start_alone(workdir: Path, ha1: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            "/usr/sbin/kamailio",
            "-DD",
            "-E",
            "-f",
            str(HERE / "kamailio-alone.cfg"),
            "-A",
            f"LISTEN_UDP=udp:127.0.0.1:{port}",
            "-A",
            f'BENCH_HA1="{ha1}"',
            "-A",
            "WORKERS=4",
        ],
        stdout=(workdir / "alone.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    time.sleep(1.5)
    return process, port


def bench_env(db_name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process the bench starts: its database, Redis database 14."""
    return (
        dict(os.environ)
        | (extra or {})
        | {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            # The project's own role (deploy/scripts/ensure-database.sh), as Django sees it.
            "DATABASE_URL": postgres_url(settings.DATABASES["default"] | {"NAME": db_name}),
            "REDIS_URL": "redis://127.0.0.1:6379/14",
            "PBX_LOG_LEVEL": "WARNING",
        }
    )


def start_django(
    db_name: str, workdir: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = bench_env(db_name, extra_env)
    process = subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).parent / "uvicorn"),
            "pbx.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=(workdir / "django.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/health/live", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return process, url


def register_rows() -> list[LoadResult]:
    from django.conf import settings
    from django.db import connection

    from devices import services
    from devices.models import Device
    from tests.factories import TenantFactory, UserFactory

    issued = services.device_create(
        user=UserFactory(tenant=TenantFactory()), kind=Device.Kind.DESK_PHONE, label="Load"
    )
    device = issued.device
    domain = device.tenant.sip_domain
    results = []
    with TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        django, django_url = start_django(str(connection.settings_dict["NAME"]), workdir)
        engine: EngineProcess | None = None
        try:
            engine = start_engine(
                db_url=postgres_url(connection.settings_dict),
                django_url=django_url,
                token=settings.PBX_ENGINE_TOKEN,
                workers=4,
                log_path=workdir / "engine.log",
            )
            rate, ratio = sustained(
                (engine.host, engine.port),
                REGISTER_LOAD,
                workdir,
                user=device.sip_username,
                secret=issued.secret,
                domain=domain,
            )
            results.append(
                LoadResult("REGISTER digest: PBX engine (PG auth + events)", rate, ratio)
            )
        finally:
            if engine is not None:
                engine.stop()
            django.terminate()
        alone, port = start_alone(workdir, device.ha1)
        try:
            rate, ratio = sustained(
                ("127.0.0.1", port),
                REGISTER_LOAD,
                workdir,
                user=device.sip_username,
                secret=issued.secret,
                domain=domain,
            )
            results.append(LoadResult("REGISTER digest: Kamailio alone (memory)", rate, ratio))
        finally:
            stop(alone)
    return results


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process the bench started; one still busy after 10 s is killed."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _uas(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A device that answers every call at once, keeping the proxy in the dialog."""
    from tests import sip_calls

    port = free_port()
    scenario = workdir / "answering-device.xml"
    scenario.write_text(sip_calls.device_scenario("answer", answer_ms=0))
    process = subprocess.Popen(  # noqa: S603
        [sip.SIPP, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-nostdin"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=workdir,
    )
    time.sleep(0.3)
    return process, port


def call_rows() -> list[LoadResult]:
    """Calls per second: INVITE with digest auth, answered at once, BYE."""
    from django.conf import settings
    from django.db import connection

    from devices import services
    from devices.models import Device
    from tests import sip_calls
    from tests.factories import ExtensionFactory, TenantFactory, UserFactory

    tenant = TenantFactory()
    callee = UserFactory(tenant=tenant)
    ExtensionFactory(owner=callee, number="201")
    answering = services.device_create(user=callee, kind=Device.Kind.DESK_PHONE, label="Answers")
    calling = services.device_create(
        user=UserFactory(tenant=tenant), kind=Device.Kind.SOFTPHONE, label="Calls"
    )
    domain = tenant.sip_domain
    rates = (50, 100, 200, 400, 600, 800, 1200, 1600, 2400)
    results = []
    with TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        uas, uas_port = _uas(workdir)
        django, django_url = start_django(str(connection.settings_dict["NAME"]), workdir)
        engine: EngineProcess | None = None
        # the product's call path: every call's media anchored by the relay
        low = free_udp_range(2000)
        relay = start_media_relay(
            MediaRelaySettings(port_min=low, port_max=low + 1999, control_port=free_port()),
            log_path=workdir / "rtpengine.log",
        )
        try:
            engine = start_engine(
                db_url=postgres_url(connection.settings_dict),
                django_url=django_url,
                token=settings.PBX_ENGINE_TOKEN,
                workers=4,
                log_path=workdir / "engine.log",
                media_relay=relay.control.socket_spec,
            )
            sip_calls.register_contact(
                engine,
                workdir,
                username=answering.device.sip_username,
                domain=domain,
                secret=answering.secret,
                contact_port=uas_port,
            )
            time.sleep(0.5)  # the registration event reaches Django (route decisions read it)
            scenario = sip_calls.caller_scenario(
                username=calling.device.sip_username,
                secret=calling.secret,
                domain=domain,
                called="201",
            )
            rate, ratio = sustained(
                (engine.host, engine.port),
                scenario,
                workdir,
                user=calling.device.sip_username,
                secret=calling.secret,
                domain=domain,
                rates=rates,
                concurrency=1.0,
            )
            results.append(
                LoadResult(
                    "calls: PBX engine (route decision from Django, media relay)", rate, ratio
                )
            )
        finally:
            if engine is not None:
                engine.stop()
            relay.stop()
            django.terminate()
        alone, port = start_alone(workdir, answering.device.ha1)
        try:
            reference = EngineProcess("127.0.0.1", port, alone, workdir / "alone.log")
            sip_calls.register_contact(
                reference,
                workdir,
                username=answering.device.sip_username,
                domain=domain,
                secret=answering.secret,
                contact_port=uas_port,
            )
            scenario = sip_calls.caller_scenario(
                username=answering.device.sip_username,
                secret=answering.secret,
                domain=domain,
                called=answering.device.sip_username,
            )
            rate, ratio = sustained(
                ("127.0.0.1", port),
                scenario,
                workdir,
                user=answering.device.sip_username,
                secret=answering.secret,
                domain=domain,
                rates=rates,
                concurrency=1.0,
            )
            results.append(LoadResult("calls: Kamailio alone (memory lookup)", rate, ratio))
        finally:
            stop(alone)
            uas.terminate()
    return results
