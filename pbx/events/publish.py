"""The one way events leave the server: after the transaction that caused them commits."""

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def send_event_on_commit(*, user_ids: Iterable[int], type: str, data: Mapping[str, Any]) -> None:  # noqa: A002
    """Queue `{type, data, at}` for each user's sockets once the current transaction commits.

    A failure to reach the channel layer is logged, never raised: the write already happened and
    clients resynchronise over REST on reconnect.
    """
    event = {"type": type, "data": dict(data), "at": timezone.now().isoformat()}
    groups = [user_group(user_id) for user_id in sorted(set(user_ids))]

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        for group in groups:
            try:
                async_to_sync(layer.group_send)(group, {"type": "pbx.event", "event": event})
            except Exception:
                logger.warning("Could not publish %s to %s", type, group, exc_info=True)

    transaction.on_commit(send)
