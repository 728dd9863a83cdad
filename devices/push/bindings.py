"""Writes to push bindings: the token that wakes a mobile app, from the API or from RFC 8599
parameters in its REGISTER."""

from django.db import transaction
from django.utils import timezone

from devices.domain.push import (
    InvalidPushToken,
    PushProvider,
    normalise_push_token,
    validate_app_id,
)
from devices.models import Device, PushBinding
from pbx.directory import generations
from pbx.errors import Conflict, DomainError


@transaction.atomic
def push_binding_register(
    *, device: Device, provider: str, token: str, app_id: str, environment: str = "production"
) -> PushBinding:
    """Register or refresh the push token of a mobile app.

    One binding per device: a refresh replaces the old token. The same token registered for
    another device (the app was signed in as someone else on the same phone) moves here, so the
    previous user's calls never wake this phone.
    """
    if device.revoked_at is not None:
        raise Conflict("This device was revoked.", code="device_revoked")
    if device.kind != Device.Kind.MOBILE_APP:
        raise Conflict("Only mobile app devices have push tokens.", code="not_a_mobile_app")
    try:
        provider_enum = PushProvider(provider)
        normalised = normalise_push_token(provider_enum, token)
    except InvalidPushToken as exc:
        raise DomainError(str(exc), code=exc.code, field="token") from exc
    except ValueError as exc:
        raise DomainError(
            "Unknown push provider.", code="invalid_choice", field="provider"
        ) from exc
    try:
        validate_app_id(app_id, provider_enum)
    except ValueError as exc:
        raise DomainError(str(exc), code="invalid_app_id", field="app_id") from exc
    if provider_enum is PushProvider.FCM and environment != PushBinding.Environment.PRODUCTION:
        raise DomainError(
            "FCM has no sandbox environment.", code="invalid_environment", field="environment"
        )

    PushBinding.objects.filter(provider=provider_enum.value, token=normalised).exclude(
        device=device
    ).delete()
    generations.people_changed([device.user_id])  # push capability changes who can be woken
    binding, _ = PushBinding.objects.update_or_create(
        device=device,
        defaults={
            "provider": provider_enum.value,
            "token": normalised,
            "app_id": app_id,
            "environment": environment,
            "refreshed_at": timezone.now(),
            "dead_at": None,
            "dead_reason": "",
        },
    )
    return binding


def push_binding_delete(*, device: Device) -> bool:
    generations.people_changed([device.user_id])
    deleted, _ = PushBinding.objects.filter(device=device).delete()
    return bool(deleted)
