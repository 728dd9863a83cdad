"""Writes of the audit trail. The edges (the API's viewset base, the admin mixin, the portal's
views) call these inside the transaction of the change they record, so a change and its entry
commit or roll back together. No signals: an entry is written because a caller asked for it.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction

from pbx.audit.actors import Actor
from pbx.audit.domain import FieldChange, changes_between
from pbx.audit.models import AuditEntry
from pbx.audit.snapshots import object_type, snapshot
from pbx.directory.models import Tenant


@dataclass(frozen=True, slots=True)
class Subject:
    """One object as the trail sees it at one instant."""

    object_type: str
    object_id: str
    label: str
    tenant_id: int | None
    values: dict[str, Any] = field(default_factory=dict)


def _tenant_id(instance: models.Model) -> int | None:
    if isinstance(instance, Tenant):
        return instance.pk
    if hasattr(instance, "tenant_id"):
        return instance.tenant_id  # type: ignore[no-any-return]
    owner = getattr(instance, "user", None)  # a routing profile, an API session
    return getattr(owner, "tenant_id", None)


def audit_subject(instance: models.Model | None) -> Subject | None:
    if instance is None:
        return None
    return Subject(
        object_type=object_type(type(instance)),
        object_id=str(instance.pk),
        label=str(instance)[:200],
        tenant_id=_tenant_id(instance),
        values=snapshot(instance),
    )


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    changes: Mapping[str, FieldChange | str],
    tenant_id: int | None,
    object_repr: str = "",
) -> AuditEntry:
    """Append one entry. `changes` must already be redacted (see `domain.changes_between`)."""
    return AuditEntry.objects.create(
        tenant_id=tenant_id,
        actor_id=actor.user_id,
        actor_label=actor.label[:254],
        channel=actor.channel,
        credential=actor.credential,
        api_session_id=actor.api_session_id,
        address=actor.address,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:200],
        action=action,
        changes=dict(changes),
    )


def audit_subject_change(
    *, actor: Actor, before: Subject | None, after: Subject | None, action: str | None = None
) -> AuditEntry | None:
    """Record what changed between two views of one object. Without an explicit `action` it is
    inferred (create, delete, update), and an update that changed nothing is not recorded; a
    named action (revoke, rotate_secret, pin_reset, ...) is recorded even when no stored field
    changed, because it happened."""
    subject = after or before
    if subject is None:
        return None
    changes = changes_between(before.values if before else {}, after.values if after else {})
    if action is None:
        action = "create" if before is None else "delete" if after is None else "update"
        if action == "update" and not changes:
            return None
    return audit_record(
        actor=actor,
        action=action,
        object_type=subject.object_type,
        object_id=subject.object_id,
        object_repr=subject.label,
        tenant_id=subject.tenant_id,  # none: platform-wide (a ban), only staff see it
        changes=changes,
    )


@dataclass
class PendingChange:
    """Handed to the body of `audit_change`: a create sets `lookup` once it knows the new pk."""

    lookup: dict[str, Any] | None
    action: str | None


def _load(model: type[models.Model], lookup: Mapping[str, Any] | None) -> models.Model | None:
    if not lookup:
        return None
    return model._default_manager.filter(**lookup).first()


@contextmanager
def audit_change(
    *,
    actor: Actor,
    model: type[models.Model],
    lookup: Mapping[str, Any] | None,
    action: str | None = None,
) -> Iterator[PendingChange]:
    """Run the body in a transaction and record how the object found by `lookup` changed: it is
    read from the database before and after (never the caller's instance, which the body may
    mutate in place). An exception rolls back the change and writes no entry."""
    with transaction.atomic():
        before = audit_subject(_load(model, lookup))
        pending = PendingChange(lookup=dict(lookup) if lookup else None, action=action)
        yield pending
        after = audit_subject(_load(model, pending.lookup))
        audit_subject_change(actor=actor, before=before, after=after, action=pending.action)


def audit_purge(*, older_than: datetime) -> int:
    """Delete the entries older than `older_than` (never any younger than 90 days): the
    retention period, and the only DELETE the table's trigger lets through (`pbx.audit.sql`).
    Returns how many went. Nothing schedules it: retention is the operator's decision."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_purge(%s)", [older_than])
        (removed,) = cursor.fetchone()
    return int(removed)
