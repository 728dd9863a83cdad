"""Compile a person's stored routing (RoutingProfile, templates, schedules, devices) into the
domain's CompiledRouting, and cache it.

Like Saleor's `fetch` modules: one place reads everything a decision needs, once, into frozen
dataclasses; the evaluator never touches the database.
"""

import logging
from collections.abc import Iterator
from typing import Any

from devices.models import Device, PushBinding
from pbx.directory.models import Extension, Tenant, User
from routing import cache
from routing.domain.documents import (
    DocumentContext,
    DocumentInvalid,
    default_document,
    parse_routing_document,
)
from routing.domain.evaluation import CompiledRouting, DeviceInfo, Treatment
from routing.domain.schedules import ScheduleError, WeeklySchedule, parse_schedule
from routing.models import RoutingProfile, RoutingTemplate, Schedule

logger = logging.getLogger(__name__)


class _Everything:
    """A collection that contains anything: stored documents were checked when saved; a
    reference that went stale since (a schedule deleted) must not break calls."""

    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0


def document_context(*, tenant: Tenant, owner: User | None) -> DocumentContext:
    """The strict context used when a document is saved."""
    devices = Device.objects.filter(tenant=tenant).values_list("id", "user_id", "revoked_at")
    return DocumentContext(
        owner_id=owner.pk if owner else None,
        device_owners={pk: (user_id, revoked is not None) for pk, user_id, revoked in devices},
        schedule_ids=set(usable_schedules(tenant=tenant, owner=owner).values_list("id", flat=True)),
        extensions=set(Extension.objects.filter(tenant=tenant).values_list("number", flat=True)),
        own_extensions=set(owner.extensions.values_list("number", flat=True)) if owner else set(),
    )


def usable_schedules(*, tenant: Tenant, owner: User | None) -> Any:
    shared = Schedule.objects.filter(tenant=tenant, owner__isnull=True)
    if owner is None:
        return shared
    return Schedule.objects.filter(tenant=tenant, owner__in=[owner]) | shared


def effective_document(*, user: User, stored: RoutingProfile | None) -> tuple[dict[str, Any], str]:
    """The document that applies to `user` and where it comes from."""
    if stored is not None and stored.document is not None:
        return stored.document, "own"
    if stored is not None and stored.template is not None:
        return stored.template.document, "template"
    default = RoutingTemplate.objects.filter(tenant=user.tenant, is_default=True).first()
    if default is not None:
        return default.document, "default_template"
    return default_document(), "built_in"


def _schedules(user: User) -> dict[int, WeeklySchedule]:
    parsed = {}
    assert user.tenant is not None  # noqa: S101 - routing profiles exist only for tenant users
    for row in usable_schedules(tenant=user.tenant, owner=user):
        try:
            parsed[row.pk] = parse_schedule(
                schedule_id=row.pk,
                name=row.name,
                time_zone=row.time_zone or None,
                weekly=row.weekly,
                exceptions=row.exceptions,
            )
        except ScheduleError:
            logger.error("schedule %s is invalid in storage; ignored", row.pk)
    return parsed


def _device_info(device: Device) -> DeviceInfo:
    binding: PushBinding | None = getattr(device, "push_binding", None)
    return DeviceInfo(
        id=device.pk,
        kind=device.kind,
        label=device.label,
        sip_username=device.sip_username,
        enabled=device.enabled,
        revoked=device.revoked_at is not None,
        push_capable=device.kind == Device.Kind.MOBILE_APP
        and binding is not None
        and binding.dead_at is None,
    )


def routing_profile_build(*, user_id: int) -> CompiledRouting:
    user = User.objects.select_related("tenant").get(pk=user_id)
    stored = RoutingProfile.objects.select_related("template").filter(user=user).first()
    devices = tuple(
        _device_info(d) for d in Device.objects.filter(user=user).select_related("push_binding")
    )
    raw, _ = effective_document(user=user, stored=stored)
    lenient = DocumentContext(
        owner_id=user.pk,
        device_owners={d.id: (user.pk, False) for d in devices},
        schedule_ids=_Everything(),
        extensions=_Everything(),
        outside_numbers=True,
    )
    try:
        document = parse_routing_document(raw, lenient)
    except DocumentInvalid as exc:
        logger.error(
            "routing document of user %s is invalid in storage (%s); using the default",
            user.pk,
            exc.errors,
        )
        document = parse_routing_document(default_document(), lenient)
    assert user.tenant is not None  # noqa: S101
    return CompiledRouting(
        user_id=user.pk,
        time_zone=user.effective_time_zone,
        max_ring_seconds=user.tenant.max_ring_seconds,
        document=document,
        schedules=_schedules(user),
        devices=devices,
        treatment=_treatment(stored),
    )


def _treatment(stored: RoutingProfile | None) -> Treatment:
    if stored is None:
        return Treatment()
    return Treatment(
        dnd=stored.dnd,
        dnd_until=stored.dnd_until,
        forward_always=stored.forward_always or None,
        forward_on_busy=stored.forward_on_busy or None,
        forward_on_no_answer=stored.forward_on_no_answer or None,
        max_concurrent_calls=stored.max_concurrent_calls,
    )


def routing_profile_for(*, user_id: int, tenant_id: int) -> CompiledRouting:
    """The compiled profile, from the cache when it is still current."""
    return cache.cached_profile(
        user_id=user_id, tenant_id=tenant_id, build=lambda: routing_profile_build(user_id=user_id)
    )
