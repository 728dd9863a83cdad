"""The engine asks how to ring a new call: who is called, what rings when, and what happens at
the end. On the hot path of every call: one SQL round trip for the destination and its live
registrations, the compiled routing from Redis, one Redis write to remember the call, and one
broker write per app to wake."""

from datetime import datetime

from pbx.engine.contract import EngineDecision, RouteRequest
from routing.calls import call_remember
from routing.decision_json import engine_decision
from routing.decisions import destination_and_live, route_decision
from routing.wake_pushes import wakes_schedule


def route_request_answer(
    *, request: RouteRequest, now: datetime, with_trace: bool
) -> EngineDecision | None:
    """The decision for `request`, or None when nothing answers the dialled number."""
    found = destination_and_live(
        domain=request.domain, called=request.called, caller=request.caller, now=now
    )
    if found is None:
        return None
    destination, registered, identity = found
    routed = route_decision(
        destination=destination,
        caller=identity,
        active_calls=request.active_calls,
        now=now,
        registered=registered,
    )
    call_id = request.call_id or None
    if call_id is not None:
        call_remember(
            call_id=call_id, domain=request.domain, routed=routed, caller=identity, now=now
        )
        if any(branch.wake for branch in routed.decision.branches):
            wakes_schedule(
                routed=routed,
                call_id=call_id,
                caller_name=request.caller_name.strip('" ') or identity,
                caller_number=identity,
            )
    return engine_decision(routed, call_id=call_id, with_trace=with_trace)
