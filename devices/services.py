"""Writes to devices: issuing and rotating credentials, updating, revoking (push tokens are in
`devices.push.bindings`)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from devices.domain import credentials
from devices.models import Device, PushBinding, Registration
from devices.tasks import drop_device_registrations
from pbx.directory import generations
from pbx.directory.domain import ENCRYPTED_TRANSPORTS
from pbx.directory.models import TransportPolicy, User
from pbx.directory.networks import InvalidNetwork, normalise_networks
from pbx.engine.credentials import account_key, credentials_forget_on_commit
from pbx.errors import Conflict, DomainError
from pbx.events.publish import send_event_on_commit
from pbx.persistence import model_update, unique_violation_as


@dataclass(frozen=True)
class IssuedCredentials:
    """A device with its freshly generated secret. The secret exists only in this object:
    show it to the person once; it is not stored anywhere."""

    device: Device
    secret: str

    def __repr__(self) -> str:  # never let the secret reach a log line through repr()
        return f"IssuedCredentials(device={self.device.pk}, secret=<hidden>)"


def _networks(value: Sequence[str]) -> list[str]:
    try:
        return normalise_networks(value)
    except InvalidNetwork as exc:
        raise DomainError(str(exc), code=exc.code, field="allowed_networks") from exc


def _mac(kind: str, raw: str) -> str:
    if not raw:
        return ""
    if kind != Device.Kind.DESK_PHONE:
        raise DomainError(
            "Only desk phones have a MAC address.", code="mac_not_allowed", field="mac_address"
        )
    try:
        return credentials.normalise_mac_address(raw)
    except ValueError as exc:
        raise DomainError(str(exc), code="invalid_mac_address", field="mac_address") from exc


def _set_secret(device: Device, realm: str) -> str:
    secret = credentials.generate_secret()
    digest = credentials.digest_credentials(
        username=device.sip_username, realm=realm, secret=secret
    )
    device.ha1, device.ha1b = digest.ha1, digest.ha1b
    device.secret_rotated_at = timezone.now()
    return secret


@transaction.atomic
def device_create(
    *,
    user: User,
    kind: str,
    label: str,
    mac_address: str = "",
    model: str = "",
    allowed_networks: Sequence[str] = (),
    transport_policy: str = Device.INHERIT,
) -> IssuedCredentials:
    """Give `user` a new device with generated SIP credentials, within the tenant's limit.
    `transport_policy`: its own (`any`, `tls_srtp_required`) or `inherit` the organisation's."""
    if user.tenant_id is None:
        raise DomainError(
            "Only users of an organisation have devices.", code="no_tenant", field="user"
        )
    # Lock the user row: two concurrent creates must not both slip under the limit.
    owner = User.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=user.pk)
    if not owner.is_active:
        raise Conflict("This user is deactivated.", code="user_inactive")
    tenant = owner.tenant
    if tenant is None:  # pragma: no cover - checked above via user.tenant_id
        raise DomainError("Only users of an organisation have devices.", code="no_tenant")
    active = Device.objects.filter(user=owner, revoked_at__isnull=True).count()
    if active >= tenant.max_devices_per_user:
        raise Conflict(
            f"This user already has {active} devices, the organisation's limit.",
            code="device_limit_reached",
        )
    device = Device(
        tenant=tenant,
        user=owner,
        kind=kind,
        label=label,
        mac_address=_mac(kind, mac_address),
        model=model,
        allowed_networks=_networks(allowed_networks),
        transport_policy=transport_policy,
    )
    while True:
        device.sip_username = credentials.generate_sip_username(kind)
        if not Device.objects.filter(tenant=tenant, sip_username=device.sip_username).exists():
            break
    secret = _set_secret(device, tenant.sip_domain)
    device.full_clean(exclude=["tenant", "user", "mac_address"])
    with unique_violation_as(
        "device_mac_unique_while_active",
        field="mac_address",
        code="mac_address_taken",
        detail="Another active device has this MAC address.",
    ):
        device.save()
    _publish(device, "device.created")
    return IssuedCredentials(device=device, secret=secret)


def _publish(device: Device, event_type: str) -> None:
    """Tell the owner's apps, and recompile the owner's routing, once the change commits."""
    generations.people_changed([device.user_id])
    send_event_on_commit(
        user_ids=[device.user_id],
        type=event_type,
        data={
            "device_id": device.pk,
            "kind": device.kind,
            "label": device.label,
            "state": device.state,
        },
    )


def _forget_credentials(device: Device) -> None:
    """What `kamailio_subscriber` returns for the device changed: the engine forgets the
    credentials it holds in memory once this commits (Celery)."""
    credentials_forget_on_commit(
        accounts=[
            account_key(sip_username=device.sip_username, sip_domain=device.tenant.sip_domain)
        ]
    )


# Fields of a device that `kamailio_subscriber` reads (pbx/engine/sql.py).
SUBSCRIBER_FIELDS = frozenset({"enabled", "allowed_networks", "transport_policy"})


def _drop_from_engine(device: Device) -> None:
    """Forget its registrations here now, and in the engine once this commits (Celery)."""
    Registration.objects.filter(device=device).delete()
    device_id = device.pk
    transaction.on_commit(lambda: drop_device_registrations.delay(device_id))


def device_transport_policy_enforce(*, device: Device) -> bool:
    """After its policy changed: no downgrade is kept alive. A device that must use TLS but
    holds a registration over another transport loses it (here and in the engine); the phone
    registers again over TLS, or is refused. True when registrations were dropped."""
    if device.effective_transport_policy != TransportPolicy.TLS_SRTP_REQUIRED:
        return False
    registrations = Registration.objects.filter(device=device)
    if not registrations.exclude(transport__in=ENCRYPTED_TRANSPORTS).exists():
        return False
    _drop_from_engine(device)
    return True


def _require_not_revoked(device: Device) -> None:
    if device.revoked_at is not None:
        raise Conflict("This device was revoked.", code="device_revoked")


@transaction.atomic
def device_rotate_secret(*, device: Device) -> IssuedCredentials:
    """Issue a new secret; the old one stops working for new registrations at once."""
    device = (
        Device.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=device.pk)
    )
    _require_not_revoked(device)
    secret = _set_secret(device, device.tenant.sip_domain)
    device.save(update_fields=["ha1", "ha1b", "secret_rotated_at", "updated_at"])
    _forget_credentials(device)
    _publish(device, "device.secret_rotated")
    return IssuedCredentials(device=device, secret=secret)


@transaction.atomic
def device_update(*, device: Device, data: Mapping[str, Any]) -> Device:
    _require_not_revoked(device)
    data = dict(data)
    if "allowed_networks" in data:
        data["allowed_networks"] = _networks(data["allowed_networks"])
    if "mac_address" in data:
        data["mac_address"] = _mac(device.kind, data["mac_address"])
    with unique_violation_as(
        "device_mac_unique_while_active",
        field="mac_address",
        code="mac_address_taken",
        detail="Another active device has this MAC address.",
    ):
        changed = model_update(
            instance=device,
            data=data,
            fields={
                "label",
                "enabled",
                "allowed_networks",
                "mac_address",
                "model",
                "transport_policy",
            },
        )
    if SUBSCRIBER_FIELDS.intersection(changed):
        _forget_credentials(device)
    if "enabled" in changed and not device.enabled:
        _drop_from_engine(device)
    elif "transport_policy" in changed:
        device_transport_policy_enforce(device=device)
    if changed:
        _publish(device, "device.updated")
    return device


@transaction.atomic
def device_revoke(*, device: Device) -> Device:
    """Revoke for good: it can never register again and its push token is forgotten.
    Idempotent: revoking a revoked device changes nothing."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device.enabled = False
        device.save(update_fields=["revoked_at", "enabled", "updated_at"])
        PushBinding.objects.filter(device=device).delete()
        _forget_credentials(device)
        _drop_from_engine(device)
        _publish(device, "device.revoked")
    return device


WEB_SOFTPHONE_LABEL = "Web softphone"


@transaction.atomic
def web_softphone_ensure(*, user: User) -> tuple[Device, bool]:
    """The person's browser softphone (the portal's Softphone page), created on first use: one
    per person. A revoked one is replaced by a new device (new credentials); a disabled one is
    returned as it is (the caller refuses to use it). Returns (device, created). The secret
    generated for a new one is dropped: the browser authenticates with the stored HA1."""
    # Lock the user row: two first visits at once (two tabs) must not make two devices.
    owner = User.objects.select_for_update(of=("self",)).get(pk=user.pk)
    existing = (
        Device.objects.filter(user=owner, kind=Device.Kind.WEB_SOFTPHONE, revoked_at__isnull=True)
        .select_related("tenant")
        .order_by("created_at", "id")
        .first()
    )
    if existing is not None:
        return existing, False
    issued = device_create(user=owner, kind=Device.Kind.WEB_SOFTPHONE, label=WEB_SOFTPHONE_LABEL)
    return issued.device, True
