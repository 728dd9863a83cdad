"""Celery tasks that carry commands to the engine. Thin: load, call the client, retry.

Every task is idempotent (dropping registrations twice drops nothing the second time) and
retried with exponential backoff, without limit, while the engine is unreachable: a command is
never lost because the engine was restarting (tasks are acknowledged late, see settings).
"""

from celery import shared_task

from devices.models import Device
from pbx.engine.client import EngineUnavailable, engine_client


@shared_task(
    name="engine.drop_device_registrations",
    autoretry_for=(EngineUnavailable,),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=False,
    max_retries=None,
)
def drop_device_registrations(device_id: int) -> bool:
    """Remove a device's live registrations from the engine (revocation, disabling)."""
    device = Device.objects.select_related("tenant").filter(pk=device_id).first()
    if device is None:
        return False
    aor = f"{device.sip_username}@{device.tenant.sip_domain}"
    return engine_client().drop_registrations(aor=aor)
