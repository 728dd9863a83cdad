"""Reads of the directory, always scoped to what the acting user may see."""

from django.db.models import QuerySet

from pbx.directory.models import Extension, PhoneNumber, Tenant, User


def user_list(*, tenant: Tenant, actor: User) -> QuerySet[User]:
    """Tenant admins see their organisation; everyone else sees only themselves."""
    users = User.objects.filter(tenant=tenant).select_related("tenant")
    return users if actor.is_tenant_admin else users.filter(pk=actor.pk)


def extension_list(*, tenant: Tenant, actor: User) -> QuerySet[Extension]:
    extensions = Extension.objects.filter(tenant=tenant).select_related("owner")
    return extensions if actor.is_tenant_admin else extensions.filter(owner=actor)


def phone_number_list(*, tenant: Tenant, actor: User) -> QuerySet[PhoneNumber]:
    numbers = PhoneNumber.objects.filter(tenant=tenant).select_related("extension")
    return numbers if actor.is_tenant_admin else numbers.filter(extension__owner=actor)
