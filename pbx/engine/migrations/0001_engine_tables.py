from django.db import migrations

from pbx.engine import sql


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return  # the engine needs PostgreSQL; the SQLite fallback of `make run` has no engine
    for statement in (sql.LOCATION_TABLE, sql.SUBSCRIBER_VIEW_V1, sql.REGISTRATION_ALLOWED_FUNCTION):
        schema_editor.execute(statement)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.DROP_ALL)


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0002_registration"),
        ("directory", "0002_tenant_max_ring_seconds"),
    ]

    operations = [migrations.RunPython(create, drop)]
