"""Generation counters of what routing decisions are compiled from: a person (their devices,
push bindings, plan, DND, time zone) or a whole organisation (templates, shared schedules, the
ring-time cap). Whoever changes such data says so here; `routing.cache` serves a compiled
profile only while both counters it was compiled under are unchanged.

Counters are bumped when the write happens and again after commit: the first bump makes the
writing request see its own change, the second evicts a profile another process may have
compiled from the old rows in between.
"""

from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction

from pbx.directory.generation_keys import organisation_key, person_key


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # not there yet (or evicted): any new value invalidates
        cache.set(key, 1, None)


def _bump_now_and_after_commit(keys: list[str]) -> None:
    def bump_all() -> None:
        for key in keys:
            _bump(key)

    bump_all()
    transaction.on_commit(bump_all)


def people_changed(user_ids: Iterable[int]) -> None:
    """What these people's calls are decided from changed (now, and once this commits)."""
    _bump_now_and_after_commit([person_key(user_id) for user_id in set(user_ids)])


def organisation_changed(tenant_id: int) -> None:
    """What everyone's calls in the organisation are decided from changed."""
    _bump_now_and_after_commit([organisation_key(tenant_id)])
