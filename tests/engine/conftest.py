"""A real Kamailio for the engine tests, talking to the test database and a live Django."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from pbx.engine.media_relay import MediaRelayProcess
from pbx.engine.process import (
    EngineDecisions,
    EngineProcess,
    TlsListener,
    free_port,
    postgres_url,
    start_engine,
)

DEV_CERTIFICATE = Path(__file__).resolve().parents[2] / "deploy" / "scripts" / "dev-certificate.sh"


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for the engine's TLS listener (made by the script
    `make run` uses; phones in tests trust exactly this certificate)."""
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(["bash", str(DEV_CERTIFICATE), str(directory)], check=True)  # noqa: S603, S607
    return directory / "sip.crt", directory / "sip.key"


@pytest.fixture(scope="module")
def engine(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    engine_api: str,
    live_server,
    media_relay: MediaRelayProcess,
    tmp_path_factory: pytest.TempPathFactory,
    tls_files: tuple[Path, Path],
) -> Iterator[EngineProcess]:
    """One engine per test module, listening on UDP, TCP and TLS, deciding calls itself
    (asking the engine API for what needs Django); a module's `EDGE_LIMITS` replaces the
    default ban limits."""
    log_dir = tmp_path_factory.mktemp("kamailio")
    certificate, private_key = tls_files
    process = start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=engine_api,
        token=settings.PBX_ENGINE_TOKEN,
        workers=2,
        log_path=log_dir / "kamailio.log",
        edge=getattr(request.module, "EDGE_LIMITS", None),
        media_relay=media_relay.control.socket_spec,
        tls=TlsListener(certificate=certificate, private_key=private_key, port=free_port()),
        decisions=EngineDecisions.from_cache_settings(settings.CACHES),
    )
    yield process
    process.stop()
