"""What the engine reports about registrations, applied to the directory.

Each device is its own address of record (`sip_username@tenant domain`) with one contact.
Registrations are read live by route decisions (no cache to invalidate); owners' apps and
portals hear `device.presence` when a device comes online or goes offline.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from devices.domain.push import contact_push_params
from devices.failures import failure_record
from devices.models import Device, PushBinding, Registration
from devices.push.bindings import push_binding_register
from devices.push.deliveries import deliveries_mark_woken
from pbx.directory.domain import transport_allowed
from pbx.engine.contract import EventType, RegistrationEvent
from pbx.errors import DomainError
from pbx.events.publish import send_event_on_commit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceSeen:
    """A registration event named a known device. `appeared`: it came online or registered
    from a new contact (the owner's message lamp on it must be refreshed)."""

    device_id: int
    user_id: int
    appeared: bool = False


def _presence(device: Device, online: bool) -> None:
    send_event_on_commit(
        user_ids=[device.user_id],
        type="device.presence",
        data={"device_id": device.pk, "online": online},
    )


def _device(event: RegistrationEvent) -> Device | None:
    return (
        Device.objects.select_for_update(of=("self",))
        .filter(sip_username=event.username, tenant__sip_domain=event.domain)
        .first()
    )


def registration_refused(*, event: RegistrationEvent, now: datetime) -> DeviceSeen | None:
    """A REGISTER or INVITE the engine refused: kept for the security pages (who tried, from
    where, why)."""
    device = _device(event)
    failure_record(event=event, device=device, now=now)
    return DeviceSeen(device.pk, device.user_id) if device else None


def registration_gone(*, event: RegistrationEvent, now: datetime) -> DeviceSeen | None:
    """The device unregistered, or the engine dropped its contact (expired, or it stopped
    answering the engine's pings)."""
    device = _device(event)
    if device is None:
        return None
    was_online = Registration.objects.filter(device=device, expires_at__gt=now).exists()
    gone = Registration.objects.filter(device=device)
    if event.contact not in ("", "*"):
        gone = gone.filter(contact=event.contact)
    gone.delete()
    if was_online and not Registration.objects.filter(device=device, expires_at__gt=now).exists():
        _presence(device, online=False)
    return DeviceSeen(device.pk, device.user_id)


def registration_saved(*, event: RegistrationEvent, now: datetime) -> DeviceSeen | None:
    if event.expires == 0:
        return registration_gone(event=event, now=now)
    device = _device(event)
    if device is None:
        return None
    if device.revoked_at is not None or not device.enabled:
        # A late event about a device revoked or disabled since: it is not online.
        return DeviceSeen(device.pk, device.user_id)
    # What the device holds, read once (the device row is locked: no other event about it
    # runs meanwhile). Three statements per event where there were seven: a registration
    # storm (every phone back after an outage) is this, once per phone.
    held = list(Registration.objects.filter(device=device))
    was_online = any(registration.expires_at > now for registration in held)
    # One contact per device (the engine saves with "replace"): keep only this one.
    others = [registration.pk for registration in held if registration.contact != event.contact]
    if others:
        Registration.objects.filter(pk__in=others).delete()
    fields = {
        "expires_at": now + timedelta(seconds=event.expires),
        "source_address": event.source_address,
        "source_port": event.source_port,
        "transport": event.transport,
        "user_agent": event.user_agent,
    }
    same = [registration.pk for registration in held if registration.contact == event.contact]
    new_contact = not same
    if new_contact:
        Registration.objects.create(device=device, contact=event.contact, **fields)
    else:
        # (an UPDATE runs no save(): `updated_at` is set here, as auto_now would)
        Registration.objects.filter(pk__in=same).update(updated_at=now, **fields)
    if not was_online:
        _presence(device, online=True)
    if device.kind == Device.Kind.MOBILE_APP:
        _mobile_registered(device, event.contact, now)
    return DeviceSeen(device.pk, device.user_id, appeared=new_contact or not was_online)


REGISTRATION_HANDLERS = {
    EventType.REGISTERED: registration_saved,
    EventType.UNREGISTERED: registration_gone,
    EventType.EXPIRED: registration_gone,
    EventType.REFUSED: registration_refused,
}


def _mobile_registered(device: Device, contact: str, now: datetime) -> None:
    """A mobile app registered: it may carry its push token (RFC 8599), and it may be
    answering a wake push (the wake-up time is recorded)."""
    params = contact_push_params(contact)
    if params is not None:
        binding = PushBinding.objects.filter(device=device).first()
        environment = (
            PushBinding.Environment.SANDBOX
            if params.sandbox
            else PushBinding.Environment.PRODUCTION
        )
        unchanged = binding is not None and (
            (binding.provider, binding.token, binding.app_id, binding.environment, binding.dead_at)
            == (params.provider.value, params.token, params.app_id, environment, None)
        )
        if not unchanged:
            try:
                push_binding_register(
                    device=device,
                    provider=params.provider.value,
                    token=params.token,
                    app_id=params.app_id,
                    environment=environment,
                )
            except DomainError as exc:
                logger.warning("ignoring the push parameters of %s: %s", device.pk, exc)
    deliveries_mark_woken(device_id=device.pk, now=now)


@dataclass(frozen=True)
class ReconcileOutcome:
    online: int  # devices the engine holds a contact for
    came_online: int  # ...that Django believed offline (an event was lost)
    went_offline: int  # devices Django believed online that the engine does not hold
    stale: list[int]  # revoked, disabled, or against their transport policy: drop them


@transaction.atomic
def registrations_reconcile(
    *, live: Iterable[RegistrationEvent], observed_at: datetime, now: datetime
) -> ReconcileOutcome:
    """Make Django's registrations match the engine's own table (`observed_at` is when it was
    read). Events are delivered at most once: an engine that could not reach Django drops
    them, and this is how devices still end up shown online or offline correctly.

    A row written by an event after `observed_at` is newer than the dump and is left alone."""
    by_key = {(event.username, event.domain): event for event in live}
    devices = {
        (device.sip_username, device.tenant.sip_domain): device
        for device in Device.objects.select_related("tenant").filter(
            sip_username__in={username for username, _ in by_key}
        )
    }
    online_before = set(
        Registration.objects.filter(expires_at__gt=now).values_list("device_id", flat=True)
    )
    holding, stale, came_online = set(), [], 0
    for key, event in by_key.items():
        device = devices.get(key)
        if device is None:
            continue
        if device.revoked_at is not None or not device.enabled:
            stale.append(device.pk)
            continue
        if event.transport and not transport_allowed(
            policy=device.effective_transport_policy, transport=event.transport
        ):
            # registered before its policy (or its organisation's default) was tightened
            stale.append(device.pk)
            continue
        holding.add(device.pk)
        Registration.objects.filter(device=device, updated_at__lt=observed_at).exclude(
            contact=event.contact
        ).delete()
        Registration.objects.update_or_create(
            device=device,
            contact=event.contact,
            defaults={
                "expires_at": now + timedelta(seconds=event.expires),
                "user_agent": event.user_agent,
            },
        )
        if device.pk not in online_before:
            came_online += 1
            _presence(device, online=True)
    gone = Registration.objects.filter(updated_at__lt=observed_at).exclude(device_id__in=holding)
    newer = Registration.objects.filter(updated_at__gte=observed_at, expires_at__gt=now)
    offline = set(gone.values_list("device_id", flat=True)) & online_before - set(
        newer.values_list("device_id", flat=True)
    )
    went_offline = 0
    for device in Device.objects.filter(pk__in=offline):
        went_offline += 1
        _presence(device, online=False)
    gone.delete()
    return ReconcileOutcome(
        online=len(holding), came_online=came_online, went_offline=went_offline, stale=stale
    )
