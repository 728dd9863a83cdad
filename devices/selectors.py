"""Reads of devices, scoped to what the acting user may see."""

from django.db.models import QuerySet

from devices.models import Device
from pbx.directory.models import Tenant, User


def device_list(*, tenant: Tenant, actor: User) -> QuerySet[Device]:
    """Tenant admins see every device of their organisation; members only their own."""
    devices = Device.objects.filter(tenant=tenant).select_related("user", "tenant", "push_binding")
    return devices if actor.is_tenant_admin else devices.filter(user=actor)
