"""The PIN audit moves into the audit trail: every PinAudit row becomes an entry (`pin_set` or
`pin_reset` on the mailbox, channel `unknown`: PinAudit did not say where it came from), then
the table goes. Reversing recreates an empty PinAudit table: the trail keeps its entries."""

from django.db import migrations

ACTIONS = {"set": "pin_set", "reset": "pin_reset"}


def copy_into_the_trail(apps, schema_editor):  # type: ignore[no-untyped-def]
    PinAudit = apps.get_model("voicemail", "PinAudit")
    AuditEntry = apps.get_model("audit", "AuditEntry")
    User = apps.get_model("directory", "User")
    emails = dict(User.objects.values_list("pk", "email"))
    AuditEntry.objects.bulk_create(
        AuditEntry(
            at=row.at,
            tenant_id=row.tenant_id,
            actor_id=row.actor_id,
            actor_label=emails.get(row.actor_id, "unknown"),
            channel="unknown",
            object_type="voicemail.mailbox",
            object_id=str(row.mailbox_id),
            object_repr=f"mailbox {row.mailbox_id}",
            action=ACTIONS.get(row.action, row.action),
            changes={"pin_hash": "[secret changed]"},
        )
        for row in PinAudit.objects.order_by("at", "pk")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("voicemail", "0002_message_emailed_at"),
        ("audit", "0001_initial"),
        ("directory", "0002_tenant_max_ring_seconds"),
    ]

    operations = [
        migrations.RunPython(copy_into_the_trail, migrations.RunPython.noop),
        migrations.DeleteModel(name="PinAudit"),
    ]
