import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from pbx.directory.models import Tenant, User
from pbx.engine.media_relay import MediaRelayProcess, MediaRelaySettings, start_media_relay
from pbx.engine.process import EngineProcess, free_port, free_udp_range, postgres_url
from pbx.tokens.services import api_session_open
from tests.factories import TenantFactory, UserFactory
from tests.fakes.fixtures import fake_apns, fake_fcm  # noqa: F401 - shared fixtures


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Throttle counters and cached values live in Redis (test database 15): start empty."""
    cache.clear()


@pytest.fixture
def tenant(db: None) -> Tenant:
    return TenantFactory()


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    return TenantFactory()


@pytest.fixture
def member(tenant: Tenant) -> User:
    return UserFactory(tenant=tenant, role=User.Role.MEMBER)


@pytest.fixture
def admin_user(tenant: Tenant) -> User:
    return UserFactory(tenant=tenant, role=User.Role.TENANT_ADMIN)


@pytest.fixture
def client_for(db: None) -> Callable[[User], APIClient]:
    """An API client signed in as `user` with a real bearer access token."""

    def make(user: User) -> APIClient:
        client = APIClient()
        pair = api_session_open(user=user, client_name="pytest")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.access_token}")
        return client

    return make


@pytest.fixture
def member_api(member: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(member)


@pytest.fixture
def admin_api(admin_user: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(admin_user)


@pytest.fixture(autouse=True)
def _engine_reports_before_the_test_ends(request: pytest.FixtureRequest) -> Iterator[None]:
    """Let the engine deliver every queued event while this test's database is still there:
    a late event arriving during the next test would write into the wrong world."""
    yield
    names = [name for name in ("engine", "vm_engine") if name in request.fixturenames]
    if not names:
        return
    engine: EngineProcess = request.getfixturevalue(names[0])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        body = httpx.post(
            engine.rpc_url,
            json={
                "jsonrpc": "2.0",
                "method": "mqueue.get_size",
                "params": ["engine_events"],
                "id": 1,
            },
            timeout=2,
        ).json()
        if body.get("result", {}).get("size") == 0:
            break
        time.sleep(0.05)
    time.sleep(0.4)  # the report in flight (timer period 100 ms, then one HTTP round trip)


@pytest.fixture
def sip_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session")
def media_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaRelayProcess]:
    """One real rtpengine for the run: every engine the tests start anchors media through it."""
    low = free_udp_range(200)
    relay = start_media_relay(
        MediaRelaySettings(
            address="127.0.0.1", port_min=low, port_max=low + 199, control_port=free_port()
        ),
        log_path=tmp_path_factory.mktemp("rtpengine") / "rtpengine.log",
    )
    yield relay
    relay.stop()


@pytest.fixture(scope="module")
def engine_api(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The engine's API as production runs it (pbx.internal.server, 2 processes) on the test
    database: every call the engine tests make is decided through it."""
    port = free_port()
    log = tmp_path_factory.mktemp("engine-api") / "engine-api.log"
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": postgres_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "PBX_ENGINE_TOKEN": settings.PBX_ENGINE_TOKEN,
    }
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "pbx.internal.server", "--port", str(port), "--processes", "2"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.post(f"{url}/internal/engine/events", timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)
