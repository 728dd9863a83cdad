"""Celery tasks that carry device commands to the engine (queue `engine`). Thin: load, call the
client, retry.

Every task is idempotent (dropping registrations twice drops nothing the second time) and
retried with exponential backoff, without limit, while the engine is unreachable: a command is
never lost because the engine was restarting (tasks are acknowledged late, see settings).
"""

from celery import shared_task
from django.utils import timezone

from devices.failures import failures_purge
from devices.models import Device
from devices.registrations import registrations_reconcile
from pbx.engine.client import ENGINE_RETRY, engine_client
from pbx.engine.contract import EventType, RegistrationEvent


@shared_task(
    name="engine.drop_device_registrations",
    **ENGINE_RETRY,
    max_retries=None,
)
def drop_device_registrations(device_id: int) -> bool:
    """Remove a device's live registrations from the engine (revocation, disabling, a policy
    its registration breaks), and its cached credentials: a device dropped because Django
    found it revoked behind the services' back (registration sync) must not keep
    authenticating from the engine's memory."""
    device = Device.objects.select_related("tenant").filter(pk=device_id).first()
    if device is None:
        return False
    aor = f"{device.sip_username}@{device.tenant.sip_domain}"
    client = engine_client()
    client.forget_credentials(accounts=[aor])
    return client.drop_registrations(aor=aor)


@shared_task(
    name="engine.sync_registrations",
    **ENGINE_RETRY,
    max_retries=5,
)
def sync_registrations() -> dict[str, int]:
    """Fetch the engine's registration state and make Django's match it (periodic, and the
    repair for events the engine could not deliver while Django was down). Devices revoked
    or disabled that the engine still holds are dropped, and so are devices registered over a
    transport their policy now forbids (e.g. their organisation's default became
    tls_srtp_required)."""
    observed_at = timezone.now()
    live = [
        RegistrationEvent(
            type=EventType.REGISTERED,
            username=contact.username,
            domain=contact.domain,
            contact=contact.contact,
            expires=contact.expires,
            user_agent=contact.user_agent,
            transport=contact.transport,
        )
        for contact in engine_client().all_registrations()
    ]
    outcome = registrations_reconcile(live=live, observed_at=observed_at, now=timezone.now())
    for device_id in outcome.stale:
        drop_device_registrations.delay(device_id)
    return {
        "online": outcome.online,
        "came_online": outcome.came_online,
        "went_offline": outcome.went_offline,
        "stale": len(outcome.stale),
    }


@shared_task(name="devices.purge_old_failures")
def purge_old_failures() -> int:
    """Forget failed registrations and calls past the retention (hourly, by beat)."""
    return failures_purge(now=timezone.now())
