"""The one way events leave the server: after the transaction that caused them commits.

Delivery to the channel layer runs on one event loop per process, in a thread of its own, in
the order events were committed, over connections it keeps; what is queued meanwhile goes out
in one round, with one question to Redis for which of its groups anyone listens to. Before,
every event was sent with `async_to_sync`: a new event loop, so a new Redis connection (and
redis-py reading its own package metadata for the handshake) per event, which was 29 % of the
engine API's CPU under call load (py-spy, make bench). A commit no longer waits for the
delivery either.
"""

import asyncio
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

Delivery = tuple[list[str], dict[str, Any]]


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


class _Publisher:
    """Hands events to the delivery loop of this process, starting it on first use (and again
    in a forked child: a loop does not survive fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Delivery] | None = None

    def submit(self, groups: list[str], event: dict[str, Any]) -> None:
        loop, queue = self._running()
        loop.call_soon_threadsafe(queue.put_nowait, (groups, event))

    def _running(self) -> tuple[asyncio.AbstractEventLoop, "asyncio.Queue[Delivery]"]:
        with self._lock:
            if self._loop is None or self._queue is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                queue: asyncio.Queue[Delivery] = asyncio.Queue()
                ready = threading.Event()
                threading.Thread(
                    target=self._run, args=(loop, queue, ready), name="event-delivery", daemon=True
                ).start()
                ready.wait()
                self._loop, self._queue, self._pid = loop, queue, os.getpid()
            return self._loop, self._queue

    @staticmethod
    def _run(
        loop: asyncio.AbstractEventLoop, queue: "asyncio.Queue[Delivery]", ready: threading.Event
    ) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_until_complete(_deliver(queue))


DRAIN_AT_MOST = 500  # events handed to the channel layer per round


async def _deliver(queue: "asyncio.Queue[Delivery]") -> None:
    while True:
        deliveries = [await queue.get()]
        while len(deliveries) < DRAIN_AT_MOST and not queue.empty():
            deliveries.append(queue.get_nowait())
        layer = get_channel_layer()
        if layer is None:
            continue
        try:
            listened = await _listened(layer, {g for groups, _ in deliveries for g in groups})
        except Exception:
            logger.warning("Could not read the channel layer's groups", exc_info=True)
            continue
        for groups, event in deliveries:
            for group in groups:
                if group not in listened:
                    continue
                try:
                    await layer.group_send(group, {"type": "pbx.event", "event": event})
                except Exception:
                    logger.warning(
                        "Could not publish %s to %s", event["type"], group, exc_info=True
                    )


async def _listened(layer: Any, groups: set[str]) -> set[str]:
    """The groups someone is subscribed to (their sockets are open), asked of Redis in one
    round trip per server: most events concern people with no socket open at that moment (an
    app in the background, nobody on the portal), and channels_redis's `group_send` costs two
    round trips even for an empty group (a quarter of the engine API's CPU under call load,
    py-spy).
    A group that only expired members hold passes and `group_send` discards them as before.
    Layers other than channels_redis's are sent everything."""
    if not hasattr(layer, "_group_key") or not hasattr(layer, "consistent_hash"):
        return groups
    by_server: dict[int, list[str]] = {}
    for group in groups:
        by_server.setdefault(layer.consistent_hash(group), []).append(group)
    listened = set()
    for index, names in by_server.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for name in names:
            pipe.zcard(layer._group_key(name))
        counts = await pipe.execute()
        listened |= {name for name, count in zip(names, counts, strict=True) if count}
    return listened


_publisher = _Publisher()


def send_event_on_commit(*, user_ids: Iterable[int], type: str, data: Mapping[str, Any]) -> None:  # noqa: A002
    """Queue `{type, data, at}` for each user's sockets once the current transaction commits.

    A failure to reach the channel layer is logged, never raised: the write already happened and
    clients resynchronise over REST on reconnect.
    """
    event = {"type": type, "data": dict(data), "at": timezone.now().isoformat()}
    groups = [user_group(user_id) for user_id in sorted(set(user_ids))]
    transaction.on_commit(lambda: _publisher.submit(groups, event))
