from django.db import migrations

from pbx.engine import sql


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.EXTENSION_DEVICES_VIEW)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP VIEW IF EXISTS kamailio_extension_devices")


class Migration(migrations.Migration):
    dependencies = [("engine", "0001_engine_tables")]

    operations = [migrations.RunPython(create, drop)]
