"""`make bench`: measure, print a table. Runs against a throw-away PostgreSQL database and the
real Redis (database 14), in-process through Django's test client (no network hop), so the
numbers are the application's own cost per request.

Later issues add rows (ring-plan evaluation, route decisions, SIP load through Kamailio).
"""

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
# Own Redis database and own PostgreSQL test database: a bench never disturbs a test run.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")

import django

django.setup()

from django.test.utils import setup_databases, setup_test_environment, teardown_databases
from rest_framework.test import APIClient

if TYPE_CHECKING:
    from tests.bench.sip_load import DelayRow, LoadRow


@dataclass(frozen=True)
class Row:
    name: str
    runs: int
    p50_ms: float
    p99_ms: float
    per_second: float


def measure(name: str, action: Callable[[], object], runs: int, warmup: int = 50) -> Row:
    for _ in range(warmup):
        action()
    samples = []
    started = time.perf_counter()
    for _ in range(runs):
        t0 = time.perf_counter()
        action()
        samples.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    samples.sort()
    return Row(
        name,
        runs,
        statistics.median(samples),
        samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        runs / elapsed,
    )


def api_rows() -> list[Row]:
    from devices.models import Device
    from pbx.directory.models import User
    from pbx.tokens.services import api_session_open
    from tests.factories import TenantFactory, UserFactory, make_device

    tenant = TenantFactory(max_devices_per_user=100)
    user = UserFactory(tenant=tenant, role=User.Role.TENANT_ADMIN)
    for n in range(10):
        make_device(user, kind=Device.Kind.SOFTPHONE, label=f"Device {n}")
    pair = api_session_open(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.access_token}")

    def ok(response: object) -> object:
        status = getattr(response, "status_code", 0)
        if status >= 400:
            raise RuntimeError(
                f"benchmark request failed: {status} {getattr(response, 'content', b'')!r}"
            )
        return response

    created: list[int] = []

    def create_and_revoke() -> None:
        body = ok(
            client.post("/api/v1/devices", {"kind": "softphone", "label": "Bench"}, format="json")
        )
        device_id = body.json()["id"]  # type: ignore[attr-defined]
        created.append(device_id)
        ok(client.post(f"/api/v1/devices/{device_id}/revoke"))

    refresh = {"token": pair.refresh_token}

    def rotate_refresh() -> None:
        response = ok(
            APIClient().post(
                "/api/v1/auth/tokens/refresh", {"refresh_token": refresh["token"]}, format="json"
            )
        )
        refresh["token"] = response.json()["refresh_token"]  # type: ignore[attr-defined]

    from django.conf import settings

    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["token_refresh"] = "1000000/min"
    return [
        measure("GET /api/v1/me (bearer auth)", lambda: ok(client.get("/api/v1/me")), 2000),
        measure(
            "GET /api/v1/devices (10 devices)", lambda: ok(client.get("/api/v1/devices")), 1000
        ),
        measure("POST device + revoke (credentials)", create_and_revoke, 300, warmup=10),
        measure("POST /api/v1/auth/tokens/refresh", rotate_refresh, 500, warmup=10),
        measure(
            "GET /health/ (db, redis, broker)", lambda: ok(client.get("/health/")), 300, warmup=10
        ),
    ]


def evaluator_rows() -> list[Row]:
    """The pure evaluator on one core: a 5-stage plan over 6 devices, 4 rules to try."""
    from datetime import UTC, datetime

    from routing.domain.documents import DocumentContext, parse_routing_document
    from routing.domain.evaluation import (
        CompiledRouting,
        DeviceInfo,
        IncomingCall,
        LiveState,
        evaluate,
    )
    from routing.domain.schedules import parse_schedule

    def stage(seconds: int, mode: str, *device_ids: int) -> dict[str, object]:
        targets = [{"type": "device", "device_id": i} for i in device_ids]
        return {"seconds": seconds, "mode": mode, "targets": targets}

    kinds = ["desk_phone", "softphone", "mobile_app", "web_softphone", "mobile_app", "desk_phone"]
    devices = tuple(
        DeviceInfo(i, kinds[i - 1], f"Device {i}", f"u{i}", push_capable=True) for i in range(1, 7)
    )
    document = parse_routing_document(
        {
            "plans": [
                {
                    "name": "office",
                    "stages": [
                        stage(10, "add", 1),
                        stage(10, "add", 2),
                        stage(10, "add", 3, 4),
                        stage(10, "replace", 5),
                        stage(10, "add", 6, 1),
                    ],
                    "final": {"action": "voicemail"},
                },
                {
                    "name": "mobile",
                    "stages": [stage(25, "add", 5)],
                    "final": {"action": "voicemail"},
                },
            ],
            "default_plan": "office",
            "rules": [
                {"name": "VIP", "plan": "mobile", "callers": ["+4420*", "+33612345670"]},
                {"name": "after hours", "plan": "mobile", "schedule_id": 1, "when": "closed"},
                {"name": "holidays", "plan": "mobile", "schedule_id": 2, "when": "open"},
                {"name": "withheld", "plan": "mobile", "callers": ["anonymous"]},
            ],
        },
        DocumentContext(
            owner_id=1,
            device_owners={d.id: (1, False) for d in devices},
            schedule_ids={1, 2},
            extensions=set(),
        ),
    )
    hours = parse_schedule(
        schedule_id=1,
        name="office hours",
        time_zone=None,
        weekly=[{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}],
        exceptions=[],
    )
    holidays = parse_schedule(
        schedule_id=2,
        name="holidays",
        time_zone=None,
        weekly=[],
        exceptions=[{"date": "2026-12-25", "windows": [{"start": "00:00", "end": "24:00"}]}],
    )
    profile = CompiledRouting(1, "Europe/Paris", 180, document, {1: hours, 2: holidays}, devices)
    call = IncomingCall("+33140000000")
    instant = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    live = LiveState(frozenset({1, 2, 3, 4}))
    decision = evaluate(profile, call, instant, live)
    if len(decision.branches) != 7 or decision.rule is not None:
        raise RuntimeError(f"benchmark plan evaluated unexpectedly: {decision}")
    return [
        measure(
            "evaluate: 5 stages, 6 devices, 4 rules",
            lambda: evaluate(profile, call, instant, live),
            20000,
            warmup=2000,
        ),
        measure(
            "  ... with the trace rendered",
            lambda: evaluate(profile, call, instant, live).trace_lines(),
            20000,
            warmup=2000,
        ),
    ]


def route_decision_rows() -> list[Row]:
    """The internal endpoint the engine calls per call, warm cache, in-process."""
    import json
    from datetime import timedelta

    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from devices.models import Device, Registration
    from tests.factories import ExtensionFactory, TenantFactory, UserFactory, make_device

    tenant = TenantFactory(max_devices_per_user=10)
    user = UserFactory(tenant=tenant)
    ExtensionFactory(owner=user, number="201")
    kinds = [Device.Kind.DESK_PHONE, Device.Kind.SOFTPHONE, Device.Kind.MOBILE_APP] * 2
    for n, kind in enumerate(kinds):
        device = make_device(user, kind=kind, label=f"Device {n}")
        if n % 2 == 0:
            Registration.objects.create(
                device=device,
                contact=f"sip:{device.sip_username}@192.0.2.{n}",
                expires_at=timezone.now() + timedelta(hours=1),
            )
    client = Client()
    from pbx.engine.contract import CONTRACT_VERSION

    calls = iter(range(10**9))

    def body() -> str:  # a new call each time: the decision is recorded as a Call row
        return json.dumps(
            {
                "version": CONTRACT_VERSION,
                "call_id": f"bench-{next(calls)}",
                "domain": tenant.sip_domain,
                "called": "201",
                "caller": "+33140000000",
            }
        )

    headers = {"HTTP_X_ENGINE_TOKEN": settings.PBX_ENGINE_TOKEN}

    def decide() -> None:
        response = client.post(
            "/internal/engine/route-decisions", body(), content_type="application/json", **headers
        )
        if response.status_code != 200:
            raise RuntimeError(f"route decision failed: {response.status_code}")

    return [measure("route decision (warm cache, call kept)", decide, 3000, warmup=200)]


def print_table(rows: list[Row]) -> None:
    header = f"| {'benchmark':<40} | {'runs':>6} | {'p50 ms':>8} | {'p99 ms':>8} | {'ops/s':>9} |"
    print(header)
    print(f"|{'-' * 42}|{'-' * 8}|{'-' * 10}|{'-' * 10}|{'-' * 11}|")
    for row in rows:
        print(
            f"| {row.name:<40} | {row.runs:>6} | {row.p50_ms:>8.3f} | "
            f"{row.p99_ms:>8.3f} | {row.per_second:>9.0f} |"
        )


def _cpu(cpu: dict[str, float]) -> str:
    return ", ".join(
        f"{label} {cores:.2f}" for label, cores in sorted(cpu.items(), key=lambda kv: -kv[1])
    )


def print_sip_table(load: list["LoadRow"], delays: list["DelayRow"]) -> None:
    by_name = {row.name: row for row in load}
    print(f"| {'load':<58} | {'per s':>7} | {'reference':>9} | {'ratio':>5} | {'p99 ms':>6} |")
    print(f"|{'-' * 60}|{'-' * 9}|{'-' * 11}|{'-' * 7}|{'-' * 8}|")
    for row in load:
        reference = by_name.get(row.reference)
        ratio = (
            f"{row.per_second / reference.per_second:.2f}"
            if reference and reference.per_second
            else "-"
        )
        base = f"{reference.per_second}" if reference else "-"
        p99 = f"{row.result.confirmation.rtt_p99_ms:.0f}" if row.result.confirmation else "-"
        print(f"| {row.name:<58} | {row.per_second:>7} | {base:>9} | {ratio:>5} | {p99:>6} |")
    print()
    print("Cores in use during each confirmation run (user + system CPU time / wall time)")
    for row in load:
        print(f"  {row.name}: {_cpu(row.cpu)}")
    print()
    print(
        f"| {'post-dial delay (INVITE -> 180)':<58} | {'rate':>7} | {'p50 ms':>9} | {'p99 ms':>6} |"
    )
    print(f"|{'-' * 60}|{'-' * 9}|{'-' * 11}|{'-' * 8}|")
    for delay in delays:
        print(
            f"| {delay.name:<58} | {delay.rate:>7} | {delay.p50_ms:>9.1f} | {delay.p99_ms:>6.1f} |"
        )
    for delay in delays:
        if delay.decision_p50_ms is not None and delay.decision_p99_ms is not None:
            label = "  its route decisions (INVITE -> decided, queue included)"
            print(
                f"| {label:<58} | {delay.rate:>7} | <= {delay.decision_p50_ms:>6.0f} | "
                f"<= {delay.decision_p99_ms:.0f} |"
            )


def main() -> int:
    from django.db import connections

    connections["default"].settings_dict["TEST"]["NAME"] = "test_pbx_bench"
    setup_test_environment(debug=False)  # production-like: no query logging
    old = setup_databases(verbosity=0, interactive=False)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        from django.core.cache import cache

        cache.clear()
        from tests.bench.population import populate
        from tests.bench.sip_load import call_rows, register_rows

        # first: the in-process rows (the app's hot API calls) run with 10,000 people present
        log("populating: 10 organisations x 1,000 people x 1 device; 1 x 300 people x 3 devices")
        registrars = populate(tenants=10, people_per_tenant=1000, devices_per_person=1, tag="r")
        callees = populate(tenants=1, people_per_tenant=300, devices_per_person=3, tag="c")
        rows = evaluator_rows() + route_decision_rows() + api_rows()
        load, memory = register_rows(registrars, log)
        calls, delays = call_rows(callees, log, crowd=registrars)
        load += calls
        from tests.bench.push_wake import push_wake_latencies

        wake = push_wake_latencies()
    finally:
        teardown_databases(old, verbosity=0)
    print(
        f"PBX benchmarks (in-process, PostgreSQL + Redis, {os.cpu_count()} cores, "
        "10,000+ people in the database)"
    )
    print_table(rows)
    print()
    print(
        "SIP load on loopback (sipp shares the cores), each row against its reference in this run"
    )
    print(
        "(per s: the highest offered rate that passed < 1 % failed, >= 95 % of the rate "
        "achieved, p99 < 200 ms; ramp x2, 3 bisections, 6 s confirmation)"
    )
    print_sip_table(load, delays)
    print()
    print(f"| {'memory per registered device':<58} | {'devices':>7} | {'bytes':>9} |")
    print(f"|{'-' * 60}|{'-' * 9}|{'-' * 11}|")
    for row in memory:
        print(f"| {row.name:<58} | {row.devices:>7} | {row.bytes_per_device:>9.0f} |")
    print()
    figures: dict[str, dict[str, object]] = {
        "in_process": {row.name: asdict(row) for row in rows},
        "sip_load": {r.name: asdict(r) for r in load},
        "post_dial_delay": {d.name: asdict(d) for d in delays},
        "memory": {m.name: asdict(m) for m in memory},
        "push_wake": {},
    }
    print("Push wake-up on loopback (sipp caller and app, Kamailio, Django, Celery, fake APNs)")
    print(f"| {'interval':<48} | {'calls':>6} | {'p50 ms':>8} | {'p99 ms':>8} |")
    print(f"|{'-' * 50}|{'-' * 8}|{'-' * 10}|{'-' * 10}|")
    for label, key in (
        ("INVITE sent -> push request at the provider", "invite_to_push"),
        ("woken REGISTER sent -> INVITE at the app", "register_to_invite"),
    ):
        samples = sorted(wake[key])
        figures["push_wake"][key] = samples
        if not samples:
            print(f"| {label:<48} | {0:>6} | {'-':>8} | {'-':>8} |")
            continue
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        print(
            f"| {label:<48} | {len(samples):>6} | {statistics.median(samples):>8.1f} | "
            f"{p99:>8.1f} |"
        )
    output = Path(os.environ.get("PBX_BENCH_JSON", "var/bench.json"))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"cores": os.cpu_count(), "figures": figures}, indent=2))
    print(f"\n(figures as JSON in {output})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
