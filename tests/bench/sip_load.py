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
    per_second: int  # highest offered rate that passed (PASS criteria), confirmed
    success: float


@dataclass(frozen=True)
class Step:
    """One sipp run at an offered rate, judged by the same criteria for every row."""

    rate: int
    calls: int
    successful: int
    failed: int
    achieved: float  # sipp's cumulative call rate (calls started per second)

    @property
    def success(self) -> float:
        return self.successful / self.calls if self.calls else 0.0

    @property
    def passed(self) -> bool:
        """< 1 % failed and >= 99 % successful. sipp's cumulative call rate (`achieved`) is
        kept but not judged: for calls it counts the hold time too, and every call row failed
        on it at 50 calls/s (a rate measured over the sending period only is still to do)."""
        return (
            self.calls > 0
            and self.failed < 0.01 * self.calls
            and self.successful >= 0.99 * self.calls
        )


def _stat(output: str, label: str) -> float:
    """The cumulative column of one row of sipp's final statistics screen."""
    match = re.search(rf"{label}\s*\|[^|]*\|\s*([\d.]+)", output)
    return float(match.group(1)) if match else 0.0


def sustained(
    target: tuple[str, int],
    scenario: str,
    workdir: Path,
    *,
    user: str,
    secret: str,
    domain: str,
    start: int = 1000,
    ceiling: int = 64000,
    seconds: int = 3,
    bisections: int = 3,
    concurrency: float = 0.25,
) -> tuple[int, float]:
    """The highest offered rate that passes: a ramp that doubles from `start` until a step
    fails, then `bisections` halvings of the interval between the last pass and the first
    failure, then a confirmation run of twice the length at the best rate (a confirmation that
    fails moves the answer down to the last lower rate that passed). (rate, success ratio)."""

    def run(rate: int, length: int = seconds) -> Step:
        return sipp_load(
            target,
            scenario,
            workdir,
            user=user,
            secret=secret,
            domain=domain,
            calls=rate * length,
            rate=rate,
            limit=max(int(rate * concurrency), 50),
        )

    passed: list[Step] = []
    low, high = 0, 0
    rate = start
    while rate <= ceiling:
        step = run(rate)
        if not step.passed:
            high = rate
            break
        passed.append(step)
        low = rate
        rate *= 2
    if high:
        for _ in range(bisections):
            middle = (low + high) // 2
            if middle in (low, high):
                break
            step = run(middle)
            if step.passed:
                passed.append(step)
                low = middle
            else:
                high = middle
    for candidate in sorted((s.rate for s in passed), reverse=True):
        confirmation = run(candidate, seconds * 2)
        if confirmation.passed:
            return candidate, confirmation.success
    return 0, 0.0


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
) -> Step:
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
        # large socket buffers: at thousands of requests per second the kernel's default
        # drops datagrams in sipp's own socket, and the harness would measure itself
        "-buff_size",
        str(4 * 1024 * 1024),
        "-timeout",
        "60s",
        "-nostdin",
        "-recv_timeout",
        "1500",
    ]
    completed = subprocess.run(args, capture_output=True, text=True, timeout=180, check=False)  # noqa: S603
    output = completed.stdout
    return Step(
        rate=rate,
        calls=calls,
        successful=int(_stat(output, "Successful call")),
        failed=int(_stat(output, "Failed call")),
        achieved=_stat(output, "Call Rate"),
    )


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
                start=50,
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
                start=50,
                concurrency=1.0,
            )
            results.append(LoadResult("calls: Kamailio alone (memory lookup)", rate, ratio))
        finally:
            stop(alone)
            uas.terminate()
    return results
