"""`make bench`: measure, print a table. Runs against a throw-away PostgreSQL database and the
real Redis (database 14), in-process through Django's test client (no network hop), so the
numbers are the application's own cost per request.

Later issues add rows (ring-plan evaluation, route decisions, SIP load through Kamailio).
"""

import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
# Own Redis database and own PostgreSQL test database: a bench never disturbs a test run.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")

import django

django.setup()

from django.test.utils import setup_databases, setup_test_environment, teardown_databases
from rest_framework.test import APIClient


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


def print_table(rows: list[Row]) -> None:
    header = f"| {'benchmark':<40} | {'runs':>6} | {'p50 ms':>8} | {'p99 ms':>8} | {'ops/s':>9} |"
    print(header)
    print(f"|{'-' * 42}|{'-' * 8}|{'-' * 10}|{'-' * 10}|{'-' * 11}|")
    for row in rows:
        print(
            f"| {row.name:<40} | {row.runs:>6} | {row.p50_ms:>8.3f} | "
            f"{row.p99_ms:>8.3f} | {row.per_second:>9.0f} |"
        )


def main() -> int:
    from django.db import connections

    connections["default"].settings_dict["TEST"]["NAME"] = "test_pbx_bench"
    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        from django.core.cache import cache

        cache.clear()
        rows = api_rows()
    finally:
        teardown_databases(old, verbosity=0)
    print(f"PBX benchmarks (in-process, PostgreSQL + Redis, {os.cpu_count()} cores)")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
