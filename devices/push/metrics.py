"""Push health for a tenant: how many pushes went out, how many providers refused and why,
and how long woken apps took to register (push sent -> REGISTER)."""

import statistics
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count

from devices.models import PushDelivery
from pbx.directory.models import Tenant


@dataclass(frozen=True)
class PushMetrics:
    since: datetime
    sent: dict[str, int]  # by kind: wake, cancel
    failed: dict[str, int]  # by reason
    skipped: int
    pending: int
    wakes_sent: int
    wakes_woken: int  # the app registered within two minutes of its wake push
    wake_seconds_p50: float | None
    wake_seconds_p95: float | None


def push_metrics(*, tenant: Tenant, since: datetime) -> PushMetrics:
    deliveries = PushDelivery.objects.filter(tenant=tenant, created_at__gte=since)
    by_status = {
        (row["status"], row["kind"], row["failure"]): row["n"]
        for row in deliveries.values("status", "kind", "failure").annotate(n=Count("id"))
    }
    sent: dict[str, int] = {}
    failed: dict[str, int] = {}
    skipped = pending = 0
    for (status, kind, failure), n in by_status.items():
        if status == PushDelivery.Status.SENT:
            sent[kind] = sent.get(kind, 0) + n
        elif status == PushDelivery.Status.FAILED:
            failed[failure or "unknown"] = failed.get(failure or "unknown", 0) + n
        elif status == PushDelivery.Status.SKIPPED:
            skipped += n
        else:
            pending += n
    woken = sorted(
        (woke_at - sent_at).total_seconds()
        for sent_at, woke_at in deliveries.filter(
            kind=PushDelivery.Kind.WAKE, woke_at__isnull=False, sent_at__isnull=False
        ).values_list("sent_at", "woke_at")
        if sent_at is not None and woke_at is not None
    )
    return PushMetrics(
        since=since,
        sent=sent,
        failed=failed,
        skipped=skipped,
        pending=pending,
        wakes_sent=sent.get(PushDelivery.Kind.WAKE, 0),
        wakes_woken=len(woken),
        wake_seconds_p50=statistics.median(woken) if woken else None,
        wake_seconds_p95=_percentile(woken, 0.95),
    )


def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
