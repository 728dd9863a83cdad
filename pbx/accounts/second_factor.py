"""The second factor: an authenticator app (TOTP, django-otp's otp_totp) and single-use
recovery codes (otp_static).

Recovery codes are stored as a keyed digest (django-otp would keep them in clear text): a copy
of the database does not hand out codes. A person has at most one confirmed authenticator and
one set of recovery codes; enrolling again or regenerating replaces the old ones.
"""

import hashlib
import hmac
import secrets
from base64 import b32encode
from dataclasses import dataclass
from typing import Any

import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from pbx.audit.actors import SYSTEM, Actor
from pbx.audit.services import audit_record
from pbx.directory.models import User
from pbx.errors import DomainError

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_RECOVERY_LENGTH = 10  # ~49 bits each


@dataclass(frozen=True)
class Enrolment:
    """What a person needs to add the account to an authenticator app."""

    device: TOTPDevice
    secret: str  # base32, for typing in by hand
    uri: str  # otpauth:// URI
    qr_svg: str


def second_factor_required(user: User) -> bool:
    """Platform staff and tenant admins must use one; members may (once they enrolled, they
    must give a code at every sign-in too)."""
    return user.is_platform_admin or user.is_tenant_admin


def second_factor_enrolled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def session_verified(request: HttpRequest) -> bool:
    """The signed-in session passed the second factor (django-otp's OTPMiddleware)."""
    user = getattr(request, "user", None)
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def session_lacks_second_factor(user: User, session: Any) -> bool:
    """For sessions read outside a request (WebSockets): the person has or needs a second
    factor and this session did not pass it."""
    if not (second_factor_required(user) or second_factor_enrolled(user)):
        return False
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is None or device.user_id != user.pk or not device.confirmed


def _recovery_digest(code: str) -> str:
    """The stored form of a recovery code: HMAC-SHA256 under the secret key, 16 hex digits
    (StaticToken.token holds 16 characters)."""
    normalised = "".join(code.split()).replace("-", "").lower()
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()[:16]


def _audit(actor: Actor, user: User, action: str) -> None:
    """The person's account changed: recorded on the person, never with a key or a code."""
    audit_record(
        actor=actor,
        action=action,
        object_type="directory.user",
        object_id=str(user.pk),
        changes={},
        tenant_id=user.tenant_id,
        object_repr=user.email,
    )


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def totp_enrolment_start(*, user: User) -> Enrolment:
    """An unconfirmed authenticator for `user` (the same one until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    uri = device.config_url
    return Enrolment(
        device=device,
        secret=b32encode(device.bin_key).decode(),
        uri=uri,
        qr_svg=segno.make(uri, error="m").svg_inline(scale=4, dark="#111", light="#fff"),
    )


@transaction.atomic
def totp_enrolment_confirm(
    *, user: User, code: str, actor: Actor = SYSTEM
) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending authenticator with a code it shows; replaces any earlier one and
    issues fresh recovery codes (returned once, never stored in clear)."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("pk")
        .first()
    )
    if device is None:
        raise DomainError("Start the set-up again.", code="enrolment_missing", field="code")
    if not device.verify_token(_digits(code)):
        raise DomainError("That code is not right.", code="otp_invalid", field="code")
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    _audit(actor, user, "second_factor_enrolled")
    return device, _recovery_codes_replace(user)


@transaction.atomic
def recovery_codes_issue(*, user: User, actor: Actor = SYSTEM) -> list[str]:
    """A new set of recovery codes; the old set stops working."""
    _audit(actor, user, "recovery_codes_issued")
    return _recovery_codes_replace(user)


def _recovery_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        [StaticToken(device=device, token=_recovery_digest(code)) for code in codes]
    )
    return codes


@transaction.atomic
def second_factor_remove(*, user: User, actor: Actor = SYSTEM) -> None:
    _audit(actor, user, "second_factor_removed")
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def _digits(code: str) -> str:
    return "".join(code.split())


def second_factor_verify(*, user: User, code: str) -> Device | None:
    """The device that accepts `code` (a six-digit authenticator code, or a recovery code,
    which is used up), or None. django-otp refuses a TOTP code already used (replay)."""
    compact = _digits(code)
    if not compact or len(compact) > 32:
        return None
    with transaction.atomic():
        if compact.isdigit() and len(compact) <= 8:  # an app's code (a recovery code has 10)
            for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(compact):
                    return device
            return None
        digest = _recovery_digest(compact)
        for static in StaticDevice.objects.select_for_update().filter(user=user, confirmed=True):
            if static.verify_token(digest):
                return static
    return None
