"""WebSocket authentication: the browser's session cookie, or for apps a bearer access token
sent as the subprotocol `pbx.bearer.<token>` next to `pbx.v1` (headers cannot be set on a
browser WebSocket and tokens in URLs end up in proxy logs).

Cookie-authenticated sockets must come from an allowed Origin (cross-site WebSocket hijacking);
bearer sockets carry no ambient credential, and native apps send no Origin, so they skip it."""

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import AuthenticationFailed

from pbx.accounts.second_factor import session_lacks_second_factor
from pbx.directory.models import User
from pbx.tokens.authentication import BearerTokenAuthentication

BEARER_PREFIX = "pbx.bearer."


@database_sync_to_async
def _user_for_token(token: str) -> Any:
    try:
        user, _ = BearerTokenAuthentication().authenticate_token(token)
    except AuthenticationFailed:
        return AnonymousUser()
    return user


@database_sync_to_async
def _lacks_second_factor(user: Any, session: Any) -> bool:
    return isinstance(user, User) and session_lacks_second_factor(user, session)


class SecondFactorGate:
    """A cookie session that skipped the second factor the person has (or must have) is
    anonymous here, as it is for the API."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if await _lacks_second_factor(scope.get("user"), scope.get("session")):
            scope = {**scope, "user": AnonymousUser()}
        return await self.inner(scope, receive, send)


class WebSocketAuthMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cookie_stack = AllowedHostsOriginValidator(
            AuthMiddlewareStack(SecondFactorGate(inner))
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        tokens = [
            p[len(BEARER_PREFIX) :]
            for p in scope.get("subprotocols", [])
            if p.startswith(BEARER_PREFIX)
        ]
        if tokens:
            return await self.inner(
                {**scope, "user": await _user_for_token(tokens[0])}, receive, send
            )
        return await self.cookie_stack(scope, receive, send)
