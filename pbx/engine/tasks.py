"""Celery tasks that carry engine-wide commands (queue `engine`). Thin and idempotent: deleting
an entry twice deletes nothing the second time; retried without limit while the engine is
unreachable."""

from celery import shared_task

from pbx.engine.client import ENGINE_RETRY, engine_client


@shared_task(name="engine.forget_credentials", **ENGINE_RETRY, max_retries=None)
def forget_credentials(accounts: list[str]) -> int:
    """Delete these accounts' (`username@sip domain`) cached credentials in the engine. Takes
    the accounts, not device ids: a deleted device can no longer be loaded."""
    engine_client().forget_credentials(accounts=accounts)
    return len(accounts)
