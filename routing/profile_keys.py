"""Where a person's compiled routing is cached and when a cached one may be used, without
Django: shared by routing.cache (Django's side) and routing.in_engine (the engine's).

A cached entry is `(person generation, organisation generation, profile)`; it is current only
while both counters still hold the values it was compiled under."""

from typing import Any

from pbx.directory.generation_keys import organisation_key, person_key
from routing.domain.evaluation import CompiledRouting


def profile_key(user_id: int) -> str:
    return f"routing:profile:{user_id}"


def profile_keys(*, user_id: int, tenant_id: int) -> list[str]:
    """The keys to read together (one MGET): both counters, then the entry."""
    return [person_key(user_id), organisation_key(tenant_id), profile_key(user_id)]


def current_profile(values: list[Any]) -> CompiledRouting | None:
    """The profile among `values` (read at `profile_keys`), if it is still current. A counter
    never set reads as 0, as it does when the entry is written."""
    user_gen, tenant_gen, entry = values[0] or 0, values[1] or 0, values[2]
    if entry is not None and entry[0] == user_gen and entry[1] == tenant_gen:
        return entry[2]  # type: ignore[no-any-return]
    return None
