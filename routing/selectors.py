"""Reads of routing configuration, scoped to the caller."""

from django.db.models import Q, QuerySet

from pbx.directory.models import Tenant, User
from routing.models import RoutingTemplate, Schedule


def schedule_list(*, tenant: Tenant, actor: User) -> QuerySet[Schedule]:
    """Shared schedules and the caller's own."""
    return Schedule.objects.filter(Q(owner__isnull=True) | Q(owner=actor), tenant=tenant)


def template_list(*, tenant: Tenant, actor: User) -> QuerySet[RoutingTemplate]:
    return RoutingTemplate.objects.filter(tenant=tenant)
