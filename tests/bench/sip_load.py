"""SIP load through the real engine, next to Kamailio alone on the same machine in the same run.

REGISTER with digest authentication from many accounts: ours reads the credentials the engine
way (kamailio_subscriber) and reports registrations to Django; Kamailio alone checks HA1s from
an htable loaded from the same accounts. Calls: a caller's authenticated INVITE to a person's
extension forks to their 3 devices (one answers, two ring and are cancelled), then ACK and BYE;
ours asks Django for the route decision and anchors media in rtpengine; the references fork the
same way from memory, with and without the relay. sipp shares the two cores with everything.
"""

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
from django.conf import settings
from django.db import connection

from pbx.engine.client import KamailioJsonRpc
from pbx.engine.media_relay import MediaRelayProcess, MediaRelaySettings, start_media_relay
from pbx.engine.process import (
    EngineDecisions,
    EngineProcess,
    free_port,
    free_udp_range,
    postgres_url,
    start_engine,
)
from tests import sip, sip_calls
from tests.bench.harness import (
    BUFFER_BYTES,
    REGISTER_LOAD,
    Processes,
    Step,
    Sustained,
    call_load,
    credentials,
    run_step,
    sustained,
)
from tests.bench.population import Account, Population, injection_file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORKERS = 4
MEMORY_MB = 1024  # Kamailio's shared memory, the same for every row
RELAY_PORTS = 20000  # 4 per call leg, and ports are held by calls still settling


@dataclass(frozen=True)
class LoadRow:
    """One figure of the SIP table; `reference` names the row it is judged against."""

    name: str
    devices: int
    result: Sustained
    reference: str = ""
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> int:
        return self.result.rate


@dataclass(frozen=True)
class MemoryRow:
    """Memory per registered device: what registering `devices` more added, per device."""

    name: str
    devices: int
    bytes_per_device: float


@dataclass(frozen=True)
class DelayRow:
    """Post-dial delay (authenticated INVITE sent -> first 180) at one offered rate."""

    name: str
    rate: int
    calls: int
    p50_ms: float
    p99_ms: float
    # the engine's own count of how long calls waited for their decision (queue included),
    # as the upper bound of the bucket each quantile falls in; None: not measured
    decision_p50_ms: float | None = None
    decision_p99_ms: float | None = None


def bench_env(db_name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process the bench starts: its database, Redis database 14."""
    return (
        dict(os.environ)
        | (extra or {})
        | {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": postgres_url(settings.DATABASES["default"] | {"NAME": db_name}),
            "REDIS_URL": "redis://127.0.0.1:6379/14",
            "PBX_LOG_LEVEL": "WARNING",
            "PBX_DEBUG": "0",  # as in production: no query logging, no debug pages
        }
    )


def start_django(
    db_name: str, workdir: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
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
        env=bench_env(db_name, extra_env),
        stdout=(workdir / "django.log").open("ab"),
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


def start_engine_api(
    db_name: str, workdir: Path, extra_env: dict[str, str] | None = None, processes: int = 2
) -> tuple[subprocess.Popen[bytes], str]:
    """The engine's API in processes of its own (pbx.internal.server)."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "pbx.internal.server",
            "--port",
            str(port),
            "--processes",
            str(processes),
        ],
        cwd=ROOT,
        env=bench_env(db_name, extra_env),
        stdout=(workdir / "engine-api.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.post(f"{url}/internal/engine/events", timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return process, url


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process the bench started; one still busy after 10 s is killed."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Target:
    """What a row sends its load to, and how to settle it between steps."""

    host: str
    port: int
    processes: Processes
    transactions: Callable[[], int]  # the engine's work in progress (tm.stats, event queue)
    shared_memory: Callable[[], int]  # bytes of Kamailio's shared memory in use (core.shmmem)
    relay: MediaRelayProcess | None = None
    devices: "Devices | None" = None
    # the engine's decision-time buckets (stats decision_ms_le_<n>, decision_ms_count)
    decision_times: Callable[[], dict[str, int]] | None = None

    def settle(self, timeout: float = 30.0) -> None:
        """Calls sipp gave up on (a step past the ceiling) still hold transactions and relay
        ports: wait for them to end, then delete what the relay still holds, so every step
        starts from the same state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.transactions() > 0:
            time.sleep(0.5)
        if self.relay is not None:
            for call_id in self.relay.control.calls():
                self.relay.control.command("delete", **{"call-id": call_id})
        if self.devices is not None:
            self.devices.restart()
            self.processes.roots["sipp devices"] = [p.pid for p in self.devices.processes]
        time.sleep(0.5)


def _relay(workdir: Path, name: str) -> MediaRelayProcess:
    low = free_udp_range(RELAY_PORTS)
    return start_media_relay(
        MediaRelaySettings(port_min=low, port_max=low + RELAY_PORTS - 1, control_port=free_port()),
        log_path=workdir / f"{name}.log",
    )


@contextmanager
def pbx_engine(
    workdir: Path, *, media: bool, engine_api: bool = True, in_engine: bool = False
) -> Iterator[Target]:
    """The engine, with the relay when `media`, deciding calls itself when `in_engine`
    (deploy/kamailio/decide.py) and otherwise asking its own API processes
    (pbx.internal.server) or, without `engine_api`, the web tier (one ASGI worker, as the
    engine did before)."""
    db_name = str(connection.settings_dict["NAME"])
    django, django_url = (start_engine_api if engine_api else start_django)(db_name, workdir)
    relay = _relay(workdir, "rtpengine") if media else None
    engine: EngineProcess | None = None
    try:
        engine = start_engine(
            db_url=postgres_url(connection.settings_dict),
            django_url=django_url,
            token=settings.PBX_ENGINE_TOKEN,
            workers=WORKERS,
            log_path=workdir / "engine.log",
            media_relay=relay.control.socket_spec if relay else "",
            memory_mb=MEMORY_MB,
            # the bench's own cache is its children's (Redis database 14, bench_env)
            decisions=EngineDecisions.from_cache_settings(settings.CACHES) if in_engine else None,
        )
        processes = Processes()
        processes.add("kamailio", engine.process.pid)
        processes.add("django", django.pid)
        if relay:
            processes.add("rtpengine", relay.process.pid)
        rpc_url = engine.rpc_url

        def transactions() -> int:
            """Transactions in progress, and events the engine has yet to report."""
            body = {"jsonrpc": "2.0", "method": "tm.stats", "id": 1}
            current = int(httpx.post(rpc_url, json=body, timeout=5).json()["result"]["current"])
            body = {
                "jsonrpc": "2.0",
                "method": "mqueue.get_size",
                "params": ["engine_events"],
                "id": 2,
            }
            queued = httpx.post(rpc_url, json=body, timeout=5).json().get("result") or {}
            return current + int(queued.get("size", 0))

        def shared_memory() -> int:
            body = {"jsonrpc": "2.0", "method": "core.shmmem", "id": 3}
            return int(httpx.post(rpc_url, json=body, timeout=5).json()["result"]["used"])

        def decision_times() -> dict[str, int]:
            found = KamailioJsonRpc(rpc_url, timeout=5).statistics("decision_ms_")
            return {name.removeprefix("decision_ms_"): value for name, value in found.items()}

        yield Target(
            engine.host,
            engine.port,
            processes,
            transactions,
            shared_memory,
            relay,
            decision_times=decision_times,
        )
    finally:
        if engine is not None:
            engine.stop()
        if relay is not None:
            relay.stop()
        stop(django)


def _alone_tables(accounts: list[Account], people: list[list[Account]]) -> str:
    """The reference's htables, as tables in the bench's database (htable's own schema)."""
    with connection.cursor() as cursor:
        for table in ("bench_alone_credentials", "bench_alone_callees"):
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (id serial PRIMARY KEY, "
                "key_name varchar(256) NOT NULL, key_type integer NOT NULL DEFAULT 0, "
                "value_type integer NOT NULL DEFAULT 0, key_value varchar(512) NOT NULL, "
                "expires integer NOT NULL DEFAULT 0)"
            )
            cursor.execute(f"TRUNCATE {table}")
        cursor.executemany(
            "INSERT INTO bench_alone_credentials (key_name, key_value) VALUES (%s, %s)",
            [(f"{a.username}@{a.domain}", a.ha1) for a in accounts],
        )
        cursor.executemany(
            "INSERT INTO bench_alone_callees (key_name, key_value) VALUES (%s, %s)",
            [
                (f"{person[0].extension}@{person[0].domain}", "|".join(a.username for a in person))
                for person in people
            ],
        )
    return postgres_url(connection.settings_dict)


@contextmanager
def kamailio_alone(workdir: Path, population: Population, *, media: bool) -> Iterator[Target]:
    db_url = _alone_tables(population.accounts, population.people)
    relay = _relay(workdir, "alone-rtpengine") if media else None
    port = free_port()
    ctl = workdir / f"alone-{port}.ctl"
    args = [
        "/usr/sbin/kamailio",
        "-DD",
        "-E",
        "-m",
        str(MEMORY_MB),
        "-M",
        "16",
        "-f",
        str(HERE / "kamailio-alone.cfg"),
        "-A",
        f"LISTEN_UDP=udp:127.0.0.1:{port}",
        "-A",
        f'DBURL="{db_url}"',
        "-A",
        f"WORKERS={WORKERS}",
        "-A",
        f'CTL_SOCKET="unix:{ctl}"',
    ]
    if relay:
        args += ["-A", "WITH_MEDIA_RELAY", "-A", f'MEDIA_RELAY="{relay.control.socket_spec}"']
    process = subprocess.Popen(  # noqa: S603
        args, stdout=(workdir / "alone.log").open("ab"), stderr=subprocess.STDOUT
    )
    try:
        time.sleep(1.5)
        if process.poll() is not None:
            raise RuntimeError((workdir / "alone.log").read_text()[-3000:])
        processes = Processes()
        processes.add("kamailio", process.pid)
        if relay:
            processes.add("rtpengine", relay.process.pid)

        def kamcmd(command: str, field: str) -> int:
            out = subprocess.run(  # noqa: S603
                ["/usr/sbin/kamcmd", "-s", f"unix:{ctl}", command],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            match = re.search(rf"{field}:\s*(\d+)", out)
            return int(match.group(1)) if match else 0

        yield Target(
            "127.0.0.1",
            port,
            processes,
            lambda: kamcmd("tm.stats", "current"),
            lambda: kamcmd("core.shmmem", "used"),
            relay,
        )
    finally:
        stop(process)
        if relay is not None:
            relay.stop()


def _register_rows(accounts: list[Account], contact: str) -> list[tuple[str, ...]]:
    return [(a.username, a.domain, credentials(a.username, a.secret), contact) for a in accounts]


def register_all(
    target: Target,
    workdir: Path,
    rows: list[tuple[str, ...]],
    *,
    name: str,
    local_port: int | None = None,
) -> None:
    """Register every account once (not measured), at a rate any engine here sustains, from
    `local_port` (default: any free one)."""
    injection = injection_file(workdir / f"{name}.csv", rows)
    rate = 400
    step = run_step(
        (target.host, target.port),
        REGISTER_LOAD,
        injection,
        workdir,
        rate=rate,
        seconds=len(rows) / rate,
        concurrency=1.0,
        local_port=local_port,
    )
    if step.successful < len(rows):
        raise RuntimeError(f"{name}: only {step.successful} of {len(rows)} devices registered")


def _measure(
    target: Target,
    scenario: str,
    injection: Path,
    workdir: Path,
    *,
    start: int,
    concurrency: float,
    log: Callable[[str], None],
    local_port: int | None = None,
) -> Sustained:
    def run(rate: int, seconds: float) -> Step:
        target.settle()
        return run_step(
            (target.host, target.port),
            scenario,
            injection,
            workdir,
            rate=rate,
            seconds=seconds,
            concurrency=concurrency,
            processes=target.processes,
            local_port=local_port,
        )

    return sustained(run, start=start, log=log)


def _row(name: str, devices: int, result: Sustained, reference: str = "") -> LoadRow:
    cpu = result.confirmation.cpu if result.confirmation else {}
    return LoadRow(name, devices, result, reference, cpu)


def _postgres_bytes_per_device() -> float:
    """Rows and indexes a registered device costs in PostgreSQL: its device row, Django's
    registration and the engine's location row (usrloc writes it back on its timer)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size('devices_device')"
            " + pg_total_relation_size('devices_registration')"
            " + pg_total_relation_size('kamailio_location')"
        )
        total = float(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM devices_device")
        devices = int(cursor.fetchone()[0])
    return total / devices if devices else 0.0


def register_rows(
    population: Population, log: Callable[[str], None]
) -> tuple[list[LoadRow], list[MemoryRow]]:
    """REGISTER/s at 1,000 and at all of the population's devices, ours and Kamailio alone;
    and the memory each registered device costs."""
    accounts = population.accounts
    sizes = [size for size in (1000, len(accounts)) if size <= len(accounts)]
    rows: list[LoadRow] = []
    memory: list[MemoryRow] = []
    with TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for label, engine in (
            ("PBX engine", lambda: pbx_engine(workdir, media=False)),
            ("Kamailio alone", lambda: kamailio_alone(workdir, population, media=False)),
        ):
            with engine() as target:
                # The phones keep their address from step to step, as phones do: what is
                # measured is REGISTERs refreshing bindings. (From a new port every step,
                # every phone's first REGISTER of the step is a moved binding, reported to
                # Django: 1,000 phones moving every 6 s is no registrar's steady state.)
                phones = free_port()
                registered = 0
                for size in sizes:
                    rows_in = _register_rows(accounts[:size], "127.0.0.1:5999")
                    if registered < size:
                        before = target.shared_memory()
                        register_all(
                            target,
                            workdir,
                            rows_in[registered:],
                            name=f"pre-{size}",
                            local_port=phones,
                        )
                        target.settle()
                        if registered:
                            memory.append(
                                MemoryRow(
                                    f"Kamailio shared memory: {label}",
                                    size - registered,
                                    (target.shared_memory() - before) / (size - registered),
                                )
                            )
                        registered = size
                    log(f"  REGISTER, {label}, {size} devices")
                    injection = injection_file(workdir / f"register-{size}.csv", rows_in)
                    result = _measure(
                        target,
                        REGISTER_LOAD,
                        injection,
                        workdir,
                        start=500,
                        concurrency=0.5,
                        log=log,
                        local_port=phones,
                    )
                    reference = f"REGISTER: Kamailio alone, {size} devices"
                    name = f"REGISTER: {label}, {size} devices"
                    rows.append(_row(name, size, result, "" if name == reference else reference))
                if label == "PBX engine":
                    memory.append(
                        MemoryRow(
                            "PostgreSQL: device, registration, location rows",
                            registered,
                            _postgres_bytes_per_device(),
                        )
                    )
    return rows, memory


@dataclass
class Devices:
    """The 3 devices of every callee, as 3 sipp processes: one answers after 20 ms, two ring
    until cancelled. Every callee's device n registers its contact at port n."""

    workdir: Path
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    SCENARIOS = (("answer", 20), ("ring", 0), ("ring", 0))

    def start(self) -> "Devices":
        if not self.ports:
            self.ports = [free_port() for _ in self.SCENARIOS]
        for n, (behaviour, answer_ms) in enumerate(self.SCENARIOS):
            path = self.workdir / f"device{n}.xml"
            path.write_text(sip_calls.device_scenario(behaviour, answer_ms=answer_ms))
            self.processes.append(
                subprocess.Popen(  # noqa: S603
                    [
                        sip.SIPP,
                        "-sf",
                        str(path),
                        "-i",
                        "127.0.0.1",
                        "-p",
                        str(self.ports[n]),
                        "-buff_size",
                        str(BUFFER_BYTES),
                        "-nostdin",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=self.workdir,
                )
            )
        time.sleep(0.3)
        return self

    def stop(self) -> None:
        for process in self.processes:
            stop(process)
        self.processes = []

    def restart(self) -> None:
        """Calls abandoned by an overloaded step stay open in sipp (a ringing device waits for
        a CANCEL that never comes, an answer is retransmitted): start afresh on the same ports."""
        self.stop()
        self.start()


def _warm_profiles(callees: Population) -> None:
    """Compile every callee's routing profile into the cache, as the first call to each
    would: steady state is a warm cache (a profile is compiled again only when it changes)."""
    from pbx.directory.models import User
    from routing.profiles import routing_profile_for

    for user in User.objects.filter(pk__in={p[0].person_id for p in callees.people}):
        assert user.tenant_id is not None
        routing_profile_for(user_id=user.pk, tenant_id=user.tenant_id)


def _wait_registered(usernames: list[str], timeout: float = 30.0) -> None:
    """Route decisions read live registrations from Django: wait until it has them all."""
    from devices.models import Registration

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = Registration.objects.filter(device__sip_username__in=usernames).count()
        if count >= len(usernames):
            return
        time.sleep(0.2)
    raise RuntimeError(f"Django recorded {count} of {len(usernames)} registrations")


@dataclass(frozen=True)
class CallRow:
    """One engine the call rows measure."""

    name: str
    start: Callable[[Path, Population], "AbstractContextManager[Target]"]
    delay: str = ""  # the post-dial delay row's name (empty: not measured for this one)
    crowded: str = ""  # measured again once a crowd of devices is registered too, as this row


CALL_REFERENCE = "calls: Kamailio alone, fork to 3"
CROWDED_REFERENCE = "calls: Kamailio alone"
CALL_ENGINES = (
    CallRow(
        "calls: PBX engine (in-engine decisions, relay), fork to 3",
        lambda workdir, _: pbx_engine(workdir, media=True, in_engine=True),
        "post-dial delay: PBX engine",
        "calls: PBX engine (in-engine)",
    ),
    CallRow(
        "calls: PBX engine, decisions from the engine API",
        lambda workdir, _: pbx_engine(workdir, media=True),
    ),
    CallRow(
        "calls: PBX engine, decisions from the web tier (before)",
        lambda workdir, _: pbx_engine(workdir, media=True, engine_api=False),
    ),
    CallRow(
        "calls: Kamailio alone + media relay, fork to 3",
        lambda workdir, callees: kamailio_alone(workdir, callees, media=True),
    ),
    CallRow(
        CALL_REFERENCE,
        lambda workdir, callees: kamailio_alone(workdir, callees, media=False),
        "post-dial delay: Kamailio alone",
        CROWDED_REFERENCE,
    ),
)


def decision_quantile(before: dict[str, int], after: dict[str, int], q: float) -> float | None:
    """The upper bound (ms) of the bucket where quantile `q` of the decisions between the two
    readings falls (inf: past the last bucket); None when there were none."""
    count = after.get("count", 0) - before.get("count", 0)
    if count <= 0:
        return None
    bounds = sorted(int(k.removeprefix("le_")) for k in after if k.startswith("le_"))
    for bound in bounds:
        key = f"le_{bound}"
        if after.get(key, 0) - before.get(key, 0) >= q * count:
            return float(bound)
    return float("inf")


def _post_dial_delay(
    target: Target, scenario: str, injection: Path, workdir: Path, *, rate: int, name: str
) -> DelayRow:
    target.settle()
    before = target.decision_times() if target.decision_times else {}
    step = run_step(
        (target.host, target.port),
        scenario,
        injection,
        workdir,
        rate=rate,
        seconds=6,
        concurrency=3.0,
    )
    after = target.decision_times() if target.decision_times else {}
    return DelayRow(
        name,
        rate,
        step.successful,
        step.rtt_p50_ms,
        step.rtt_p99_ms,
        decision_quantile(before, after, 0.5),
        decision_quantile(before, after, 0.99),
    )


def call_rows(
    callees: Population, log: Callable[[str], None], *, crowd: Population | None = None
) -> tuple[list[LoadRow], list[DelayRow]]:
    """Calls/s forking to 3 devices: ours (decision from Django, media relay), Kamailio alone
    with the relay, Kamailio alone. Then the post-dial delay of ours and of Kamailio alone at
    half our maximum rate (the first row's). With a `crowd`, the rows that name a `crowded`
    row are measured again once the crowd's devices are registered too (growth)."""
    people = callees.people
    # every account the engines know (Kamailio alone loads their credentials)
    known = Population(people + (crowd.people if crowd else []))
    # person i is called by device 0 of person i+1 (another person of the same organisation)
    calls_csv = [
        (
            caller[0].username,
            caller[0].domain,
            credentials(caller[0].username, caller[0].secret),
            callee[0].extension,
        )
        for callee, caller in zip(people, people[1:] + people[:1], strict=True)
    ]
    rows: list[LoadRow] = []
    delays: list[DelayRow] = []
    half = 10
    with TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        injection = injection_file(workdir / "calls.csv", calls_csv)
        scenario = call_load()
        for engine in CALL_ENGINES:
            devices = Devices(workdir).start()
            contacts = [
                (a.username, a.domain, credentials(a.username, a.secret), f"127.0.0.1:{port}")
                for person in people
                for a, port in zip(person, devices.ports, strict=True)
            ]
            try:
                with engine.start(workdir, known) as target:
                    target.devices = devices
                    register_all(target, workdir, contacts, name=f"devices-{len(rows)}")
                    if "django" in target.processes.roots:
                        _wait_registered([a.username for a in callees.accounts])
                        _warm_profiles(callees)
                    log(f"  {engine.name}")
                    result = _measure(
                        target, scenario, injection, workdir, start=25, concurrency=3.0, log=log
                    )
                    reference = "" if engine.name == CALL_REFERENCE else CALL_REFERENCE
                    rows.append(_row(engine.name, len(callees.accounts), result, reference))
                    if not delays:
                        half = max(result.rate // 2, 10)
                    if engine.delay:
                        delay = _post_dial_delay(
                            target, scenario, injection, workdir, rate=half, name=engine.delay
                        )
                        log(
                            f"    {delay.name} at {half}/s: "
                            f"p50 {delay.p50_ms:.1f} ms, p99 {delay.p99_ms:.1f} ms"
                        )
                        delays.append(delay)
                    if engine.crowded and crowd is not None:
                        crowded = len(crowd.accounts)
                        register_all(
                            target,
                            workdir,
                            _register_rows(crowd.accounts, "127.0.0.1:5999"),
                            name=f"crowd-{len(rows)}",
                        )
                        suffix = f", {crowded:,} more devices registered"
                        name, reference = engine.crowded + suffix, CROWDED_REFERENCE + suffix
                        log(f"  {name}")
                        result = _measure(
                            target, scenario, injection, workdir, start=25, concurrency=3.0, log=log
                        )
                        devices_in = len(callees.accounts) + crowded
                        rows.append(
                            _row(name, devices_in, result, "" if name == reference else reference)
                        )
            finally:
                devices.stop()
    return rows, delays
