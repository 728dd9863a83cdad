from django.db import migrations

from pbx.engine import sql


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.SUBSCRIBER_VIEW_V2)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        # a column cannot be removed by CREATE OR REPLACE
        schema_editor.execute("DROP VIEW IF EXISTS kamailio_subscriber")
        schema_editor.execute(sql.SUBSCRIBER_VIEW_V1)


class Migration(migrations.Migration):
    dependencies = [
        ("engine", "0002_extension_devices_view"),
        ("devices", "0007_transport_policy"),
        ("directory", "0003_tenant_default_transport_policy"),
    ]

    operations = [migrations.RunPython(create, drop)]
