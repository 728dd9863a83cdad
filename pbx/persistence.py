"""Write helpers: apply a validated set of changes to a model, turn a unique-constraint violation
(a race the serializer's check could not see) into a field error, and save many rows' changes
in one statement."""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import IntegrityError, connection, models, transaction

from pbx.errors import DomainError

ModelT = TypeVar("ModelT", bound=models.Model)


def model_update(*, instance: ModelT, data: Mapping[str, Any], fields: set[str]) -> list[str]:
    """Set the allowed `fields` present in `data`; save only what changed. Returns changed names."""
    unknown = set(data) - fields
    if unknown:
        raise ValueError(f"{type(instance).__name__} does not allow updating {sorted(unknown)}")
    changed = [name for name, value in data.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, data[name])
    if changed:
        instance.full_clean(
            exclude=[f.name for f in instance._meta.fields if f.name not in changed]
        )
        update_fields = list(changed)
        if any(getattr(f, "auto_now", False) for f in instance._meta.fields):
            update_fields += [
                f.name for f in instance._meta.fields if getattr(f, "auto_now", False)
            ]
        instance.save(update_fields=update_fields)
    return changed


@contextmanager
def unique_violation_as(constraint: str, *, field: str, code: str, detail: str) -> Iterator[None]:
    """Inside, a violation of `constraint` becomes `DomainError(field=..., code=...)`."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        if constraint in str(exc):
            raise DomainError(detail, code=code, field=field) from exc
        raise


ROWS_PER_UPDATE = 1000  # PostgreSQL takes at most 65,535 parameters per statement


def rows_update(rows: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Save `fields` of every row (instances of one model) in one UPDATE ... FROM (VALUES ...)
    per ROWS_PER_UPDATE rows.

    What `bulk_update` does, without its CASE WHEN expression per row and field, which Django
    builds in Python: on the engine's event batches that was a third of the engine API's CPU
    (py-spy, make bench). Other databases than PostgreSQL take `bulk_update`."""
    if not rows:
        return
    model = type(rows[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(rows, fields)
        return
    for start in range(0, len(rows), ROWS_PER_UPDATE):
        _update_from_values(rows[start : start + ROWS_PER_UPDATE], fields)


def _update_from_values(rows: Sequence[models.Model], fields: Sequence[str]) -> None:
    meta = type(rows[0])._meta
    columns: list[Any] = [meta.pk, *(meta.get_field(name) for name in fields)]
    quoted = [connection.ops.quote_name(str(field.column)) for field in columns]
    table = connection.ops.quote_name(meta.db_table)
    row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    assignments = ", ".join(f"{name} = v.{name}" for name in quoted[1:])
    sql = (
        f"UPDATE {table} AS t SET {assignments} "  # noqa: S608 - quoted names, values as params
        f"FROM (VALUES {', '.join([row] * len(rows))}) AS v({', '.join(quoted)}) "
        f"WHERE t.{quoted[0]} = v.{quoted[0]}"
    )
    params = [
        field.get_db_prep_save(getattr(instance, field.attname), connection)
        for instance in rows
        for field in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
