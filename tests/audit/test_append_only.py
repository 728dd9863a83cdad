"""The trail is append-only in PostgreSQL itself: UPDATE and DELETE fail at the database, from
the ORM or raw SQL; only `audit_purge` removes entries, and only those older than its cutoff."""

from datetime import datetime, timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from pbx.audit.actors import SYSTEM
from pbx.audit.models import AuditEntry
from pbx.audit.services import audit_purge, audit_record
from pbx.audit.sql import MINIMUM_RETENTION_DAYS

pytestmark = pytest.mark.django_db


def _entry(at: datetime | None = None) -> AuditEntry:
    """An entry as `audit_record` writes it; `at` back-dates it (inserting is allowed)."""
    return AuditEntry.objects.create(
        at=at or timezone.now(),
        actor_label=SYSTEM.label,
        channel=SYSTEM.channel,
        action="update",
        object_type="directory.tenant",
        object_id="1",
        changes={"name": {"before": "A", "after": "B"}},
    )


def test_audit_record_appends() -> None:
    entry = audit_record(
        actor=SYSTEM,
        action="update",
        object_type="directory.tenant",
        object_id="1",
        changes={"name": {"before": "A", "after": "B"}},
        tenant_id=None,
    )

    assert AuditEntry.objects.get().pk == entry.pk
    assert (entry.channel, entry.actor_label, entry.actor_id) == ("system", "system", None)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditentry SET action = 'nothing' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
    ],
)
def test_raw_update_and_delete_are_refused(statement: str) -> None:
    entry = _entry()

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [entry.pk])

    assert AuditEntry.objects.get(pk=entry.pk).action == "update"


def test_the_orm_cannot_change_or_delete_either() -> None:
    entry = _entry()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(changes={})
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        entry.delete()
    entry.object_repr = "rewritten"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        entry.save()

    assert AuditEntry.objects.filter(pk=entry.pk, changes__name__after="B").count() == 1


def test_a_hand_set_purge_setting_cannot_erase_recent_history() -> None:
    entry = _entry(at=timezone.now() - timedelta(days=MINIMUM_RETENTION_DAYS - 1))
    tomorrow = timezone.now() + timedelta(days=1)

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pbx.audit_purge', %s, true)", [tomorrow.isoformat()])
        with pytest.raises(DatabaseError, match="append-only"):
            cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])
        transaction.set_rollback(True)

    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_retention_purge_removes_only_older_entries() -> None:
    now = timezone.now()
    old = _entry(at=now - timedelta(days=400))
    recent = _entry(at=now - timedelta(days=10))

    removed = audit_purge(older_than=now - timedelta(days=365))
    too_recent = audit_purge(older_than=now)  # the trigger's floor keeps the last 90 days

    assert (removed, too_recent) == (1, 0)
    assert list(AuditEntry.objects.values_list("pk", flat=True)) == [recent.pk]
    assert old.pk != recent.pk
    # The purge's permission ended with it.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=recent.pk).delete()
