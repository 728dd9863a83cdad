"""Writes to routing: documents, treatment (DND, forwarding), templates, schedules.

Every write validates with the pure domain parser against the organisation's current devices,
schedules and extensions, stores the canonical form, and invalidates compiled profiles after
commit.
"""

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from pbx.directory import generations
from pbx.directory.models import Tenant, User
from pbx.errors import Conflict, DomainError, FieldErrors
from pbx.events.publish import send_event_on_commit
from pbx.persistence import model_update, unique_violation_as
from routing.domain.documents import (
    DocumentInvalid,
    check_destination,
    dump_routing_document,
    parse_routing_document,
)
from routing.domain.schedules import ScheduleError, parse_schedule
from routing.models import RoutingProfile, RoutingTemplate, Schedule
from routing.profiles import document_context


def _tenant_of(user: User) -> Tenant:
    if user.tenant is None:
        raise DomainError("Only users of an organisation have routing.", code="no_tenant")
    return user.tenant


def _stored(user: User) -> RoutingProfile:
    stored, _ = RoutingProfile.objects.select_for_update().get_or_create(user=user)
    return stored


def _changed(*user_ids: int) -> None:
    """Recompile these people's routing and tell their open portals and apps."""
    generations.people_changed(user_ids)
    send_event_on_commit(user_ids=user_ids, type="routing.updated", data={})


def _template_changed(template: RoutingTemplate) -> None:
    generations.organisation_changed(template.tenant_id)
    followers = template.profiles.filter(document__isnull=True).values_list("user_id", flat=True)
    send_event_on_commit(user_ids=list(followers), type="routing.updated", data={})


def _canonical(document: Any, *, tenant: Tenant, owner: User | None, prefix: str) -> dict[str, Any]:
    try:
        parsed = parse_routing_document(document, document_context(tenant=tenant, owner=owner))
    except DocumentInvalid as exc:
        raise FieldErrors(exc.errors, prefix=prefix) from exc
    return dump_routing_document(parsed)


@transaction.atomic
def routing_document_set(*, user: User, document: Any) -> RoutingProfile:
    """Give `user` their own document (overriding their template)."""
    canonical = _canonical(document, tenant=_tenant_of(user), owner=user, prefix="document.")
    stored = _stored(user)
    stored.document = canonical
    stored.save(update_fields=["document", "updated_at"])
    _changed(user.pk)
    return stored


@transaction.atomic
def routing_document_reset(*, user: User) -> RoutingProfile:
    """Drop the user's own document: they follow their template again."""
    stored = _stored(user)
    if stored.document is not None:
        stored.document = None
        stored.save(update_fields=["document", "updated_at"])
        _changed(user.pk)
    return stored


TREATMENT_FIELDS = {
    "dnd",
    "dnd_until",
    "forward_always",
    "forward_on_busy",
    "forward_on_no_answer",
    "max_concurrent_calls",
}
_FORWARDS = ("forward_always", "forward_on_busy", "forward_on_no_answer")


@transaction.atomic
def routing_treatment_update(*, user: User, data: Mapping[str, Any]) -> RoutingProfile:
    """Do-not-disturb, forwarding and the concurrent-call limit."""
    tenant = _tenant_of(user)
    changes = dict(data)
    targets = [name for name in _FORWARDS if changes.get(name)]
    if targets:
        ctx = document_context(tenant=tenant, owner=user)
        errors: dict[str, list[tuple[str, str]]] = {}
        for name in targets:
            try:
                changes[name] = check_destination(changes[name], ctx, name)
            except DocumentInvalid as exc:
                errors.update(exc.errors)
        if errors:
            raise FieldErrors(errors)
    for name in _FORWARDS:
        if name in changes and changes[name] is None:
            changes[name] = ""
    stored = _stored(user)
    if model_update(instance=stored, data=changes, fields=TREATMENT_FIELDS):
        _changed(user.pk)
    return stored


@transaction.atomic
def routing_template_assign(*, user: User, template: RoutingTemplate | None) -> RoutingProfile:
    if template is not None and template.tenant_id != user.tenant_id:
        raise DomainError("No such template.", code="not_found", field="template")
    stored = _stored(user)
    if stored.template_id != (template.pk if template else None):
        stored.template = template
        stored.save(update_fields=["template", "updated_at"])
        _changed(user.pk)
    return stored


def _template_name_unique() -> Any:
    return unique_violation_as(
        "routing_template_name_unique",
        field="name",
        code="name_taken",
        detail="A template has this name.",
    )


def _single_default(tenant: Tenant, keep: RoutingTemplate | None) -> None:
    others = RoutingTemplate.objects.filter(tenant=tenant, is_default=True)
    if keep is not None:
        others = others.exclude(pk=keep.pk)
    others.update(is_default=False)


@transaction.atomic
def routing_template_create(
    *, tenant: Tenant, name: str, document: Any, description: str = "", is_default: bool = False
) -> RoutingTemplate:
    canonical = _canonical(document, tenant=tenant, owner=None, prefix="document.")
    if is_default:
        _single_default(tenant, None)
    template = RoutingTemplate(
        tenant=tenant, name=name, description=description, document=canonical, is_default=is_default
    )
    with _template_name_unique():
        template.save()
    generations.organisation_changed(tenant.pk)
    return template


@transaction.atomic
def routing_template_update(
    *, template: RoutingTemplate, data: Mapping[str, Any]
) -> RoutingTemplate:
    """Changing a template changes the routing of everyone who follows it."""
    changes = dict(data)
    if "document" in changes:
        changes["document"] = _canonical(
            changes["document"], tenant=template.tenant, owner=None, prefix="document."
        )
    if changes.get("is_default"):
        _single_default(template.tenant, template)
    with _template_name_unique():
        model_update(
            instance=template,
            data=changes,
            fields={"name", "description", "document", "is_default"},
        )
    _template_changed(template)
    return template


@transaction.atomic
def routing_template_delete(*, template: RoutingTemplate) -> None:
    """People on this template fall back to the organisation's default."""
    _template_changed(template)
    template.delete()


def _check_schedule(data: Mapping[str, Any], schedule_id: int) -> None:
    try:
        parse_schedule(
            schedule_id=schedule_id,
            name=str(data.get("name", "")),
            time_zone=data.get("time_zone") or None,
            weekly=data.get("weekly", []),
            exceptions=data.get("exceptions", []),
        )
    except ScheduleError as exc:
        raise FieldErrors({exc.path: [(exc.code, str(exc))]}) from exc


def _schedule_name_unique(shared: bool) -> Any:
    return unique_violation_as(
        "schedule_shared_name_unique" if shared else "schedule_personal_name_unique",
        field="name",
        code="name_taken",
        detail="A schedule has this name.",
    )


def _invalidate_for(schedule: Schedule) -> None:
    if schedule.owner_id is None:
        generations.organisation_changed(schedule.tenant_id)
    else:
        generations.people_changed([schedule.owner_id])


@transaction.atomic
def schedule_create(
    *,
    tenant: Tenant,
    owner: User | None,
    name: str,
    time_zone: str = "",
    weekly: list[Any] | None = None,
    exceptions: list[Any] | None = None,
) -> Schedule:
    data = {
        "name": name,
        "time_zone": time_zone,
        "weekly": weekly or [],
        "exceptions": exceptions or [],
    }
    _check_schedule(data, 0)
    schedule = Schedule(tenant=tenant, owner=owner, **data)
    with _schedule_name_unique(owner is None):
        schedule.save()
    _invalidate_for(schedule)
    return schedule


@transaction.atomic
def schedule_update(*, schedule: Schedule, data: Mapping[str, Any]) -> Schedule:
    merged = {
        "name": schedule.name,
        "time_zone": schedule.time_zone,
        "weekly": schedule.weekly,
        "exceptions": schedule.exceptions,
    } | dict(data)
    _check_schedule(merged, schedule.pk)
    with _schedule_name_unique(schedule.owner_id is None):
        model_update(
            instance=schedule, data=data, fields={"name", "time_zone", "weekly", "exceptions"}
        )
    _invalidate_for(schedule)
    return schedule


def _documents_of(tenant: Tenant) -> list[tuple[str, Any]]:
    documents: list[tuple[str, Any]] = [
        (f"template '{name}'", document)
        for name, document in RoutingTemplate.objects.filter(tenant=tenant).values_list(
            "name", "document"
        )
    ]
    documents += [
        (f"routing of {email}", document)
        for email, document in RoutingProfile.objects.filter(
            user__tenant=tenant, document__isnull=False
        ).values_list("user__email", "document")
    ]
    return documents


@transaction.atomic
def schedule_delete(*, schedule: Schedule) -> None:
    """Refused while a rule uses the schedule: calls would silently change behaviour."""
    users = [
        where
        for where, document in _documents_of(schedule.tenant)
        if any(rule.get("schedule_id") == schedule.pk for rule in document.get("rules", []))
    ]
    if users:
        raise Conflict(
            f"The schedule is used by {', '.join(sorted(users))}.", code="schedule_in_use"
        )
    _invalidate_for(schedule)
    schedule.delete()
