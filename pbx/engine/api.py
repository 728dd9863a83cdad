"""Internal endpoints the engine calls to report what happened (never public)."""

import hmac
import json
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from devices.registrations import InvalidEvent, parse_event, registration_events_apply
from routing.calls import CALL_EVENT_TYPES, InvalidCallEvent, call_events_apply, parse_call_event

logger = logging.getLogger(__name__)
MAX_BODY = 512 * 1024


def engine_error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


def engine_authorised(request: HttpRequest) -> bool:
    presented = request.headers.get("X-Engine-Token", "")
    expected = settings.PBX_ENGINE_TOKEN
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


@csrf_exempt
@require_POST
def engine_events_view(request: HttpRequest) -> JsonResponse:
    """`{"events": [...]}` from the engine's timer process: registrations and call progress.
    Bad events are skipped and logged (one malformed event must not lose the batch); the
    answer says how many were taken."""
    if not engine_authorised(request):
        return engine_error(401, "not_authenticated", "Missing or wrong engine token.")
    if len(request.body) > MAX_BODY:
        return engine_error(413, "too_large", "The request body is too large.")
    try:
        body = json.loads(request.body)
        raw_events = body["events"]
        if not isinstance(raw_events, list):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        return engine_error(400, "malformed_request", 'Send {"events": [...]}.')
    registrations, calls, rejected = [], [], 0
    for raw in raw_events:
        try:
            if isinstance(raw, dict) and raw.get("type") in CALL_EVENT_TYPES:
                calls.append(parse_call_event(raw))
            else:
                registrations.append(parse_event(raw))
        except (InvalidEvent, InvalidCallEvent) as exc:
            rejected += 1
            logger.warning("engine sent an invalid event: %s", exc)
    now = timezone.now()
    known = registration_events_apply(events=registrations, now=now)
    known_calls = call_events_apply(events=calls, now=now)
    return JsonResponse(
        {
            "accepted": len(registrations) + len(calls),
            "rejected": rejected,
            "known_devices": known,
            "known_calls": known_calls,
        }
    )
