"""What the engine reports, handed to the app that owns each event type (one handler each)."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from devices.registrations import REGISTRATION_HANDLERS, DeviceSeen
from pbx.edge.services import source_ban_record
from pbx.engine.contract import (
    CallEvent,
    ContractError,
    RegistrationEvent,
    SourceBanEvent,
    parse_event,
)
from routing.calls import CallEventBatch
from voicemail.lamps import lamp_refresh_on_commit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchOutcome:
    accepted: int
    rejected: int
    known_devices: int
    known_calls: int


def _registration(event: RegistrationEvent, now: datetime) -> bool:
    seen: DeviceSeen | None = REGISTRATION_HANDLERS[event.type](event=event, now=now)
    if seen is not None and seen.appeared:
        lamp_refresh_on_commit(device_id=seen.device_id, user_id=seen.user_id)
    return seen is not None


@transaction.atomic
def event_batch_apply(*, raw_events: list[Any], now: datetime) -> BatchOutcome:
    """Apply a batch in order. One malformed event is skipped and counted; it never loses the
    batch. Returns what was taken."""
    accepted = rejected = known_devices = known_calls = 0
    events = []
    for raw in raw_events:
        try:
            events.append(parse_event(raw))
        except ContractError as exc:
            rejected += 1
            logger.warning("engine sent an invalid event: %s", exc)
    accepted = len(events)
    calls = CallEventBatch([event for event in events if isinstance(event, CallEvent)])
    for event in events:
        if isinstance(event, CallEvent):
            known_calls += calls.apply(event=event, now=now)
        elif isinstance(event, SourceBanEvent):
            source_ban_record(event=event, now=now)
        else:
            known_devices += _registration(event, now)
    calls.save()
    return BatchOutcome(accepted, rejected, known_devices, known_calls)
