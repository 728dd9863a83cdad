"""The base of every resource viewset: reads go through a selector, writes through services."""

from collections.abc import Callable
from typing import Any

from django.db import models
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from pbx.api.permissions import IsTenantUser, acting_tenant, acting_user
from pbx.api.serializers import validated_input


class ResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """List and retrieve what `selector(tenant=..., actor=...)` returns; objects outside it are 404.

    Subclasses add `create`, `partial_update`, `destroy` and actions that call one service each.
    Updates are partial (PATCH); PUT exists only on actions that replace a whole thing.
    """

    model: type[models.Model]
    selector: Callable[..., models.QuerySet[Any]]
    permission_classes = [IsTenantUser]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

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
