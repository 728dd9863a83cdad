"""The life of a call as the engine reports it: decided, answered (on which device), ended.

Every step is idempotent: the engine may report twice (retransmitted 200 OK, retried batch).
"""

from collections.abc import Callable, Sequence
from datetime import datetime

from django.core.cache import cache
from django.db.models import F, QuerySet

from devices.models import Registration
from pbx.engine.contract import CallEvent, EventType
from pbx.events.publish import send_event_on_commit
from pbx.persistence import rows_update
from routing.call_memory import CALL_MEMORY_SECONDS, call_key, call_memo
from routing.domain.call_states import CallPhase, Effect, transition
from routing.models import Call
from routing.routed import RoutedCall
from routing.wake_pushes import WakeCancel, cancels_schedule


def call_remember(
    *, call_id: str, domain: str, routed: RoutedCall, caller: str, now: datetime
) -> None:
    """Keep the decision of a new call until the engine reports how it went.

    On the hot path of every call, so one Redis write: the Call row is written with the first
    event about the call (answered, missed, ended), in the engine's batched report.
    """
    cache.set(
        call_key(domain, call_id),
        call_memo(routed=routed, caller=caller, now=now),
        CALL_MEMORY_SECONDS,
    )


CallKey = tuple[str, str]  # (domain, Call-ID) as the engine reports them


def _key_of(event: CallEvent) -> CallKey:
    return (event.domain, event.call_id)


def _calls_locked(query: "QuerySet[Call]") -> dict[CallKey, Call]:
    rows = (
        query.select_for_update(of=("self",))
        .annotate(sip_domain=F("tenant__sip_domain"))
        .order_by("pk")  # one lock order for every batch
    )
    return {(row.sip_domain, row.call_id): row for row in rows}  # type: ignore[attr-defined]


def _calls_for(events: Sequence[CallEvent]) -> dict[CallKey, Call]:
    """The calls a batch names, locked: one query for those already recorded, and for the
    others one cache read of what call_remember kept, one insert and one more query."""
    wanted = {_key_of(event) for event in events}
    if not wanted:
        return {}
    found = _calls_locked(
        Call.objects.filter(
            call_id__in={call_id for _, call_id in wanted},
            tenant__sip_domain__in={domain for domain, _ in wanted},
        )
    )
    missing = [key for key in wanted if key not in found]
    if missing:
        remembered = cache.get_many([call_key(domain, call_id) for domain, call_id in missing])
        created = [
            Call(call_id=call_id, **remembered[call_key(domain, call_id)])
            for domain, call_id in missing
            if call_key(domain, call_id) in remembered
        ]
        if created:
            Call.objects.bulk_create(created, ignore_conflicts=True)
            found |= _calls_locked(
                Call.objects.filter(
                    call_id__in={call.call_id for call in created},
                    tenant_id__in={call.tenant_id for call in created},
                )
            )
    return {key: call for key, call in found.items() if key in wanted}


def _phase(call: Call) -> CallPhase:
    if call.outcome == Call.Outcome.MISSED:
        return CallPhase.MISSED
    if call.ended_at is not None:
        return CallPhase.OVER
    phases: dict[str, CallPhase] = {
        Call.Outcome.ANSWERED: CallPhase.ANSWERED,
        Call.Outcome.VOICEMAIL: CallPhase.IN_VOICEMAIL,
    }
    return phases.get(call.outcome, CallPhase.RINGING)


_OUTCOMES = {
    CallPhase.ANSWERED: Call.Outcome.ANSWERED,
    CallPhase.IN_VOICEMAIL: Call.Outcome.VOICEMAIL,
    CallPhase.MISSED: Call.Outcome.MISSED,
}


class CallEventBatch:
    """The call events of one engine report, applied in order through the transition table
    (inside the batch's transaction). The calls they name are read and locked together, and
    each call that changed is saved once: per batch, not per event, so the engine's three
    events per call cost a few queries per hundred events."""

    def __init__(self, events: Sequence[CallEvent]) -> None:
        self._calls = _calls_for(events)
        self._changed: dict[CallKey, set[str]] = {}
        self._cancels: list[WakeCancel] = []
        answers = [e for e in events if e.type == EventType.ANSWERED]
        contacts = {c for e in answers for c in (e.contact, e.reply_contact) if c}
        # which device answered: any device of the organisation registered at that contact
        self._registered_at: dict[tuple[int, str], int] = {}
        if contacts:
            for tenant_id, contact, device_id in Registration.objects.filter(
                contact__in=contacts
            ).values_list("device__tenant_id", "contact", "device_id"):
                self._registered_at.setdefault((tenant_id, contact), device_id)

    def device_at(self, tenant_id: int, *contacts: str) -> int | None:
        found = next(
            (
                self._registered_at[(tenant_id, c)]
                for c in contacts
                if (tenant_id, c) in self._registered_at
            ),
            None,
        )
        if found is None:
            # registered by an event earlier in this batch (a woken app's REGISTER often
            # shares its batch with the answer): read it now, as the batch has applied it
            found = (
                Registration.objects.filter(
                    device__tenant_id=tenant_id, contact__in=[c for c in contacts if c]
                )
                .values_list("device_id", flat=True)
                .first()
            )
        return found

    def cancel_wakes(self, cancel: WakeCancel) -> None:
        """Cancel pushes are looked up for the whole batch at once (most calls woke nobody)."""
        self._cancels.append(cancel)

    def apply(self, *, event: CallEvent, now: datetime) -> bool:
        """False when the call is unknown (not routed by Django: degraded mode)."""
        call = self._calls.get(_key_of(event))
        if call is None:
            return False
        step = transition(_phase(call), event.type.value)
        if step is None:
            return True
        changed = self._changed.setdefault(_key_of(event), set())
        if step.to in _OUTCOMES:
            call.outcome = _OUTCOMES[step.to]
            changed.add("outcome")
        for effect in step.effects:
            changed |= _EFFECTS[effect](self, call, event, now)
        return True

    def save(self) -> None:
        by_fields: dict[tuple[str, ...], list[Call]] = {}
        for key, changed in self._changed.items():
            if changed:
                by_fields.setdefault(tuple(sorted(changed)), []).append(self._calls[key])
        for fields, calls in by_fields.items():
            rows_update(calls, fields)
        self._changed = {}
        cancels_schedule(self._cancels)
        self._cancels = []


def _announce_ringing(
    batch: "CallEventBatch", call: Call, event: CallEvent, now: datetime
) -> set[str]:
    send_event_on_commit(
        user_ids=[call.callee_id],
        type="call.ringing",
        data={"call_id": call.call_id, "caller": call.caller},
    )
    return set()


def _record_answer(
    batch: "CallEventBatch", call: Call, event: CallEvent, now: datetime
) -> set[str]:
    # The answering device may be a colleague's (an extension target, a forward): any device
    # of the organisation registered at that contact.
    call.answered_device_id = batch.device_at(call.tenant_id, event.contact, event.reply_contact)
    call.answered_at = now
    return {"answered_at", "answered_device"}


def _cancel_wakes(
    reason: str | None,
) -> Callable[["CallEventBatch", Call, CallEvent, datetime], set[str]]:
    def cancel(batch: "CallEventBatch", call: Call, event: CallEvent, now: datetime) -> set[str]:
        cause = reason or ("caller_hung_up" if event.code == 487 else "not_answered")
        batch.cancel_wakes(WakeCancel(call.tenant_id, call.call_id, call.answered_device_id, cause))
        return set()

    return cancel


def _announce(
    type_: str, **extra: object
) -> Callable[["CallEventBatch", Call, CallEvent, datetime], set[str]]:
    def announce(batch: "CallEventBatch", call: Call, event: CallEvent, now: datetime) -> set[str]:
        data: dict[str, object] = {"call_id": call.call_id, **extra}
        send_event_on_commit(user_ids=[call.callee_id], type=type_, data=data)
        return set()

    return announce


def _announce_answered(
    batch: "CallEventBatch", call: Call, event: CallEvent, now: datetime
) -> set[str]:
    send_event_on_commit(
        user_ids=[call.callee_id],
        type="call.answered",
        data={"call_id": call.call_id, "device_id": call.answered_device_id},
    )
    return set()


def _record_end(batch: "CallEventBatch", call: Call, event: CallEvent, now: datetime) -> set[str]:
    call.ended_at = now
    return {"ended_at"}


def _record_final_code(
    batch: "CallEventBatch", call: Call, event: CallEvent, now: datetime
) -> set[str]:
    call.final_code = event.code
    return {"final_code"}


_EFFECTS: dict[Effect, Callable[["CallEventBatch", Call, CallEvent, datetime], set[str]]] = {
    Effect.ANNOUNCE_RINGING: _announce_ringing,
    Effect.RECORD_ANSWER: _record_answer,
    Effect.CANCEL_WAKES_ANSWERED: _cancel_wakes("answered_elsewhere"),
    Effect.CANCEL_WAKES_UNANSWERED: _cancel_wakes(None),
    Effect.ANNOUNCE_ANSWERED: _announce_answered,
    Effect.ANNOUNCE_MISSED: _announce("call.missed"),
    Effect.ANNOUNCE_VOICEMAIL: _announce("call.missed", voicemail=True),
    Effect.RECORD_END: _record_end,
    Effect.RECORD_FINAL_CODE: _record_final_code,
}
