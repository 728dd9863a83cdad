import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_all_dependencies_up() -> None:
    response = Client().get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["down"] == []
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "redis": "ok",
        "broker": "ok",
    }


def test_redis_down_is_named(settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = Client().get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["redis"]
    assert body["checks"]["redis"]["error"] == "ConnectionError"
    assert body["checks"]["database"]["status"] == "ok"


def test_broker_down_is_named(settings) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = Client().get("/health/")

    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


def test_liveness_needs_nothing() -> None:
    assert Client().get("/health/live").json() == {"status": "ok"}
