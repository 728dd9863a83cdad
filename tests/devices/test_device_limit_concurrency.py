"""Two apps creating a device at the same moment must not both slip under the tenant's limit."""

import threading

import pytest
from django.db import connection

from devices import services
from devices.models import Device
from pbx.errors import Conflict
from tests.factories import TenantFactory, UserFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_respect_the_limit() -> None:
    user = UserFactory(tenant=TenantFactory(max_devices_per_user=3))
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def create(n: int) -> None:
        try:
            barrier.wait()
            services.device_create(user=user, kind=Device.Kind.SOFTPHONE, label=f"D{n}")
            outcomes.append("created")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["created"] * 3 + ["device_limit_reached"] * 3
    assert Device.objects.filter(user=user).count() == 3
