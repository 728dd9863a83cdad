"""The engine's calls into Django: a route decision for every new call, and batches of events."""

from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from pbx.engine.contract import parse_event_batch, parse_route_request
from pbx.engine.http import engine_endpoint, engine_error
from pbx.internal.events import event_batch_apply
from routing.route_requests import route_request_answer

ROUTE_REQUEST_MAX_BODY = 4096
EVENT_BATCH_MAX_BODY = 512 * 1024


@engine_endpoint(max_body=ROUTE_REQUEST_MAX_BODY)
def route_decision_view(request: HttpRequest, payload: dict[str, object]) -> JsonResponse:
    route_request = parse_route_request(payload)
    decision = route_request_answer(
        request=route_request, now=timezone.now(), with_trace=request.GET.get("trace") == "1"
    )
    if decision is None:
        return engine_error(
            404,
            "unknown_destination",
            f"No extension or number {route_request.called} at {route_request.domain}.",
        )
    return JsonResponse(decision.to_json())


@engine_endpoint(max_body=EVENT_BATCH_MAX_BODY)
def engine_events_view(request: HttpRequest, payload: dict[str, object]) -> JsonResponse:
    """`{"version": 1, "events": [...]}` from the engine's timer process: registrations and
    call progress. The answer says how many were taken."""
    outcome = event_batch_apply(raw_events=parse_event_batch(payload), now=timezone.now())
    return JsonResponse(
        {
            "accepted": outcome.accepted,
            "rejected": outcome.rejected,
            "known_devices": outcome.known_devices,
            "known_calls": outcome.known_calls,
        }
    )
