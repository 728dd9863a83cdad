"""One error shape for the whole API: `{"code": ..., "detail": ..., "fields": {...}}`.

`code` is stable (clients branch on it); `detail` is a human sentence; `fields` maps a dotted
field path (`extension.number`, `allowed_networks.2`) to a list of `{code, detail}`.
No stack trace ever leaves the server.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from pbx.errors import Conflict, DomainError, FieldErrors, TooManyAttempts, Unauthenticated

logger = logging.getLogger(__name__)

_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


class FieldErrorOutput(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    detail = serializers.CharField()


class ErrorOutput(serializers.Serializer):  # type: ignore[type-arg]
    """The shape of every error (the OpenAPI document's `Error`)."""

    code = serializers.CharField(help_text="Stable: clients branch on it.")
    detail = serializers.CharField(help_text="A sentence for humans.")
    fields = serializers.DictField(  # type: ignore[assignment]  # the metaclass takes it
        child=FieldErrorOutput(many=True),
        required=False,
        help_text="Invalid fields by dotted path (`extension.number`, `allowed_networks.2`).",
    )
    retry_after = serializers.IntegerField(
        required=False, help_text="Throttled: seconds to wait before trying again."
    )

    class Meta:
        ref_name = "Error"


def flatten_field_errors(detail: Any, prefix: str = "") -> dict[str, list[dict[str, str]]]:
    """Turn DRF's nested error details into `{"a.b.0": [{"code", "detail"}]}`."""
    flat: dict[str, list[dict[str, str]]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            for sub_path, errors in flatten_field_errors(value, path).items():
                flat.setdefault(sub_path, []).extend(errors)
    elif isinstance(detail, Sequence) and not isinstance(detail, str):
        if all(isinstance(item, exceptions.ErrorDetail | str) for item in detail):
            flat[prefix or "non_field_errors"] = [_one(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    path = f"{prefix}.{index}" if prefix else str(index)
                    for sub_path, errors in flatten_field_errors(item, path).items():
                        flat.setdefault(sub_path, []).extend(errors)
    else:
        flat[prefix or "non_field_errors"] = [_one(detail)]
    return flat


def _one(item: Any) -> dict[str, str]:
    return {"code": str(getattr(item, "code", "invalid")), "detail": str(item)}


def _body(
    code: str, detail: str, fields: dict[str, list[dict[str, str]]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    if isinstance(exc, FieldErrors):
        all_fields = {
            path: [{"code": code, "detail": message} for code, message in items]
            for path, items in exc.errors.items()
        }
        return Response(
            _body("invalid", exc.detail, all_fields), status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, TooManyAttempts):
        body = _body(exc.code, exc.detail)
        body["retry_after"] = exc.retry_after
        return Response(
            body,
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, DomainError):
        fields = {exc.field: [{"code": exc.code, "detail": exc.detail}]} if exc.field else None
        http_status: int = status.HTTP_400_BAD_REQUEST
        if isinstance(exc, Conflict):
            http_status = status.HTTP_409_CONFLICT
        elif isinstance(exc, Unauthenticated):
            http_status = status.HTTP_401_UNAUTHORIZED
        return Response(_body(exc.code, exc.detail, fields), status=http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_field_errors(exc.detail)
        return Response(
            _body("invalid", "The request has invalid fields.", fields), status=exc.status_code
        )
    if isinstance(exc, exceptions.APIException):
        code = _code_of(exc)
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        body = _body(code, str(exc.detail))
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            headers["Retry-After"] = str(int(wait))
            body["retry_after"] = int(wait)
        return Response(body, status=exc.status_code, headers=headers)

    view = context.get("view")
    logger.exception("Unhandled error in %s", type(view).__name__ if view else "API", exc_info=exc)
    return Response(
        _body("server_error", "The server failed to handle the request."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _code_of(exc: exceptions.APIException) -> str:
    detail_code = getattr(exc.detail, "code", None)
    if detail_code and detail_code != exc.default_code:
        return str(detail_code)
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return str(detail_code or exc.default_code)


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django-level 404 for unknown URLs under the API: same shape as every other error."""
    return JsonResponse(_body("not_found", "No such resource."), status=404)


def server_error_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        _body("server_error", "The server failed to handle the request."), status=500
    )
