"""The one guard in front of every endpoint the engine and the voicemail agent call.

Never public (deploy/production/nginx refuses /internal/). Plain Django views, not DRF: they
are on the hot path of every call and need only JSON in and out. Every refusal keeps the API's
`{code, detail}` shape, and a message that breaks the contract answers 400 with its code.
"""

import hmac
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from pbx.engine.contract import ContractError

EngineView = Callable[..., HttpResponseBase]


def engine_error(status: int, code: str, detail: str, field: str | None = None) -> JsonResponse:
    body = {"code": code, "detail": detail} | ({"field": field} if field else {})
    return JsonResponse(body, status=status)


def engine_authorised(request: HttpRequest) -> bool:
    presented = request.headers.get("X-Engine-Token", "")
    expected = settings.PBX_ENGINE_TOKEN
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


def _declared_length(request: HttpRequest) -> int:
    declared = request.headers.get("Content-Length", "")
    return int(declared) if declared.isascii() and declared.isdigit() else 0


def engine_endpoint(
    *, method: str = "POST", max_body: int, json_body: bool = True
) -> Callable[[EngineView], EngineView]:
    """Method, engine token, body size (declared and actual) and, with `json_body`, a JSON
    object handed to the view as `payload`. A view raising ContractError answers 400."""

    def decorate(view: EngineView) -> EngineView:
        @csrf_exempt
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method != method:
                return engine_error(405, "method_not_allowed", f"Use {method}.")
            if not engine_authorised(request):
                return engine_error(401, "not_authenticated", "Missing or wrong engine token.")
            if _declared_length(request) > max_body:
                return engine_error(413, "too_large", "The request body is too large.")
            try:
                if json_body:
                    if len(request.body) > max_body:
                        return engine_error(413, "too_large", "The request body is too large.")
                    try:
                        payload = json.loads(request.body)
                    except ValueError:
                        payload = None
                    if not isinstance(payload, dict):
                        return engine_error(400, "malformed_request", "Send a JSON object.")
                    kwargs["payload"] = payload
                return view(request, *args, **kwargs)
            except ContractError as exc:
                return engine_error(400, exc.code, exc.detail, exc.field)

        return guarded

    return decorate
