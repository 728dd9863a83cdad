from celery import shared_task

from pbx.tokens import services


@shared_task(name="tokens.purge_expired_access_tokens")
def purge_expired_access_tokens() -> int:
    """Delete access tokens past their expiry. Idempotent; scheduled hourly by beat."""
    return services.access_tokens_purge_expired()
