"""Failed registrations and calls: recorded from the engine's refusals (capped per address and
minute), read per organisation (one by one, or per address), purged after the retention."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Max, Min, QuerySet, Sum
from django.db.models.functions import Coalesce

from devices.models import Device, FailureTally, RegistrationFailure
from pbx.directory.models import Tenant
from pbx.engine.contract import RegistrationEvent


def _under_cap(address: str, now: datetime) -> bool:
    """True while this address's failures of this minute may still be stored one by one
    (an atomic Redis counter that expires with the minute)."""
    key = f"failures:{address}:{now:%Y%m%d%H%M}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=120)
        count = 1
    return count <= settings.PBX_FAILURES_PER_ADDRESS_MINUTE


def failure_record(*, event: RegistrationEvent, device: Device | None, now: datetime) -> None:
    """A refusal the engine reported: a row, or past the cap a tally of its minute."""
    tenant_id = (
        device.tenant_id
        if device is not None
        else Tenant.objects.filter(sip_domain=event.domain).values_list("id", flat=True).first()
    )
    reason = event.reason or "refused"
    if event.source_address is None or _under_cap(event.source_address, now):
        RegistrationFailure.objects.create(
            tenant_id=tenant_id,
            method=event.method,
            username=event.username,
            domain=event.domain,
            device=device,
            reason=reason,
            detail=event.detail,
            source_address=event.source_address,
            source_port=event.source_port,
            transport=event.transport,
            user_agent=event.user_agent,
        )
        return
    tally, _ = FailureTally.objects.get_or_create(
        tenant_id=tenant_id,
        source_address=event.source_address,
        minute=now.replace(second=0, microsecond=0),
        method=event.method,
        reason=reason,
    )
    FailureTally.objects.filter(pk=tally.pk).update(count=F("count") + 1)


def failures_purge(*, now: datetime) -> int:
    """Forget failures older than the retention. Returns rows deleted."""
    cutoff = now - timedelta(days=settings.PBX_FAILURE_RETENTION_DAYS)
    rows, _ = RegistrationFailure.objects.filter(created_at__lt=cutoff).delete()
    tallies, _ = FailureTally.objects.filter(minute__lt=cutoff).delete()
    return rows + tallies


def failure_list(*, tenant: Tenant) -> QuerySet[RegistrationFailure]:
    return RegistrationFailure.objects.filter(tenant=tenant).order_by("-created_at", "-id")


@dataclass(frozen=True)
class AddressFailures:
    source_address: str | None
    failures: int  # stored one by one
    beyond_cap: int  # counted in tallies only
    accounts: int
    first_at: datetime
    last_at: datetime
    reasons: dict[str, int]


def failures_by_address(
    *, failures: QuerySet[RegistrationFailure], tenant: Tenant, limit: int = 100
) -> list[AddressFailures]:
    """The filtered failures per source address, the most failures first, with the tallies
    past the cap of the same addresses and period."""
    rows = list(
        failures.order_by()
        .values("source_address")
        .annotate(
            failures=Count("id"),
            accounts=Count("username", distinct=True),
            first_at=Min("created_at"),
            last_at=Max("created_at"),
        )
        .order_by("-failures", "source_address")[:limit]
    )
    addresses = [row["source_address"] for row in rows if row["source_address"]]
    reasons: dict[str | None, dict[str, int]] = {}
    for row in (
        failures.order_by()
        .filter(source_address__in=addresses)
        .values("source_address", "reason")
        .annotate(n=Count("id"))
    ):
        reasons.setdefault(row["source_address"], {})[row["reason"]] = row["n"]
    extra = {
        row["source_address"]: row["n"]
        for row in FailureTally.objects.filter(tenant=tenant, source_address__in=addresses)
        .values("source_address")
        .annotate(n=Coalesce(Sum("count"), 0))
    }
    return [
        AddressFailures(
            source_address=row["source_address"],
            failures=row["failures"],
            beyond_cap=extra.get(row["source_address"], 0),
            accounts=row["accounts"],
            first_at=row["first_at"],
            last_at=row["last_at"],
            reasons=reasons.get(row["source_address"], {}),
        )
        for row in rows
    ]
