"""One Redis connection pool per process for Django's cache.

Django keeps a cache object per request context (`caches` is context-local), and its Redis
client makes a connection pool per cache object: under ASGI every request opened a new TCP
connection to Redis (8 % of the web process's CPU under call load, see make bench). The pool
is thread-safe and fork-aware (redis-py checks the pid), so one per URL serves the process."""

import threading
from typing import Any, ClassVar

import redis


class ProcessConnectionPool(redis.ConnectionPool):
    shared: ClassVar[dict[tuple[str, str], redis.ConnectionPool]] = {}
    shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Any:
        key = (url, repr(sorted(kwargs.items(), key=lambda item: item[0])))
        with cls.shared_lock:
            pool = cls.shared.get(key)
            if pool is None:
                pool = cls.shared[key] = super().from_url(url, **kwargs)
        return pool
