"""Writes to the directory. Keyword-only, transactional, tenant rules enforced here."""

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from pbx.directory import domain, generations
from pbx.directory.models import Extension, PhoneNumber, Tenant, TransportPolicy, User
from pbx.directory.networks import InvalidNetwork, normalise_networks
from pbx.engine.credentials import account_key, credentials_forget_on_commit
from pbx.errors import Conflict, DomainError
from pbx.persistence import model_update, unique_violation_as
from pbx.tokens.services import api_sessions_revoke_for_user


def _sip_domain_unique() -> AbstractContextManager[None]:
    return unique_violation_as(
        "sip_domain",
        field="sip_domain",
        code="sip_domain_taken",
        detail="This SIP domain is in use.",
    )


@dataclass(frozen=True)
class ExtensionSpec:
    number: str
    display_name: str = ""


def _networks(texts: Sequence[str]) -> list[str]:
    try:
        return normalise_networks(texts)
    except InvalidNetwork as exc:  # a ValueError: unhandled, it was a 500
        raise DomainError(str(exc), code=exc.code, field="allowed_registration_networks") from exc


def tenant_create(
    *,
    name: str,
    sip_domain: str,
    time_zone: str = "UTC",
    max_devices_per_user: int = 10,
    max_ring_seconds: int = 180,
    allowed_registration_networks: Sequence[str] = (),
    default_transport_policy: str = TransportPolicy.ANY,
) -> Tenant:
    tenant = Tenant(
        name=name,
        sip_domain=domain.normalise_sip_domain(sip_domain),
        time_zone=domain.validate_time_zone(time_zone),
        max_devices_per_user=max_devices_per_user,
        max_ring_seconds=max_ring_seconds,
        allowed_registration_networks=_networks(allowed_registration_networks),
        default_transport_policy=default_transport_policy,
    )
    tenant.full_clean(exclude=["sip_domain"])
    with _sip_domain_unique():
        tenant.save()
    return tenant


# Fields of an organisation that `kamailio_subscriber` reads (pbx/engine/sql.py) for each of its
# devices.
SUBSCRIBER_TENANT_FIELDS = frozenset(
    {"sip_domain", "is_active", "allowed_registration_networks", "default_transport_policy"}
)


def devices_credentials_forget(*, tenant: Tenant, user: User | None = None) -> None:
    """The engine forgets, once this commits, the cached credentials of every device of the
    organisation (or of one person): one entry per device, so other organisations' stay warm.
    The devices are reached through the reverse relations (this app does not import `devices`)."""
    devices = user.devices.all() if user is not None else tenant.devices.all()
    credentials_forget_on_commit(
        accounts=[
            account_key(sip_username=name, sip_domain=tenant.sip_domain)
            for name in devices.values_list("sip_username", flat=True)
        ]
    )


@transaction.atomic
def tenant_update(*, tenant: Tenant, data: Mapping[str, Any]) -> Tenant:
    data = dict(data)
    if "sip_domain" in data:
        new_domain = domain.normalise_sip_domain(data["sip_domain"])
        if new_domain != tenant.sip_domain and tenant.devices.exists():
            raise Conflict(
                "The SIP domain is the digest realm of every device's credentials; it cannot "
                "change while the organisation has devices.",
                code="sip_domain_in_use",
            )
        data["sip_domain"] = new_domain
    if "allowed_registration_networks" in data:
        data["allowed_registration_networks"] = _networks(data["allowed_registration_networks"])
    with _sip_domain_unique():
        changed = model_update(
            instance=tenant,
            data=data,
            fields={
                "name",
                "sip_domain",
                "time_zone",
                "max_devices_per_user",
                "max_ring_seconds",
                "allowed_registration_networks",
                "default_transport_policy",
                "is_active",
            },
        )
    if SUBSCRIBER_TENANT_FIELDS.intersection(changed):
        devices_credentials_forget(tenant=tenant)
    generations.organisation_changed(tenant.pk)  # time zone and ring-time cap feed every decision
    return tenant


def _check_password(password: str | None, user: User) -> None:
    if password is None:
        return
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(
            " ".join(exc.messages), code="password_too_weak", field="password"
        ) from exc


@transaction.atomic
def user_create(
    *,
    tenant: Tenant,
    email: str,
    role: str = User.Role.MEMBER,
    full_name: str = "",
    password: str | None = None,
    time_zone: str = "",
    mobile_number: str = "",
    extension: ExtensionSpec | None = None,
) -> User:
    """Create a user of `tenant`, optionally with their first extension, all or nothing."""
    if role == User.Role.PLATFORM_ADMIN:
        raise DomainError(
            "Platform admins are not created through a tenant.", code="invalid_role", field="role"
        )
    user = User(
        tenant=tenant,
        email=email.strip().lower(),
        role=role,
        full_name=full_name,
        time_zone=time_zone,
        mobile_number=domain.normalise_e164(mobile_number) if mobile_number else "",
    )
    _check_password(password, user)
    user.set_password(password)
    with unique_violation_as(
        "email", field="email", code="email_taken", detail="A user with this e-mail exists."
    ):
        user.save()
    if extension is not None:
        extension_create(
            tenant=tenant,
            owner=user,
            number=extension.number,
            display_name=extension.display_name or full_name or user.email,
            field_prefix="extension.",
        )
    return user


@transaction.atomic
def user_update(*, user: User, data: Mapping[str, Any]) -> User:
    data = dict(data)
    if data.get("role") == User.Role.PLATFORM_ADMIN:
        raise DomainError(
            "Platform admins are not managed through a tenant.", code="invalid_role", field="role"
        )
    if data.get("mobile_number"):
        data["mobile_number"] = domain.normalise_e164(data["mobile_number"])
    losing_admin = user.role == User.Role.TENANT_ADMIN and (
        data.get("role", user.role) != User.Role.TENANT_ADMIN
        or data.get("is_active", True) is False
    )
    if losing_admin and user.tenant_id is not None:
        admins = User.objects.select_for_update().filter(
            tenant_id=user.tenant_id, role=User.Role.TENANT_ADMIN, is_active=True
        )
        if [a.pk for a in admins] == [user.pk]:
            raise Conflict(
                "An organisation must keep at least one active administrator.",
                code="last_tenant_admin",
            )
    changed = model_update(
        instance=user,
        data=data,
        fields={"full_name", "role", "time_zone", "mobile_number", "is_active"},
    )
    if "is_active" in changed and user.tenant is not None:
        devices_credentials_forget(tenant=user.tenant, user=user)
    if "is_active" in changed and not user.is_active:
        api_sessions_revoke_for_user(user=user, reason="user_deactivated")
    if "time_zone" in changed:
        generations.people_changed([user.pk])
    return user


def user_set_password(*, user: User, password: str) -> None:
    _check_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])


def _check_owner(tenant: Tenant, owner: User, field: str) -> None:
    if owner.tenant_id != tenant.pk:
        raise DomainError("No such user in this organisation.", code="not_found", field=field)
    if not owner.is_active:
        raise DomainError("This user is deactivated.", code="user_inactive", field=field)


def extension_create(
    *, tenant: Tenant, owner: User, number: str, display_name: str, field_prefix: str = ""
) -> Extension:
    _check_owner(tenant, owner, f"{field_prefix}owner")
    try:
        domain.validate_extension_number(number)
    except domain.InvalidValue as exc:
        raise DomainError(str(exc), code=exc.code, field=f"{field_prefix}number") from exc
    extension = Extension(tenant=tenant, owner=owner, number=number, display_name=display_name[:80])
    with unique_violation_as(
        "extension_number_unique_in_tenant",
        field=f"{field_prefix}number",
        code="extension_number_taken",
        detail=f"Extension {number} already exists in this organisation.",
    ):
        extension.save()
    return extension


def extension_update(*, extension: Extension, data: Mapping[str, Any]) -> Extension:
    if "owner" in data:
        _check_owner(extension.tenant, data["owner"], "owner")
    with unique_violation_as(
        "extension_number_unique_in_tenant",
        field="number",
        code="extension_number_taken",
        detail="This extension number already exists in this organisation.",
    ):
        model_update(instance=extension, data=data, fields={"number", "owner", "display_name"})
    return extension


def extension_delete(*, extension: Extension) -> None:
    extension.delete()


def _check_extension(tenant: Tenant, extension: Extension | None) -> None:
    if extension is not None and extension.tenant_id != tenant.pk:
        raise DomainError(
            "No such extension in this organisation.", code="not_found", field="extension"
        )


def phone_number_create(
    *, tenant: Tenant, number: str, extension: Extension | None = None, label: str = ""
) -> PhoneNumber:
    _check_extension(tenant, extension)
    try:
        e164 = domain.normalise_e164(number)
    except domain.InvalidValue as exc:
        raise DomainError(str(exc), code=exc.code, field="number") from exc
    phone_number = PhoneNumber(tenant=tenant, number=e164, extension=extension, label=label)
    with unique_violation_as(
        "number",
        field="number",
        code="phone_number_taken",
        detail="This number is already assigned.",
    ):
        phone_number.save()
    return phone_number


def phone_number_update(*, phone_number: PhoneNumber, data: Mapping[str, Any]) -> PhoneNumber:
    if "extension" in data:
        _check_extension(phone_number.tenant, data["extension"])
    model_update(instance=phone_number, data=data, fields={"extension", "label"})
    return phone_number


def phone_number_delete(*, phone_number: PhoneNumber) -> None:
    phone_number.delete()
