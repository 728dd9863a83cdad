"""A model instance as the flat, JSON-ready dict that `domain.changes_between` compares.

Concrete fields only, by attribute name (`user_id`, not the user), without the primary key
(it is the entry's object id) and without timestamps the database keeps itself (`auto_now`,
`auto_now_add`): they change on every save and say nothing an entry's own time does not."""

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.fields.files import FieldFile


def _plain(value: Any) -> Any:
    if isinstance(value, FieldFile):
        return value.name or ""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def snapshot(instance: models.Model | None) -> dict[str, Any]:
    if instance is None:
        return {}
    values = {}
    for field in instance._meta.concrete_fields:
        if field.primary_key or getattr(field, "auto_now", False):
            continue
        if getattr(field, "auto_now_add", False):
            continue
        values[field.attname] = _plain(getattr(instance, field.attname))
    return values


def object_type(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"
