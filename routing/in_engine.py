"""Route decisions made inside the engine, without a hop to Django.

Kamailio runs this in its own Python (app_python3, one interpreter per process it forks, see
deploy/kamailio/decide.py) with no Django import: the same query as Django's hot path
(routing.destination_sql), the compiled profile Django cached in Redis (routing.profile_keys,
valid only under the generation counters it was compiled with), the same pure evaluator, the
same contract encoding, and the same call memory (routing.call_memory). So a decision made here
is the one Django would have made, and so is what is kept of it for the call's record
(tests/routing/test_in_engine.py checks both).

Whatever needs Django is left to Django: the engine then asks it over HTTP as before.
  - a profile that is not cached or not current (Django compiles and caches it);
  - a plan that reaches colleagues (extension targets, forwards): their profiles and
    registrations are Django's to read;
  - a decision that wakes an app (the push is queued by Django, with its delivery record);
  - anything malformed, and any failure to reach PostgreSQL or Redis.
"""

import json
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pbx.engine.contract import ContractError, parse_route_request
from routing.call_memory import CALL_MEMORY_SECONDS, call_key, call_memo
from routing.decision_json import engine_decision
from routing.destination_sql import DESTINATION_AND_LIVE_SQL, destination_from_row
from routing.domain.evaluation import (
    Colleague,
    CompiledRouting,
    IncomingCall,
    LiveState,
    evaluate,
)
from routing.profile_keys import current_profile, profile_keys
from routing.routed import RoutedCall

ASK_DJANGO = 0  # the engine's code for "not decided here"
PROFILES_REMEMBERED = 10_000  # per engine process; forgotten all at once past that


class Store(Protocol):
    """The part of a Redis client used here (redis-py's `Redis`, any version)."""

    def mget(self, keys: Any, *args: Any) -> Any: ...  # a list of bytes or None

    def set(self, name: str, value: bytes, ex: int) -> Any: ...


class Cursor(Protocol):
    def execute(self, query: str, params: Mapping[str, Any]) -> Any: ...

    def fetchone(self) -> Sequence[Any] | None: ...


@dataclass(frozen=True)
class Answer:
    code: int  # 200 decided, 404 nobody answers that number, ASK_DJANGO
    body: str = ""  # the decision, in the contract's JSON (200 only)
    why: str = ""  # why Django is asked (logged by the engine)


@dataclass(frozen=True)
class DjangoCache:
    """How Django's Redis cache (django.core.cache.backends.redis) stores an entry: the key as
    `<KEY_PREFIX>:<version>:<key>`, integers as their digits, anything else pickled."""

    prefix: str
    version: int = 1

    def key(self, key: str) -> str:
        return f"{self.prefix}:{self.version}:{key}"

    @staticmethod
    def loads(data: bytes | None) -> Any:
        if data is None:
            return None
        try:
            return int(data)
        except ValueError:
            return pickle.loads(data)  # noqa: S301 - our own cache, as Django's backend does

    @staticmethod
    def dumps(value: Any) -> bytes:
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


class _NeedsDjango(Exception):
    pass


def _no_colleague_here(extension: str) -> Colleague | None:
    raise _NeedsDjango(f"the plan reaches extension {extension}")


class EngineDecider:
    """Decides calls from PostgreSQL (a cursor) and Redis (the store), as Django would."""

    def __init__(
        self, *, store: Store, cache: DjangoCache, destination_sql: str = DESTINATION_AND_LIVE_SQL
    ) -> None:
        """`destination_sql`: the hot-path query's text, or EXECUTE_DESTINATION_SQL on a
        connection where PREPARE_DESTINATION_SQL ran (routing.destination_sql)."""
        self._store = store
        self._cache = cache
        self._destination_sql = destination_sql
        # person -> (person generation, organisation generation, profile), as cached by Django
        self._profiles: dict[int, tuple[int, int, CompiledRouting]] = {}

    def _profile(self, *, user_id: int, tenant_id: int) -> CompiledRouting | None:
        """The person's current profile. Both counters are read on every call; the profile
        itself comes from this process's memory while they hold the values it was compiled
        under (unpickling it was a quarter of a decision's CPU), else from Django's cache."""
        keys = [self._cache.key(key) for key in profile_keys(user_id=user_id, tenant_id=tenant_id)]
        counters = [self._cache.loads(value) for value in self._store.mget(keys[:2])]
        remembered = self._profiles.get(user_id)
        if remembered is not None and current_profile([*counters, remembered]) is not None:
            return remembered[2]
        entry = self._cache.loads(self._store.mget(keys[2:])[0])
        profile = current_profile([*counters, entry])
        if profile is None:
            return None
        if len(self._profiles) >= PROFILES_REMEMBERED:
            self._profiles.clear()
        self._profiles[user_id] = entry
        return profile

    def decide(
        self, raw: Mapping[str, Any], *, cursor: Callable[[], Cursor], now: datetime | None = None
    ) -> Answer:
        """`raw` is the route request the engine would have posted to Django."""
        now = now or datetime.now(UTC)
        try:
            request = parse_route_request(raw)
        except ContractError as exc:
            return Answer(ASK_DJANGO, why=f"malformed request ({exc.code})")
        if not request.call_id:
            return Answer(ASK_DJANGO, why="no Call-ID")
        db = cursor()
        db.execute(
            self._destination_sql,
            {
                "domain": request.domain,
                "called": request.called,
                "caller": request.caller,
                "now": now,
            },
        )
        row = db.fetchone()
        if row is None:
            return Answer(404)
        destination, registered, identity = destination_from_row(row, caller=request.caller)
        profile = self._profile(user_id=destination.user_id, tenant_id=destination.tenant_id)
        if profile is None:
            return Answer(ASK_DJANGO, why=f"no current profile for person {destination.user_id}")
        try:
            decision = evaluate(
                profile,
                IncomingCall(identity, request.active_calls),
                now,
                LiveState(registered),
                extension=destination.extension,
                colleagues=_no_colleague_here,
            )
        except _NeedsDjango as exc:
            return Answer(ASK_DJANGO, why=str(exc))
        if any(branch.wake for branch in decision.branches):
            return Answer(ASK_DJANGO, why="an app is to be woken")
        routed = RoutedCall(destination, profile, decision)
        self._store.set(
            self._cache.key(call_key(request.domain, request.call_id)),
            self._cache.dumps(call_memo(routed=routed, caller=identity, now=now)),
            ex=CALL_MEMORY_SECONDS,
        )
        body = engine_decision(routed, call_id=request.call_id, with_trace=False).to_json()
        return Answer(200, json.dumps(body, separators=(",", ":")))
