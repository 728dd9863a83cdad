from django.db import migrations

from pbx.engine import sql


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.ACTIVE_BANS_VIEW)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP VIEW IF EXISTS kamailio_active_bans")


class Migration(migrations.Migration):
    dependencies = [("edge", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
