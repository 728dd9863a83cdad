"""Reads of bans (platform-wide: an address is banned for every organisation)."""

from datetime import datetime

from django.db.models import QuerySet

from pbx.edge.models import SourceBan


def source_ban_list(*, now: datetime, active: bool | None = None) -> QuerySet[SourceBan]:
    """Newest first; `active` True: bans the engine enforces now, False: expired or lifted."""
    bans = SourceBan.objects.select_related("lifted_by").order_by("-banned_at", "-id")
    if active is True:
        bans = bans.filter(lifted_at=None, until__gt=now)
    elif active is False:
        bans = bans.exclude(lifted_at=None, until__gt=now)
    return bans
