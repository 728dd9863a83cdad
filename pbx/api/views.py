"""The base of every resource viewset: reads go through a selector, writes through services,
and every write is recorded in the audit trail in the transaction that makes it."""

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from django.db import models, transaction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from pbx.api.permissions import IsTenantUser, acting_tenant, acting_user
from pbx.api.serializers import validated_input
from pbx.audit.actors import Actor, actor_from_request
from pbx.audit.models import AuditEntry
from pbx.audit.services import (
    PendingChange,
    Subject,
    audit_change,
    audit_subject,
    audit_subject_change,
)


def api_actor(request: Request) -> Actor:
    """Who calls the API. The portal's pages call it with the browser session and say so in
    `X-PBX-Client: portal`; the header only names the channel, and is ignored next to a token."""
    actor = actor_from_request(request, channel=AuditEntry.Channel.API)
    if (
        actor.credential == AuditEntry.Credential.SESSION
        and request.headers.get("X-PBX-Client") == "portal"
    ):
        return replace(actor, channel=AuditEntry.Channel.PORTAL)
    return actor


def audited(
    request: Request, model: type[models.Model], action: str | None = None, **lookup: Any
) -> AbstractContextManager[PendingChange]:
    """For API views outside `ResourceViewSet`: run the write in the block and record how the
    object `model.objects.filter(**lookup)` changed (created when it did not exist before)."""
    return audit_change(
        actor=api_actor(request),
        model=model,
        lookup=lookup,
        action=action,
    )


class ResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """List and retrieve what `selector(tenant=..., actor=...)` returns; objects outside it are 404.

    Subclasses add `create`, `partial_update`, `destroy` and actions that call one service each.
    Updates are partial (PATCH); PUT exists only on actions that replace a whole thing.

    Every request that may write runs in one transaction with its audit entry: the object the
    action addressed (`get_object`) is captured before the handler runs and read again after
    it; a create is found by the `id` of its response. A response of 400 or more records
    nothing (the service's own transaction already rolled its change back).
    """

    model: type[models.Model]
    selector: Callable[..., models.QuerySet[Any]]
    permission_classes = [IsTenantUser]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    # Actions that are not administrative changes and stay out of the trail (say why).
    audit_exempt_actions: frozenset[str] = frozenset()
    _audit_before: Subject | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method in SAFE_METHODS:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code < 400 and self.action not in self.audit_exempt_actions:
                self._audit(response)
        return response

    def get_object(self) -> Any:
        instance = super().get_object()
        if self.request.method not in SAFE_METHODS and self._audit_before is None:
            self._audit_before = audit_subject(instance)
        return instance

    def audit_action(self) -> str | None:
        """The trail's name for this request's action. None for create and update: inferred,
        and an update that changed nothing is not recorded. `destroy` is `delete` even when the
        object stays (an API session is revoked, not deleted); other actions keep their name."""
        name = self.action or ""
        if name in ("create", "update", "partial_update"):
            return None
        return "delete" if name == "destroy" else name

    def _audit(self, response: HttpResponseBase) -> None:
        before = self._audit_before
        data = getattr(response, "data", None)
        pk = before.object_id if before else (data.get("id") if isinstance(data, Mapping) else None)
        if pk is None:
            return
        after = audit_subject(self.model._default_manager.filter(pk=pk).first())
        audit_subject_change(
            actor=api_actor(self.request),
            before=before,
            after=after,
            action=self.audit_action(),
        )

    def get_queryset(self) -> models.QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.model._default_manager.none()
        return type(self).selector(
            tenant=acting_tenant(self.request), actor=acting_user(self.request)
        )

    def validated(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:  # type: ignore[type-arg]
        return validated_input(serializer_class, self.request, self.get_serializer_context())

    def output(self, instance: Any) -> Any:
        return self.get_serializer(instance).data


class AdminWritesOnly(BasePermission):
    """Members may read their own objects; only tenant admins may change them."""

    message = "Only an administrator of the organisation may change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or bool(
            getattr(request.user, "is_tenant_admin", False)
        )
