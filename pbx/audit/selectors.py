"""Reads of the audit trail, always inside one organisation."""

from datetime import datetime

from django.db.models import QuerySet

from pbx.audit.models import AuditEntry
from pbx.directory.models import Tenant


def audit_entry_list(
    *,
    tenant: Tenant,
    actor_id: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    """The organisation's entries, newest first; `since` inclusive, `until` exclusive."""
    entries = AuditEntry.objects.filter(tenant_id=tenant.pk)
    if actor_id is not None:
        entries = entries.filter(actor_id=actor_id)
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id:
        entries = entries.filter(object_id=object_id)
    if action:
        entries = entries.filter(action=action)
    if since is not None:
        entries = entries.filter(at__gte=since)
    if until is not None:
        entries = entries.filter(at__lt=until)
    return entries.order_by("-at", "-id")
