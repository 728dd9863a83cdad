"""The life of a call as the engine reports it: decided, answered (on which device), ended.

Every step is idempotent: the engine may report twice (retransmitted 200 OK, retried batch).
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction

from devices.models import Registration
from pbx.events.publish import send_event_on_commit
from routing.decisions import RoutedCall
from routing.models import Call
from routing.wakeups import cancels_schedule

CALL_EVENT_TYPES = ("ringing", "answered", "ended", "missed", "voicemail")
CALL_MEMORY_SECONDS = 6 * 3600  # longer than any call is expected to ring and talk


@dataclass(frozen=True)
class CallEvent:
    type: str
    call_id: str
    domain: str
    contact: str = ""
    reply_contact: str = ""
    code: int | None = None


class InvalidCallEvent(ValueError):
    pass


def parse_call_event(raw: Any) -> CallEvent:
    if not isinstance(raw, dict) or raw.get("type") not in CALL_EVENT_TYPES:
        raise InvalidCallEvent("not a call event")
    values = {key: raw.get(key, "") for key in ("call_id", "domain", "contact", "reply_contact")}
    if not all(isinstance(v, str) for v in values.values()):
        raise InvalidCallEvent("call event fields are strings")
    if not values["call_id"] or not values["domain"]:
        raise InvalidCallEvent("call_id and domain are required")
    code = raw.get("code")
    code_value = int(code) if isinstance(code, str) and code.isdigit() else code
    if code_value is not None and (not isinstance(code_value, int) or not 100 <= code_value <= 699):
        raise InvalidCallEvent("code is a SIP status")
    return CallEvent(
        type=raw["type"],
        call_id=values["call_id"][:255],
        domain=values["domain"].lower()[:253],
        contact=values["contact"][:512],
        reply_contact=values["reply_contact"][:512],
        code=code_value,
    )


def _key(domain: str, call_id: str) -> str:
    # Call-IDs are arbitrary text of up to 255 characters: hash them into a safe cache key.
    return "call:" + hashlib.sha256(f"{domain}\0{call_id}".encode()).hexdigest()


def call_remember(
    *, call_id: str, domain: str, routed: RoutedCall, caller: str, now: datetime
) -> None:
    """Keep the decision of a new call until the engine reports how it went.

    On the hot path of every call, so one Redis write: the Call row is written with the first
    event about the call (answered, missed, ended), in the engine's batched report.
    """
    decision = routed.decision
    cache.set(
        _key(domain, call_id),
        {
            "tenant_id": routed.destination.tenant_id,
            "callee_id": routed.destination.user_id,
            "extension": routed.destination.extension,
            "caller": caller[:64],
            "plan": decision.plan or "",
            "rule": decision.rule or "",
            "reason": decision.reason,
            "trace": decision.trace_lines(),
            "started_at": now,
        },
        CALL_MEMORY_SECONDS,
    )


def _call_for(event: CallEvent) -> Call | None:
    call = (
        Call.objects.select_for_update()
        .filter(call_id=event.call_id, tenant__sip_domain=event.domain)
        .first()
    )
    if call is not None:
        return call
    remembered = cache.get(_key(event.domain, event.call_id))
    if remembered is None:
        return None
    Call.objects.bulk_create([Call(call_id=event.call_id, **remembered)], ignore_conflicts=True)
    return (
        Call.objects.select_for_update()
        .filter(call_id=event.call_id, tenant_id=remembered["tenant_id"])
        .first()
    )


@transaction.atomic
def call_events_apply(*, events: list[CallEvent], now: datetime) -> int:
    applied = 0
    for event in events:
        call = _call_for(event)
        if call is None:
            continue
        applied += 1
        if event.type == "ringing":
            if call.answered_at is None and call.ended_at is None:
                send_event_on_commit(
                    user_ids=[call.callee_id],
                    type="call.ringing",
                    data={"call_id": call.call_id, "caller": call.caller},
                )
        elif event.type == "answered" and call.answered_at is None:
            registration = (
                Registration.objects.filter(
                    device__user_id=call.callee_id, contact__in=[event.contact, event.reply_contact]
                )
                .select_related("device")
                .first()
            )
            call.outcome = Call.Outcome.ANSWERED
            call.answered_at = now
            call.answered_device = registration.device if registration else None
            call.save(update_fields=["outcome", "answered_at", "answered_device"])
            cancels_schedule(
                tenant_id=call.tenant_id,
                call_id=call.call_id,
                answered_device_id=call.answered_device_id,
                reason="answered_elsewhere",
            )
            send_event_on_commit(
                user_ids=[call.callee_id],
                type="call.answered",
                data={"call_id": call.call_id, "device_id": call.answered_device_id},
            )
        elif event.type == "voicemail" and call.answered_at is None and call.ended_at is None:
            # Nobody answered; the voicemail agent took the call (it ends with the BYE).
            call.outcome = Call.Outcome.VOICEMAIL
            call.save(update_fields=["outcome"])
            cancels_schedule(
                tenant_id=call.tenant_id,
                call_id=call.call_id,
                answered_device_id=None,
                reason="not_answered",
            )
            send_event_on_commit(
                user_ids=[call.callee_id],
                type="call.missed",
                data={"call_id": call.call_id, "voicemail": True},
            )
        elif event.type == "ended" and call.ended_at is None:
            call.ended_at = now
            call.save(update_fields=["ended_at"])
        elif event.type == "missed" and call.answered_at is None and call.ended_at is None:
            call.outcome = Call.Outcome.MISSED
            call.final_code = event.code
            call.ended_at = now
            call.save(update_fields=["outcome", "final_code", "ended_at"])
            cancels_schedule(
                tenant_id=call.tenant_id,
                call_id=call.call_id,
                answered_device_id=None,
                reason="caller_hung_up" if event.code == 487 else "not_answered",
            )
            send_event_on_commit(
                user_ids=[call.callee_id], type="call.missed", data={"call_id": call.call_id}
            )
    return applied
