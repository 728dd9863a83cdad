"""Reads of devices, scoped to what the acting user may see."""

from datetime import datetime

from django.db.models import QuerySet

from devices.models import Device, Registration
from pbx.directory.models import Tenant, User


def device_list(*, tenant: Tenant, actor: User) -> QuerySet[Device]:
    """Tenant admins see every device of their organisation; members only their own."""
    devices = Device.objects.filter(tenant=tenant).select_related("user", "tenant", "push_binding")
    return devices if actor.is_tenant_admin else devices.filter(user=actor)


def registered_device_ids(*, user_id: int, now: datetime) -> frozenset[int]:
    """Devices of the user with at least one unexpired registration (one indexed query)."""
    return frozenset(
        Registration.objects.filter(device__user_id=user_id, expires_at__gt=now)
        .values_list("device_id", flat=True)
        .distinct()
    )
