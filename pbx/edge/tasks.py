"""The engine command of the edge (queue `engine`): forget a ban. Idempotent, retried while the
engine is unreachable."""

from celery import shared_task

from pbx.engine.client import ENGINE_RETRY, engine_client


@shared_task(name="engine.lift_source_ban", **ENGINE_RETRY, max_retries=None)
def lift_source_ban(address: str) -> bool:
    return engine_client().lift_ban(address=address)
