"""A real Kamailio for the engine tests, talking to the test database and a live Django."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from pbx.engine.process import EngineProcess, postgres_url, start_engine


@pytest.fixture(scope="module")
def engine(
    django_db_setup: None, live_server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngineProcess]:
    log_dir = tmp_path_factory.mktemp("kamailio")
    process = start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=live_server.url,
        token=settings.PBX_ENGINE_TOKEN,
        workers=2,
        log_path=log_dir / "kamailio.log",
    )
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def _engine_reports_before_the_test_ends(request: pytest.FixtureRequest) -> Iterator[None]:
    """Let the engine deliver every queued event while this test's database is still there:
    a late event arriving during the next test would write into the wrong world."""
    yield
    if "engine" not in request.fixturenames:
        return
    engine: EngineProcess = request.getfixturevalue("engine")
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
