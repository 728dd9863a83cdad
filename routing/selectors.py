"""Reads of routing configuration and of call history, scoped to the caller."""

from datetime import datetime

from django.db.models import Case, CharField, F, OuterRef, Q, QuerySet, Subquery, Value, When

from devices.models import Device
from pbx.directory.models import Extension, Tenant, User
from routing.models import Call, RoutingTemplate, Schedule

# What a call answered on another of the person's devices reads as, seen from one device.
ANSWERED_ELSEWHERE = "answered_elsewhere"
DEVICE_OUTCOMES = (*Call.Outcome.values, ANSWERED_ELSEWHERE)


def schedule_list(*, tenant: Tenant, actor: User) -> QuerySet[Schedule]:
    """Shared schedules and the caller's own."""
    return Schedule.objects.filter(Q(owner__isnull=True) | Q(owner=actor), tenant=tenant)


def template_list(*, tenant: Tenant, actor: User) -> QuerySet[RoutingTemplate]:
    return RoutingTemplate.objects.filter(tenant=tenant)


def _display_name_of(number: str) -> Subquery:
    """The display name of the organisation's extension whose number is in column `number`."""
    return Subquery(
        Extension.objects.filter(tenant_id=OuterRef("tenant_id"), number=OuterRef(number))
        .order_by()
        .values("display_name")[:1]
    )


def call_list(
    *,
    tenant: Tenant,
    actor: User,
    callee: User | None = None,
    seen_from: Device | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Call]:
    """Calls to people of `tenant`, newest first: tenant admins see everyone's, members their own.

    `seen_from` (a device) narrows the list to its owner's calls and annotates each call with
    `device_outcome`: its outcome as that device saw it, where a call answered on any other
    device (another of the person's, a colleague's on an extension target, or none known)
    reads `answered_elsewhere`. The API and the portal both read this annotation, so they can
    never disagree. Without `seen_from`, `device_outcome` is None.

    Constant query count: the callee and the answering device are joined, the display names of
    the caller's and the callee's extensions are subqueries of the same SELECT.
    """
    calls = Call.objects.filter(tenant=tenant)
    if not actor.is_tenant_admin:
        calls = calls.filter(callee=actor)
    if callee is not None:
        calls = calls.filter(callee=callee)
    if seen_from is not None:
        calls = calls.filter(callee_id=seen_from.user_id)
        device_outcome: Case | Value = Case(
            When(outcome=Call.Outcome.ANSWERED, answered_device_id=seen_from.pk, then=F("outcome")),
            When(outcome=Call.Outcome.ANSWERED, then=Value(ANSWERED_ELSEWHERE)),
            default=F("outcome"),
            output_field=CharField(),
        )
    else:
        device_outcome = Value(None, output_field=CharField())
    if outcome is not None:
        calls = calls.filter(outcome=outcome)
    if since is not None:
        calls = calls.filter(started_at__gte=since)
    if until is not None:
        calls = calls.filter(started_at__lt=until)
    return (
        calls.select_related("callee", "answered_device")
        .annotate(
            device_outcome=device_outcome,
            caller_display_name=_display_name_of("caller"),
            callee_display_name=_display_name_of("extension"),
        )
        .order_by("-started_at", "-id")
    )
