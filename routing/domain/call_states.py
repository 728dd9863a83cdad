"""The life of a call as the engine reports it, as a table: (phase, event) -> (phase, effects).

The engine may report twice (a retransmitted 200 OK, a retried batch) and out of order; any pair
not in the table changes nothing, which is what makes every report idempotent.
"""

from dataclasses import dataclass
from enum import StrEnum


class CallPhase(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"  # a device answered; talking
    IN_VOICEMAIL = "voicemail"  # nobody answered; the voicemail agent took the call
    MISSED = "missed"  # over, unanswered (the caller hung up, or the call was refused)
    OVER = "over"  # answered or voicemail, then hung up


class Effect(StrEnum):
    ANNOUNCE_RINGING = "announce_ringing"  # call.ringing to the person's apps and portal
    RECORD_ANSWER = "record_answer"  # when, and which device answered
    CANCEL_WAKES_ANSWERED = "cancel_wakes_answered"  # woken apps stop: answered elsewhere
    CANCEL_WAKES_UNANSWERED = "cancel_wakes_unanswered"  # woken apps stop: hung up / not answered
    ANNOUNCE_ANSWERED = "announce_answered"
    ANNOUNCE_MISSED = "announce_missed"
    ANNOUNCE_VOICEMAIL = "announce_voicemail"  # call.missed with voicemail: true
    RECORD_END = "record_end"  # when it ended
    RECORD_FINAL_CODE = "record_final_code"  # the SIP code the caller got


@dataclass(frozen=True, slots=True)
class Transition:
    to: CallPhase
    effects: tuple[Effect, ...]


_R, _A, _V, _M, _O = (
    CallPhase.RINGING,
    CallPhase.ANSWERED,
    CallPhase.IN_VOICEMAIL,
    CallPhase.MISSED,
    CallPhase.OVER,
)

TRANSITIONS: dict[tuple[CallPhase, str], Transition] = {
    (_R, "ringing"): Transition(_R, (Effect.ANNOUNCE_RINGING,)),
    (_R, "answered"): Transition(
        _A, (Effect.RECORD_ANSWER, Effect.CANCEL_WAKES_ANSWERED, Effect.ANNOUNCE_ANSWERED)
    ),
    (_R, "voicemail"): Transition(_V, (Effect.CANCEL_WAKES_UNANSWERED, Effect.ANNOUNCE_VOICEMAIL)),
    (_R, "missed"): Transition(
        _M,
        (
            Effect.RECORD_FINAL_CODE,
            Effect.RECORD_END,
            Effect.CANCEL_WAKES_UNANSWERED,
            Effect.ANNOUNCE_MISSED,
        ),
    ),
    (_R, "ended"): Transition(_O, (Effect.RECORD_END,)),
    (_A, "ended"): Transition(_O, (Effect.RECORD_END,)),
    (_V, "ended"): Transition(_O, (Effect.RECORD_END,)),
}


def transition(phase: CallPhase, event: str) -> Transition | None:
    """What `event` does to a call in `phase`; None: nothing (a duplicate or a late report)."""
    return TRANSITIONS.get((phase, event))
