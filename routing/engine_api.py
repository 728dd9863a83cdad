"""The internal route-decision endpoint the engine calls for every new call.

Never public (see deploy/production/nginx): authenticated with the engine's shared token.
A plain Django view, not DRF: it is on the hot path of every call and needs only JSON in and
out. Errors keep the API's `{code, detail}` shape.
"""

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from pbx.engine.api import engine_authorised, engine_error
from routing.calls import call_remember
from routing.decision_json import decision_json
from routing.decisions import destination_and_live, route_decision
from routing.wakeups import wakes_schedule

MAX_BODY = 4096


def _text(body: dict[str, Any], key: str, limit: int, *, required: bool) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        raise ValueError(key)
    return value


@csrf_exempt
@require_POST
def route_decision_view(request: HttpRequest) -> JsonResponse:
    if not engine_authorised(request):
        return engine_error(401, "not_authenticated", "Missing or wrong engine token.")
    if len(request.body) > MAX_BODY:
        return engine_error(413, "too_large", "The request body is too large.")
    try:
        body = json.loads(request.body)
        if not isinstance(body, dict):
            raise TypeError
    except (ValueError, TypeError):
        return engine_error(400, "malformed_request", "Send a JSON object.")
    try:
        domain = _text(body, "domain", 253, required=True).lower()
        called = _text(body, "called", 32, required=True)
        caller = _text(body, "caller", 64, required=False)
        caller_name = _text(body, "caller_name", 128, required=False)
        active_calls = body.get("active_calls", 0)
        if (
            not isinstance(active_calls, int)
            or isinstance(active_calls, bool)
            or not 0 <= active_calls < 1000
        ):
            raise ValueError("active_calls")
    except ValueError as exc:
        return engine_error(400, "invalid", f"Field {exc} is missing or invalid.")

    now = timezone.now()
    found = destination_and_live(domain=domain, called=called, caller=caller, now=now)
    if found is None:
        return engine_error(
            404, "unknown_destination", f"No extension or number {called} at {domain}."
        )
    destination, registered, identity = found
    routed = route_decision(
        destination=destination,
        caller=identity,
        active_calls=active_calls,
        now=now,
        registered=registered,
    )
    result = decision_json(routed, with_trace=request.GET.get("trace") == "1")
    call_id = body.get("call_id")
    if isinstance(call_id, str) and call_id:
        call_id = call_id[:255]
        call_remember(call_id=call_id, domain=domain, routed=routed, caller=identity, now=now)
        if any(branch.wake for branch in routed.decision.branches):
            wakes_schedule(
                routed=routed,
                call_id=call_id,
                caller_name=caller_name.strip('" ') or identity,
                caller_number=identity,
            )
        result["call_id"] = call_id
    else:
        result["call_id"] = None
    return JsonResponse(result)
