"""Route decisions inside Kamailio (app_python3, loaded when WITH_ENGINE_DECISIONS is defined).

route[DECIDE] calls `python_exec("decide")` in its async worker; this sets $var(code) and
$var(decision) as Django's HTTP answer would: 200 and the decision, 404, or 0 = ask Django (the
route then posts to the engine API as it does without this script).
Everything it waits for has a short timeout, and after a failure it leaves calls to Django for
a while (1 s, doubling up to 30 s while failures go on) instead of trying on every call. The
decision itself is routing.in_engine's; this file only connects it to Kamailio, PostgreSQL and
Redis.

Kamailio embeds Debian's Python 3 (not the project's virtualenv): the decision code is pure
Python from this repository, the drivers are Debian's python3-psycopg2 and python3-redis
(deploy/kamailio/install.sh). Connections are opened per process on first use and dropped on
any error (the call is then asked of Django; the next one reconnects).

Settings are the configuration's defines: DBURL, REDIS_URL, CACHE_PREFIX.
"""

import sys
import time
import types
from pathlib import Path
from typing import Any

import KSR  # type: ignore[import-not-found]  # Kamailio's module, only inside the engine

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
# `pbx/__init__.py` starts the Celery app for Django's processes; the engine imports only pure
# modules of the package (the contract), so the package is entered without running it.
if "pbx" not in sys.modules:
    package = types.ModuleType("pbx")
    package.__path__ = [str(ROOT / "pbx")]
    sys.modules["pbx"] = package

import psycopg2  # noqa: E402
import redis  # noqa: E402

from routing.destination_sql import (  # noqa: E402
    EXECUTE_DESTINATION_SQL,
    PREPARE_DESTINATION_SQL,
)
from routing.in_engine import ASK_DJANGO, DjangoCache, EngineDecider  # noqa: E402

REDIS_TIMEOUT_S = 0.5  # a Redis that does not answer by then: Django is asked
POSTGRES_CONNECT_TIMEOUT_S = 1
POSTGRES_STATEMENT_TIMEOUT_MS = 500
# After a failure (PostgreSQL or Redis down), calls go to Django for this long before the next
# attempt to reconnect, doubled after every failure in a row: a database that is down costs
# one timeout now and then, not one per call.
RETRY_AFTER_S = 1.0
RETRY_AFTER_MAX_S = 30.0


def _define(name: str) -> str:
    value = KSR.pv.get(f"$def({name})")
    return str(value).strip('"') if value is not None else ""


class Decisions:
    def __init__(self) -> None:
        self._db: Any = None  # a psycopg2 connection
        self._decider: EngineDecider | None = None
        self._retry_at = 0.0  # time.monotonic() before which nothing is attempted
        self._retry_after = RETRY_AFTER_S
        self._version = 0

    def child_init(self, rank: int) -> int:
        return 0

    def _connected(self) -> EngineDecider:
        if self._decider is None:
            store = redis.Redis.from_url(
                _define("REDIS_URL"),
                socket_timeout=REDIS_TIMEOUT_S,
                socket_connect_timeout=REDIS_TIMEOUT_S,
            )
            self._decider = EngineDecider(
                store=store,
                cache=DjangoCache(_define("CACHE_PREFIX")),
                destination_sql=EXECUTE_DESTINATION_SQL,
            )
            self._version = int(_define("CONTRACT_VERSION") or 0)
        if self._db is None:
            db = psycopg2.connect(
                _define("DBURL"),
                connect_timeout=POSTGRES_CONNECT_TIMEOUT_S,
                options=f"-c statement_timeout={POSTGRES_STATEMENT_TIMEOUT_MS}",
            )
            db.autocommit = True
            with db.cursor() as cursor:
                cursor.execute(PREPARE_DESTINATION_SQL)
            self._db = db
        return self._decider

    def _cursor(self) -> Any:
        return self._db.cursor()

    def decide(self, msg: object) -> int:
        if time.monotonic() < self._retry_at:
            KSR.pv.seti("$var(code)", ASK_DJANGO)
            return 1
        try:
            decider = self._connected()
            raw = {
                "version": self._version,
                "call_id": KSR.pv.get("$ci") or "",
                "domain": KSR.pv.get("$avp(domain)") or "",
                "called": KSR.pv.get("$rU") or "",
                "caller": KSR.pv.get("$fU") or "",
                "caller_name": KSR.pv.get("$fn") or "",
            }
            answer = decider.decide(raw, cursor=self._cursor)
        except Exception as exc:  # noqa: BLE001 - any failure: Django decides, we reconnect
            KSR.warn(
                f"in-engine decision failed ({type(exc).__name__}: {exc}): asking Django, "
                f"reconnecting in {self._retry_after:.0f} s\n"
            )
            self._reset()
            self._retry_at = time.monotonic() + self._retry_after
            self._retry_after = min(self._retry_after * 2, RETRY_AFTER_MAX_S)
            KSR.pv.seti("$var(code)", ASK_DJANGO)
            return 1
        self._retry_after = RETRY_AFTER_S
        if answer.code == ASK_DJANGO:
            KSR.dbg(f"in-engine decision: {answer.why}: asking Django\n")
        KSR.pv.seti("$var(code)", answer.code)
        KSR.pv.sets("$var(decision)", answer.body)
        return 1

    def _reset(self) -> None:
        try:
            if self._db is not None:
                self._db.close()
        except Exception:  # noqa: BLE001, S110 - it is being dropped anyway
            pass
        self._db = None
        self._decider = None


def mod_init() -> Decisions:
    return Decisions()
