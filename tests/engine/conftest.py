"""A real Kamailio for the engine tests, talking to the test database and a live Django."""

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection

from pbx.engine.media_relay import MediaRelayProcess
from pbx.engine.process import EngineProcess, postgres_url, start_engine


@pytest.fixture(scope="module")
def engine(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    live_server,
    media_relay: MediaRelayProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EngineProcess]:
    """One engine per test module; a module's `EDGE_LIMITS` replaces the default ban limits."""
    log_dir = tmp_path_factory.mktemp("kamailio")
    process = start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=live_server.url,
        token=settings.PBX_ENGINE_TOKEN,
        workers=2,
        log_path=log_dir / "kamailio.log",
        edge=getattr(request.module, "EDGE_LIMITS", None),
        media_relay=media_relay.control.socket_spec,
    )
    yield process
    process.stop()
