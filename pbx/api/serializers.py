"""Strict input: a field the endpoint does not accept is an error, never silently ignored."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request

from pbx.object_ids import parse_id


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


class IdField(serializers.IntegerField):
    """An object id in a body or query string: a JSON integer, or a string of ASCII digits
    (DRF's IntegerField reads Arabic-Indic or full-width digits as numbers)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and parse_id(data.strip()) is None:
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictSerializer(StrictInputMixin, serializers.Serializer):  # type: ignore[type-arg]
    pass


class StrictModelSerializer(StrictInputMixin, serializers.ModelSerializer):  # type: ignore[type-arg]
    pass


def validated_input(
    serializer_class: type[serializers.Serializer],  # type: ignore[type-arg]
    request: Request,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parse the request body with `serializer_class`; invalid input raises a 400."""
    serializer = serializer_class(
        data=request.data, context={"request": request, **(context or {})}
    )
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
