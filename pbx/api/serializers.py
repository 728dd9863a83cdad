"""Strict input: a field the endpoint does not accept is an error, never silently ignored."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError


class StrictInputMixin:
    """Reject unknown keys (`unknown_field`) and values for read-only fields (`read_only`)."""

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, list[ErrorDetail]] = {}
        if isinstance(data, Mapping):
            fields = self.fields  # type: ignore[attr-defined]
            for key in data:
                field = fields.get(key)
                if field is None:
                    errors[key] = [ErrorDetail("Unknown field.", code="unknown_field")]
                elif field.read_only:
                    errors[key] = [ErrorDetail("This field is read-only.", code="read_only")]
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except ValidationError as exc:
            if errors and isinstance(exc.detail, dict):
                exc.detail.update(errors)  # type: ignore[arg-type]
            raise
        if errors:
            raise ValidationError(errors)
        return value


class StrictSerializer(StrictInputMixin, serializers.Serializer):  # type: ignore[type-arg]
    pass


class StrictModelSerializer(StrictInputMixin, serializers.ModelSerializer):  # type: ignore[type-arg]
    pass
