"""Readiness: is each dependency reachable? `/health/` answers 200 when all are, 503 naming
the ones that are not. `/health/live` only says the process serves requests."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pbx.celery import app as celery_app

TIMEOUT_SECONDS = 2.0
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # "ok", "down" or "not_configured"
    latency_ms: float
    error: str = ""


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def check_broker() -> None:
    with celery_app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=TIMEOUT_SECONDS
        )


def _run(name: str, check: Callable[[], None], configured: bool) -> CheckResult:
    if not configured:
        return CheckResult(name, "not_configured", 0.0)
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the class name says why
        # The endpoint is public (load balancers): name the failure, keep addresses in the log.
        logger.warning("health check %s failed: %s", name, exc)
        return CheckResult(name, "down", _ms(started), type(exc).__name__)
    return CheckResult(name, "ok", _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def run_checks() -> list[CheckResult]:
    broker_url = str(settings.CELERY_BROKER_URL)
    return [
        _run("database", check_database, True),
        _run("redis", check_redis, bool(settings.REDIS_URL)),
        _run(
            "broker",
            check_broker,
            not broker_url.startswith("memory://") and not settings.CELERY_TASK_ALWAYS_EAGER,
        ),
    ]


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    results = run_checks()
    down = [r.name for r in results if r.status == "down"]
    body = {
        "status": "down" if down else "ok",
        "down": down,
        "checks": {
            r.name: {
                "status": r.status,
                "latency_ms": r.latency_ms,
                **({"error": r.error} if r.error else {}),
            }
            for r in results
        },
    }
    return JsonResponse(body, status=503 if down else 200)


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
