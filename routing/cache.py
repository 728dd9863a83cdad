"""Cache of compiled routing profiles, keyed by the generation counters of what they are
compiled from (pbx.directory.generations).

A cached entry is `(person generation, organisation generation, profile)`. A reader fetches both
counters and the entry in one round trip (MGET) and uses the entry only if both generations still
match, so a profile compiled from data read before a concurrent write is never served after it.
The engine reads the same entries when it decides a call itself (routing.in_engine).
"""

from collections.abc import Callable

from django.core.cache import cache

from routing.domain.evaluation import CompiledRouting
from routing.profile_keys import current_profile, profile_keys

TTL_SECONDS = 24 * 3600


def cached_profile(
    *, user_id: int, tenant_id: int, build: Callable[[], CompiledRouting]
) -> CompiledRouting:
    keys = profile_keys(user_id=user_id, tenant_id=tenant_id)
    found = cache.get_many(keys)
    values = [found.get(key) for key in keys]
    profile = current_profile(values)
    if profile is not None:
        return profile
    profile = build()
    cache.set(keys[2], (values[0] or 0, values[1] or 0, profile), TTL_SECONDS)
    return profile
