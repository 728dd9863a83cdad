"""Query-string filters of the API that django-filter does not get right on its own."""

from typing import Any

import django_filters
from django import forms

from pbx.object_ids import parse_id


class IdFormField(forms.IntegerField):
    """An id in ASCII digits: forms.IntegerField (int()) reads an Arabic-Indic 1 as 1."""

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str) and value.strip() and parse_id(value.strip()) is None:
            raise forms.ValidationError("Enter a whole number.", code="invalid")
        return super().to_python(value)  # type: ignore[no-any-return]


class IdFilter(django_filters.NumberFilter):
    """`?owner=12`: the objects whose foreign key `field_name` is that id (an id naming nothing
    matches nothing)."""

    field_class = IdFormField
