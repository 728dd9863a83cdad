"""Cache of compiled routing profiles, keyed by the generation counters of what they are
compiled from (pbx.directory.generations).

A cached entry is `(person generation, organisation generation, profile)`. A reader fetches both
counters and the entry in one round trip (MGET) and uses the entry only if both generations still
match, so a profile compiled from data read before a concurrent write is never served after it.
"""

from collections.abc import Callable

from django.core.cache import cache

from pbx.directory.generations import organisation_key, person_key
from routing.domain.evaluation import CompiledRouting

TTL_SECONDS = 24 * 3600


def _entry(user_id: int) -> str:
    return f"routing:profile:{user_id}"


def cached_profile(
    *, user_id: int, tenant_id: int, build: Callable[[], CompiledRouting]
) -> CompiledRouting:
    keys = [person_key(user_id), organisation_key(tenant_id), _entry(user_id)]
    found = cache.get_many(keys)
    user_gen, tenant_gen = found.get(keys[0], 0), found.get(keys[1], 0)
    entry = found.get(keys[2])
    if entry is not None and entry[0] == user_gen and entry[1] == tenant_gen:
        return entry[2]  # type: ignore[no-any-return]
    profile = build()
    cache.set(keys[2], (user_gen, tenant_gen, profile), TTL_SECONDS)
    return profile
