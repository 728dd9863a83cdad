"""Writes of bans: recorded from the engine's events, lifted by staff (through the engine)."""

from datetime import datetime, timedelta

from django.db import transaction

from pbx.directory.models import User
from pbx.edge.models import SourceBan
from pbx.edge.tasks import lift_source_ban
from pbx.engine.contract import SourceBanEvent


def source_ban_record(*, event: SourceBanEvent, now: datetime) -> SourceBan:
    """The engine banned an address. A repeat of the same ban (the event delivered twice)
    extends the record instead of adding one."""
    until = now + timedelta(seconds=event.seconds)
    current = (
        SourceBan.objects.select_for_update()
        .filter(source_address=event.source_address, lifted_at=None, until__gt=now)
        .order_by("-banned_at")
        .first()
    )
    if current is not None and current.repeat == event.repeat:
        current.until = max(current.until, until)
        current.save(update_fields=["until"])
        return current
    return SourceBan.objects.create(
        source_address=event.source_address,
        reason=event.reason,
        banned_at=now,
        until=until,
        failures=event.failures,
        repeat=event.repeat,
        user_agent=event.user_agent,
    )


@transaction.atomic
def source_ban_lift(*, ban: SourceBan, by: User | None, now: datetime) -> SourceBan:
    """Lift a ban before it expires: the engine forgets it (and the address's failure count)
    once the worker has told it; the record stays, marked lifted."""
    ban = SourceBan.objects.select_for_update().get(pk=ban.pk)
    if ban.lifted_at is None and ban.until > now:
        ban.lifted_at = now
        ban.lifted_by = by
        ban.save(update_fields=["lifted_at", "lifted_by"])
        address = ban.source_address
        transaction.on_commit(lambda: lift_source_ban.delay(address))
    return ban
