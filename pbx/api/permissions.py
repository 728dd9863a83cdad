"""Who may call what. Every tenant-scoped endpoint needs a user who belongs to a tenant;
admin endpoints need a tenant admin of that tenant. Objects outside the caller's scope are
filtered out by selectors, so they answer 404, never 403."""

from typing import Any

from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from pbx.directory.models import Tenant, User


def acting_user(request: Request) -> User:
    """The signed-in user of a request that passed authentication."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def acting_tenant(request: Request) -> Tenant:
    """The caller's organisation; platform staff without one are refused."""
    tenant = acting_user(request).tenant
    if tenant is None:
        raise PermissionDenied(IsTenantUser.message, code=IsTenantUser.code)
    return tenant


class IsTenantUser(BasePermission):
    message = "This endpoint is for users of an organisation."
    code = "no_tenant"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and user.is_active and getattr(user, "tenant_id", None)
        )


class IsTenantAdmin(IsTenantUser):
    message = "Only an administrator of the organisation may do this."
    code = "permission_denied"

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and acting_user(request).is_tenant_admin


class IsPlatformAdmin(BasePermission):
    message = "Only platform staff may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return isinstance(user, User) and user.is_platform_admin
