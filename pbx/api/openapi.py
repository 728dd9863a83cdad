"""The OpenAPI document says which errors each operation can answer, in the one error shape.

drf-spectacular documents only the success of an operation; clients (and schemathesis, see
tests/pbx/test_openapi_conformance.py) also meet its 400s, 401s, 404s... Each is derived from
what the view really does, so a new endpoint is documented the same way:

- 400: the operation takes a body, query parameters, or changes something (a rule refuses it);
- 401: always (no or a dead token; wrong credentials at sign-in);
- 403: a permission narrower than "signed in", or a browser session without its CSRF token;
- 404: the path names something (another organisation's objects answer 404 too);
- 409: a change by a signed-in caller that can clash with the current state (a limit, a
  revoked device);
- 415: a body in a media type the operation does not parse;
- 429: the operation is throttled.

An operation that documents a status itself (`extend_schema(responses=...)`) keeps its own.
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated

from pbx.api.errors import ErrorOutput

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `invalid` with `fields`, or the code of the rule that refused it.",
    "401": "Not signed in, or the token is expired or revoked (`not_authenticated`, ...).",
    "403": "Not allowed (`permission_denied`, `no_tenant`, ...).",
    "404": "Nothing by that id the caller may see (`not_found`).",
    "409": "Clashes with the current state (`device_limit_reached`, `device_revoked`, ...).",
    "415": "Unsupported media type of the body (`unsupported_media_type`).",
    "429": "Too many requests (`throttled`, with `retry_after` seconds).",
}


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            if status not in responses:
                response = self._get_response_for_code(ErrorOutput, status, direction=direction)
                responses[status] = {**response, "description": ERROR_DESCRIPTIONS[status]}
        return responses

    def _error_statuses(self) -> list[str]:
        method = self.method.upper()
        takes_body = (
            method in {"POST", "PUT", "PATCH"} and self.get_request_serializer() is not None
        )
        parameters = self._get_parameters()
        in_query = any(parameter["in"] == "query" for parameter in parameters)
        in_path = any(parameter["in"] == "path" for parameter in parameters)
        narrow = any(
            type(permission) not in (AllowAny, IsAuthenticated)
            for permission in self.view.get_permissions()
        )
        authenticators = self.view.get_authenticators()
        csrf = method in UNSAFE_METHODS and any(
            isinstance(authenticator, SessionAuthentication) for authenticator in authenticators
        )
        statuses = {
            "400": takes_body or in_query or method in UNSAFE_METHODS,
            "401": True,
            "403": narrow or csrf,
            "404": in_path,
            "409": method in UNSAFE_METHODS and bool(authenticators),  # not sign-in, refresh
            "415": takes_body,
            "429": bool(self.view.get_throttles()),
        }
        return [status for status, applies in statuses.items() if applies]
