"""What the engine reports about registrations, applied to the directory.

Each device is its own address of record (`sip_username@tenant domain`) with one contact.
Registrations are read live by route decisions (no cache to invalidate); owners' apps and
portals hear `device.presence` when a device comes online or goes offline.
"""

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import transaction

from devices.domain.push import contact_push_params
from devices.models import Device, PushBinding, Registration, RegistrationFailure
from devices.push.deliveries import deliveries_mark_woken
from pbx.errors import DomainError
from pbx.events.publish import send_event_on_commit

logger = logging.getLogger(__name__)

MAX_EXPIRES = 3600
DEFAULT_EXPIRES = 600


@dataclass(frozen=True)
class RegistrationEvent:
    type: str  # registered, unregistered, refused
    username: str
    domain: str
    contact: str = ""
    expires: int = DEFAULT_EXPIRES
    source_address: str | None = None
    source_port: int | None = None
    transport: str = ""
    user_agent: str = ""
    reason: str = ""


class InvalidEvent(ValueError):
    pass


def _text(raw: Mapping[str, Any], key: str, limit: int) -> str:
    value = raw.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidEvent(f"{key} must be a string")
    return value[:limit]


def parse_event(raw: Any) -> RegistrationEvent:
    """Validate one event from the engine (types, lengths, address). Raises InvalidEvent."""
    if not isinstance(raw, Mapping):
        raise InvalidEvent("an event is an object")
    kind = raw.get("type")
    if kind not in ("registered", "unregistered", "refused"):
        raise InvalidEvent("unknown event type")
    expires_text = _text(raw, "expires", 10)
    expires = int(expires_text) if expires_text.isdigit() else DEFAULT_EXPIRES
    address = _text(raw, "source_address", 64) or None
    if address is not None:
        try:
            address = str(ipaddress.ip_address(address.strip("[]")))
        except ValueError as exc:
            raise InvalidEvent("source_address is not an IP address") from exc
    port = raw.get("source_port")
    if port is not None and (
        not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536
    ):
        raise InvalidEvent("source_port is not a port")
    username = _text(raw, "username", 64)
    domain = _text(raw, "domain", 253).lower()
    if not username or not domain:
        raise InvalidEvent("username and domain are required")
    return RegistrationEvent(
        type=kind,
        username=username,
        domain=domain,
        contact=_text(raw, "contact", 512),
        expires=min(expires, MAX_EXPIRES),
        source_address=address,
        source_port=port,
        transport=_text(raw, "transport", 8),
        user_agent=_text(raw, "user_agent", 200),
        reason=_text(raw, "reason", 40),
    )


def _presence(device: Device, online: bool) -> None:
    send_event_on_commit(
        user_ids=[device.user_id],
        type="device.presence",
        data={"device_id": device.pk, "online": online},
    )


@transaction.atomic
def registration_events_apply(*, events: Iterable[RegistrationEvent], now: datetime) -> int:
    """Apply a batch in order. Returns how many events named a known device."""
    known = 0
    for event in events:
        device = (
            Device.objects.select_for_update(of=("self",))
            .filter(sip_username=event.username, tenant__sip_domain=event.domain)
            .first()
        )
        if event.type == "refused":
            RegistrationFailure.objects.create(
                username=event.username,
                domain=event.domain,
                device=device,
                reason=event.reason or "refused",
                source_address=event.source_address,
                source_port=event.source_port,
                transport=event.transport,
                user_agent=event.user_agent,
            )
            known += device is not None
            continue
        if device is None:
            continue
        known += 1
        if event.type == "registered" and (device.revoked_at is not None or not device.enabled):
            # A late event about a device revoked or disabled since: it is not online.
            continue
        was_online = Registration.objects.filter(device=device, expires_at__gt=now).exists()
        if event.type == "unregistered" or event.expires == 0:
            gone = Registration.objects.filter(device=device)
            if event.contact not in ("", "*"):
                gone = gone.filter(contact=event.contact)
            gone.delete()
            if (
                was_online
                and not Registration.objects.filter(device=device, expires_at__gt=now).exists()
            ):
                _presence(device, online=False)
            continue
        # One contact per device (the engine saves with "replace"): keep only this one.
        Registration.objects.filter(device=device).exclude(contact=event.contact).delete()
        _, new_contact = Registration.objects.update_or_create(
            device=device,
            contact=event.contact,
            defaults={
                "expires_at": now + timedelta(seconds=event.expires),
                "source_address": event.source_address,
                "source_port": event.source_port,
                "transport": event.transport,
                "user_agent": event.user_agent,
            },
        )
        if not was_online:
            _presence(device, online=True)
        if new_contact or not was_online:  # appeared, or re-registered from a new contact
            _message_lamp(device)
        if device.kind == Device.Kind.MOBILE_APP:
            _mobile_registered(device, event.contact, now)
    return known


def _message_lamp(device: Device) -> None:
    """A device that (re)appears gets the voicemail counts at once: its lamp is right even
    after a reboot, without waiting for the next message."""
    from voicemail.models import Mailbox
    from voicemail.tasks import send_mwi

    for mailbox_id in (
        Mailbox.objects.filter(extension__owner_id=device.user_id, messages__isnull=False)
        .values_list("pk", flat=True)
        .distinct()
    ):
        transaction.on_commit(partial(send_mwi.delay, mailbox_id=mailbox_id, device_id=device.pk))


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
            from devices.services import push_binding_register

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
    stale: list[int]  # revoked or disabled devices the engine still holds: drop them


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
