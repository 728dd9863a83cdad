"""The PIN audit's history moves into the trail when voicemail 0003 runs."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from pbx.audit.models import AuditEntry
from tests.factories import ExtensionFactory, UserFactory

BEFORE = [("voicemail", "0002_message_emailed_at"), ("audit", "0001_initial")]
AFTER = [("voicemail", "0003_pin_audit_into_the_trail")]


@pytest.mark.django_db(transaction=True)
def test_pin_audit_rows_become_entries() -> None:
    owner = UserFactory()
    admin = UserFactory(tenant=owner.tenant)
    extension = ExtensionFactory(owner=owner)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    mailbox = old.get_model("voicemail", "Mailbox").objects.create(
        tenant_id=owner.tenant_id, extension_id=extension.pk
    )
    PinAudit = old.get_model("voicemail", "PinAudit")
    PinAudit.objects.create(
        tenant_id=owner.tenant_id, mailbox=mailbox, actor_id=owner.pk, action="set"
    )
    PinAudit.objects.create(
        tenant_id=owner.tenant_id, mailbox=mailbox, actor_id=admin.pk, action="reset"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    entries = list(AuditEntry.objects.order_by("at", "id"))
    assert [(e.action, e.actor_id, e.actor_label) for e in entries] == [
        ("pin_set", owner.pk, owner.email),
        ("pin_reset", admin.pk, admin.email),
    ]
    for entry in entries:
        assert (entry.tenant_id, entry.object_type, entry.object_id) == (
            owner.tenant_id,
            "voicemail.mailbox",
            str(mailbox.pk),
        )
        assert (entry.channel, entry.changes) == ("unknown", {"pin_hash": "[secret changed]"})
        assert entry.at <= timezone.now()
    assert "voicemail_pinaudit" not in connection.introspection.table_names()
