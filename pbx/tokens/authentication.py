"""`Authorization: Bearer pbxa_...` authentication for the REST API (one indexed query)."""

from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from pbx.accounts.sign_in import api_session_allowed
from pbx.tokens.models import AccessToken
from pbx.tokens.token_format import token_hash


def _refuse(detail: str, code: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(detail, code=code)


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise _refuse(
                "Send exactly one token: 'Authorization: Bearer <token>'.", "token_invalid"
            )
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise _refuse("The token is not valid.", "token_invalid") from exc
        return self.authenticate_token(token)

    def authenticate_token(self, token: str) -> tuple[Any, AccessToken]:
        access = (
            AccessToken.objects.select_related("session__user__tenant")
            .filter(token_hash=token_hash(token))
            .first()
        )
        if access is None:
            raise _refuse("The token is not valid.", "token_invalid")
        session = access.session
        if session.revoked_at is not None:
            raise _refuse("The token was revoked.", "token_revoked")
        if access.expires_at <= timezone.now():
            raise _refuse("The token has expired; refresh it.", "token_expired")
        user = session.user
        if not user.is_active:
            raise _refuse("This account is disabled.", "user_inactive")
        if user.tenant is not None and not user.tenant.is_active:
            raise _refuse("This organisation is suspended.", "tenant_suspended")
        if not api_session_allowed(user=user, opened_with_code=session.second_factor):
            raise _refuse(
                "This session was opened without two-step sign-in. Sign in again.", "otp_required"
            )
        return user, access

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
