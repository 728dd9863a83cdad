"""Failed registrations and calls: recorded per organisation with a per-address cap, listed and
aggregated for tenant admins only, purged after the retention; bans for platform staff only."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from devices import failures
from devices.models import FailureTally, RegistrationFailure
from pbx.directory.models import User
from pbx.edge import services as edge_services
from pbx.edge.models import SourceBan
from pbx.engine.contract import (
    ContractError,
    EventType,
    RegistrationEvent,
    SourceBanEvent,
    parse_event,
)
from pbx.internal.events import event_batch_apply
from pbx.tokens.services import api_session_open
from tests.factories import TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


def refused(
    domain: str, address: str, *, method: str = "REGISTER", reason: str = "bad_credentials"
):
    return {
        "type": "refused",
        "username": "guess",
        "domain": domain,
        "source_address": address,
        "reason": reason,
        "method": method,
    }


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    cache.clear()


def test_refusals_are_kept_per_tenant_and_past_the_cap_only_counted(tenant, settings) -> None:
    settings.PBX_FAILURES_PER_ADDRESS_MINUTE = 5
    now = timezone.now()

    event_batch_apply(raw_events=[refused(tenant.sip_domain, "198.51.100.7")] * 12, now=now)
    event_batch_apply(
        raw_events=[refused(tenant.sip_domain, "198.51.100.8", method="INVITE")], now=now
    )

    stored = RegistrationFailure.objects.filter(source_address="198.51.100.7")
    assert stored.count() == 5
    assert set(stored.values_list("tenant_id", "method")) == {(tenant.pk, "REGISTER")}
    tally = FailureTally.objects.get(source_address="198.51.100.7")
    assert (tally.count, tally.tenant_id, tally.minute) == (
        7,
        tenant.pk,
        now.replace(second=0, microsecond=0),
    )
    other = RegistrationFailure.objects.get(source_address="198.51.100.8")
    assert other.method == "INVITE"


def test_an_unknown_domain_is_kept_without_a_tenant() -> None:
    event_batch_apply(raw_events=[refused("nobody.example", "198.51.100.9")], now=timezone.now())

    assert RegistrationFailure.objects.get(source_address="198.51.100.9").tenant is None


def test_failures_past_the_retention_are_purged(tenant, settings) -> None:
    settings.PBX_FAILURE_RETENTION_DAYS = 30
    now = timezone.now()
    old = RegistrationFailure.objects.create(
        tenant=tenant, username="a", domain=tenant.sip_domain, reason="bad_credentials"
    )
    RegistrationFailure.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=31))
    recent = RegistrationFailure.objects.create(
        tenant=tenant, username="b", domain=tenant.sip_domain, reason="bad_credentials"
    )
    FailureTally.objects.create(
        source_address="198.51.100.1",
        minute=now - timedelta(days=40),
        method="REGISTER",
        reason="bad_credentials",
        count=9,
    )

    assert failures.failures_purge(now=now) == 2
    assert list(RegistrationFailure.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not FailureTally.objects.exists()


def test_tenant_admins_list_filter_and_aggregate_their_failures(admin_api, tenant) -> None:
    now = timezone.now()
    other = TenantFactory()
    events = [refused(tenant.sip_domain, "198.51.100.7")] * 3 + [
        refused(tenant.sip_domain, "198.51.100.8", method="INVITE", reason="network_not_allowed"),
        refused(other.sip_domain, "198.51.100.7"),
    ]
    event_batch_apply(raw_events=events, now=now)

    listed = admin_api.get("/api/v1/registration-failures").json()
    invites = admin_api.get("/api/v1/registration-failures", {"method": "INVITE"}).json()
    by_address = admin_api.get("/api/v1/registration-failures/by-address").json()
    since_later = admin_api.get(
        "/api/v1/registration-failures", {"since": (now + timedelta(minutes=5)).isoformat()}
    ).json()

    assert listed["count"] == 4  # the other organisation's failure is not there
    assert [(f["method"], f["reason"]) for f in invites["results"]] == [
        ("INVITE", "network_not_allowed")
    ]
    assert [(row["source_address"], row["failures"]) for row in by_address] == [
        ("198.51.100.7", 3),
        ("198.51.100.8", 1),
    ]
    assert by_address[0]["reasons"] == {"bad_credentials": 3}
    assert since_later["count"] == 0


@pytest.mark.parametrize("path", ["/api/v1/registration-failures", "/api/v1/bans"])
def test_members_see_neither_failures_nor_bans(member_api, path) -> None:
    assert member_api.get(path).status_code == 403


def test_tenant_admins_cannot_see_or_lift_bans(admin_api) -> None:
    ban = SourceBan.objects.create(
        source_address="198.51.100.7",
        reason="scanner",
        banned_at=timezone.now(),
        until=timezone.now() + timedelta(minutes=5),
    )

    assert admin_api.get("/api/v1/bans").status_code == 403
    assert admin_api.post(f"/api/v1/bans/{ban.pk}/lift").status_code == 403
    assert SourceBan.objects.get(pk=ban.pk).lifted_at is None


def test_the_same_ban_reported_twice_is_one_record() -> None:
    now = timezone.now()
    event = {
        "type": "banned",
        "source_address": "198.51.100.7",
        "reason": "auth_failures",
        "seconds": 300,
        "failures": 10,
        "repeat": 1,
    }

    event_batch_apply(raw_events=[event, event], now=now)
    event_batch_apply(raw_events=[{**event, "repeat": 2, "seconds": 600}], now=now)

    assert list(SourceBan.objects.order_by("id").values_list("repeat", "failures")) == [
        (1, 10),
        (2, 10),
    ]


def test_staff_list_bans_and_a_lift_is_recorded_once() -> None:
    staff = UserFactory(tenant=None, role=User.Role.PLATFORM_ADMIN)
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_session_open(user=staff, client_name='t').access_token}"
    )
    now = timezone.now()
    active = SourceBan.objects.create(
        source_address="198.51.100.7", reason="flood", banned_at=now, until=now + timedelta(hours=1)
    )
    SourceBan.objects.create(
        source_address="198.51.100.8",
        reason="scanner",
        banned_at=now - timedelta(hours=2),
        until=now - timedelta(hours=1),
    )

    assert [
        b["source_address"] for b in api.get("/api/v1/bans", {"active": "true"}).json()["results"]
    ] == ["198.51.100.7"]
    assert api.get("/api/v1/bans").json()["count"] == 2
    first = api.post(f"/api/v1/bans/{active.pk}/lift").json()
    lifted_at = SourceBan.objects.get(pk=active.pk).lifted_at
    edge_services.source_ban_lift(ban=active, by=None, now=timezone.now())

    assert first["active"] is False
    assert first["lifted_by"] == staff.email
    assert SourceBan.objects.get(pk=active.pk).lifted_at == lifted_at  # not lifted twice


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"type": "banned", "reason": "scanner", "seconds": 60}, "source_address"),
        ({"type": "banned", "source_address": "198.51.100.7", "seconds": 0}, "seconds"),
        ({"type": "banned", "source_address": "198.51.100.7", "seconds": True}, "seconds"),
        ({**refused("a.example", "198.51.100.7"), "method": "OPTIONS"}, "method"),
    ],
)
def test_malformed_security_events_are_refused(raw, field) -> None:
    with pytest.raises(ContractError) as caught:
        parse_event(raw)
    assert caught.value.field == field


def test_security_events_parse() -> None:
    ban = parse_event(
        {
            "type": "banned",
            "source_address": "198.51.100.7",
            "reason": "scanner",
            "seconds": 300,
            "user_agent": "friendly-scanner",
        }
    )
    invite = parse_event({**refused("A.example", "198.51.100.7"), "method": "invite"})

    assert ban == SourceBanEvent(
        EventType.BANNED, "198.51.100.7", "scanner", 300, user_agent="friendly-scanner"
    )
    assert isinstance(invite, RegistrationEvent)
    assert (invite.method, invite.domain) == ("INVITE", "a.example")


@pytest.mark.parametrize(
    "path", ["/api/v1/registration-failures", "/api/v1/registration-failures/by-address"]
)
def test_a_source_address_filter_that_is_no_address_is_refused(admin_api, path) -> None:
    """Found by schemathesis: the lookup raised on it (500)."""
    response = admin_api.get(path, {"source_address": "schedule_id"})

    assert response.status_code == 400
    assert response.json()["fields"]["source_address"][0]["code"] == "invalid"
