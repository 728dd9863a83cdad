"""Cache of compiled routing profiles, with generation counters for invalidation.

A cached entry is `(user generation, tenant generation, profile)`. Writers bump the user's
generation (their devices, plan, DND changed) or the tenant's (a template, a shared schedule,
the ring-time cap changed) when they write and again after commit: the first bump makes the
writing request see its own change, the second evicts a profile another process may have
compiled from the old rows in between. A reader fetches both counters and the entry in one
round trip (MGET) and uses the entry only if both generations still match, so a profile compiled
from data read before a concurrent write is never served after it.
"""

from collections.abc import Callable, Iterable

from django.core.cache import cache
from django.db import transaction

from routing.domain.evaluation import CompiledRouting

TTL_SECONDS = 24 * 3600


def _user_gen(user_id: int) -> str:
    return f"routing:gen:user:{user_id}"


def _tenant_gen(tenant_id: int) -> str:
    return f"routing:gen:tenant:{tenant_id}"


def _entry(user_id: int) -> str:
    return f"routing:profile:{user_id}"


def cached_profile(
    *, user_id: int, tenant_id: int, build: Callable[[], CompiledRouting]
) -> CompiledRouting:
    keys = [_user_gen(user_id), _tenant_gen(tenant_id), _entry(user_id)]
    found = cache.get_many(keys)
    user_gen, tenant_gen = found.get(keys[0], 0), found.get(keys[1], 0)
    entry = found.get(keys[2])
    if entry is not None and entry[0] == user_gen and entry[1] == tenant_gen:
        return entry[2]  # type: ignore[no-any-return]
    profile = build()
    cache.set(keys[2], (user_gen, tenant_gen, profile), TTL_SECONDS)
    return profile


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


def invalidate_users(user_ids: Iterable[int]) -> None:
    """Forget the compiled profiles of these users (now, and once the transaction commits)."""
    _bump_now_and_after_commit([_user_gen(user_id) for user_id in set(user_ids)])


def invalidate_tenant(tenant_id: int) -> None:
    """Forget the compiled profiles of everyone in the organisation."""
    _bump_now_and_after_commit([_tenant_gen(tenant_id)])
