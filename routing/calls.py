"""The life of a call as the engine reports it: decided, answered (on which device), ended.

Every step is idempotent: the engine may report twice (retransmitted 200 OK, retried batch).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from devices.models import Registration
from pbx.events.publish import send_event_on_commit
from routing.decisions import RoutedCall
from routing.models import Call

CALL_EVENT_TYPES = ("answered", "ended", "missed")


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


def call_started(*, call_id: str, routed: RoutedCall, caller: str, now: datetime) -> Call:
    """Record the decision for a new call (once per call id: the engine may ask again)."""
    decision = routed.decision
    call, _ = Call.objects.get_or_create(
        tenant_id=routed.destination.tenant_id,
        call_id=call_id[:255],
        defaults={
            "callee_id": routed.destination.user_id,
            "extension": routed.destination.extension,
            "caller": caller[:64],
            "plan": decision.plan or "",
            "rule": decision.rule or "",
            "reason": decision.reason,
            "trace": decision.trace_lines(),
            "started_at": now,
        },
    )
    return call


@transaction.atomic
def call_events_apply(*, events: list[CallEvent], now: datetime) -> int:
    applied = 0
    for event in events:
        call = (
            Call.objects.select_for_update()
            .filter(call_id=event.call_id, tenant__sip_domain=event.domain)
            .first()
        )
        if call is None:
            continue
        applied += 1
        if event.type == "answered" and call.answered_at is None:
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
            send_event_on_commit(
                user_ids=[call.callee_id],
                type="call.answered",
                data={"call_id": call.call_id, "device_id": call.answered_device_id},
            )
        elif event.type == "ended" and call.ended_at is None:
            call.ended_at = now
            call.save(update_fields=["ended_at"])
        elif event.type == "missed" and call.answered_at is None and call.ended_at is None:
            call.outcome = Call.Outcome.MISSED
            call.final_code = event.code
            call.ended_at = now
            call.save(update_fields=["outcome", "final_code", "ended_at"])
            send_event_on_commit(
                user_ids=[call.callee_id], type="call.missed", data={"call_id": call.call_id}
            )
    return applied
