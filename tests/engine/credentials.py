"""The engine's credential cache as tests observe it, and a Celery worker that carries Django's
commands (forgetting credentials among them) to a test's engine."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from celery.contrib.testing.worker import start_worker

from pbx.celery import app as celery_app
from pbx.engine.process import EngineProcess


def cached_credentials(engine: EngineProcess, key: str) -> str | None:
    """The engine's `creds` entry for `key` ("username@sip domain"); None: not held."""
    body = httpx.post(
        engine.rpc_url,
        json={"jsonrpc": "2.0", "method": "htable.get", "params": ["creds", key], "id": 1},
        timeout=3,
    ).json()
    if "error" in body:
        return None
    return str(body["result"]["item"]["value"])


@contextmanager
def engine_worker(settings: Any, engine: EngineProcess) -> Iterator[None]:
    """A real worker on the `engine` queue, commanding this engine."""
    settings.PBX_ENGINE_RPC_URL = engine.rpc_url
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, queues=["engine"], shutdown_timeout=10
    ):
        yield
