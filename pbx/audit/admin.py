"""The audit trail in the platform console: the mixin every project ModelAdmin uses, so that
changes made in the admin are recorded like those made through the API, and a read-only page
of the trail.

Django's own `LogEntry` ("Administration → Log entries") stays: it drives each object's History
page and says what staff did in the console in Django's words. This trail complements it with
what LogEntry lacks: before/after values (secrets redacted), the address, the organisation, the
API and portal alongside, and append-only storage.
"""

from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from django.contrib import admin
from django.db import models, transaction
from django.http import HttpRequest

from pbx.audit.actors import Actor, actor_from_request
from pbx.audit.models import AuditEntry
from pbx.audit.services import (
    PendingChange,
    Subject,
    audit_change,
    audit_subject,
    audit_subject_change,
)

ModelT = TypeVar("ModelT", bound=models.Model)

_BEFORE = "_audit_before"  # request attribute: {(model, pk): Subject} captured by get_object


def admin_actor(request: HttpRequest) -> Actor:
    return actor_from_request(request, channel=AuditEntry.Channel.ADMIN)


def _captured(request: HttpRequest) -> dict[tuple[type[models.Model], str], Subject]:
    if not hasattr(request, _BEFORE):
        setattr(request, _BEFORE, {})
    return getattr(request, _BEFORE)  # type: ignore[no-any-return]


class AuditedAdmin(admin.ModelAdmin[ModelT], Generic[ModelT]):
    """Adds, changes (forms, the password form) and deletions are recorded in the transaction the
    admin runs them in. The object a form edits is captured when the admin loads it for a POST
    (`get_object`) and read again when the admin logs the change. Actions record with
    `self.audited(request, obj, "revoke")` around their service call."""

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> ModelT | None:
        obj = super().get_object(request, object_id, from_field)
        subject = audit_subject(obj)
        if obj is not None and subject is not None and request.method == "POST":
            _captured(request).setdefault((type(obj), str(obj.pk)), subject)
        return obj

    def audited(
        self, request: HttpRequest, obj: models.Model, action: str | None = None
    ) -> AbstractContextManager[PendingChange]:
        return audit_change(
            actor=admin_actor(request), model=type(obj), lookup={"pk": obj.pk}, action=action
        )

    def _record_saved(
        self, request: HttpRequest, obj: models.Model, before: Subject | None
    ) -> None:
        after = audit_subject(type(obj)._default_manager.filter(pk=obj.pk).first())
        audit_subject_change(actor=admin_actor(request), before=before, after=after)

    def log_addition(self, request: HttpRequest, obj: ModelT, message: Any) -> Any:
        self._record_saved(request, obj, None)
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: ModelT, message: Any) -> Any:
        # Only a form's change has a captured "before"; an action logs its own LogEntry
        # after recording through `audited`, and must not be recorded twice.
        before = _captured(request).pop((type(obj), str(obj.pk)), None)
        if before is not None:
            self._record_saved(request, obj, before)
        return super().log_change(request, obj, message)

    def delete_model(self, request: HttpRequest, obj: ModelT) -> None:
        with transaction.atomic():
            audit_subject_change(actor=admin_actor(request), before=audit_subject(obj), after=None)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[ModelT]) -> None:
        with transaction.atomic():
            actor = admin_actor(request)
            for obj in queryset:
                audit_subject_change(actor=actor, before=audit_subject(obj), after=None)
            super().delete_queryset(request, queryset)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin[AuditEntry]):
    """Every organisation's trail (the API shows each tenant admin their own). Read-only."""

    list_display = (
        "at",
        "tenant",
        "actor_label",
        "channel",
        "address",
        "action",
        "object_type",
        "object_repr",
    )
    list_filter = ("channel", "action", "object_type", "tenant")
    search_fields = ("actor_label", "object_repr", "object_id", "address")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
