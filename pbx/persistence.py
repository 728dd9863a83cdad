"""Two write helpers every service uses: apply a validated set of changes to a model, and turn
a unique-constraint violation (a race the serializer's check could not see) into a field error."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

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
