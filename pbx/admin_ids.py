"""The Django admin takes ids that are ASCII digits only (pbx.object_ids).

The admin routes objects as `<path:object_id>/change/` and reads the id with the primary key's
`to_python()`, which is `int()`: the change page of device 1 opened for an id spelled U+0661
(ARABIC-INDIC DIGIT ONE). Here an integer primary key spelled in anything but ASCII digits
answers 404 before the admin looks anything up.
"""

from functools import wraps
from typing import Any

from django.contrib.admin.utils import unquote
from django.db import models
from django.http import Http404, HttpRequest, HttpResponseBase

from pbx.object_ids import parse_id

OBJECT_ID_KWARGS = ("object_id", "id")  # change/delete/history views; a user's password form


class AsciiObjectIdsMixin:
    """An AdminSite mixin: views of a model with an integer primary key take ASCII ids only."""

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)  # type: ignore[misc]
        model = getattr(getattr(view, "__self__", None), "model", None)
        pk = model._meta.pk if model is not None else None
        key = pk.target_field if pk is not None and pk.is_relation else pk  # a one-to-one pk
        if not isinstance(key, models.IntegerField):
            return inner

        @wraps(inner)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            for name in OBJECT_ID_KWARGS:
                if name in kwargs and parse_id(unquote(kwargs[name])) is None:
                    raise Http404
            return inner(request, *args, **kwargs)  # type: ignore[no-any-return]

        return guarded
