import io
import re
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from devices.domain.credentials import digest_credentials
from devices.models import Device
from pbx.directory.models import Extension, User
from routing.decisions import route_simulate
from routing.models import RoutingProfile, RoutingTemplate

pytestmark = pytest.mark.django_db


def seed() -> dict[str, str]:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return dict(
        re.findall(r"^\s+\w+\s+(\w{12})\s+(\w{24})\s+demo\.pbx\.localhost$", out.getvalue(), re.M)
    )


def test_seed_prints_working_credentials_and_is_idempotent() -> None:
    first = seed()
    second = seed()

    assert len(first) == 4
    assert first.keys() == second.keys()
    assert all(first[u] != second[u] for u in first)
    for username, secret in second.items():
        device = Device.objects.get(sip_username=username)
        assert (
            device.ha1
            == digest_credentials(username=username, realm="demo.pbx.localhost", secret=secret).ha1
        )
    assert sorted(Device.objects.values_list("kind", flat=True)) == [
        "desk_phone",
        "mobile_app",
        "softphone",
        "web_softphone",
    ]
    assert User.objects.count() == 4
    assert sorted(Extension.objects.values_list("number", flat=True)) == ["200", "201", "202"]
    assert User.objects.get(email="alice@demo.pbx.localhost").check_password("demo-pbx-password")
    alice = User.objects.get(email="alice@demo.pbx.localhost")
    evening = route_simulate(
        user=alice, caller="", at=datetime(2026, 11, 24, 19, 0, tzinfo=UTC), registered=frozenset()
    )
    assert (evening.decision.rule, [b.label for b in evening.decision.branches]) == (
        "after hours",
        [],
    )
    assert (
        RoutingProfile.objects.get(user__email="bob@demo.pbx.localhost").template.name == "office"
    )
    assert RoutingTemplate.objects.filter(tenant=alice.tenant).count() == 2


def test_seed_refuses_production(settings) -> None:
    settings.IS_PRODUCTION = True

    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo", stdout=io.StringIO())
