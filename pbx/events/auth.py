"""WebSocket authentication: the browser's session cookie, or for apps a bearer access token
sent as the subprotocol `pbx.bearer.<token>` next to `pbx.v1` (headers cannot be set on a
browser WebSocket and tokens in URLs end up in proxy logs)."""

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import AuthenticationFailed

from pbx.tokens.authentication import BearerTokenAuthentication

BEARER_PREFIX = "pbx.bearer."


@database_sync_to_async
def _user_for_token(token: str) -> Any:
    try:
        user, _ = BearerTokenAuthentication().authenticate_token(token)
    except AuthenticationFailed:
        return AnonymousUser()
    return user


class BearerSubprotocolMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        tokens = [p[len(BEARER_PREFIX) :] for p in scope.get("subprotocols", []) if p.startswith(BEARER_PREFIX)]
        if tokens:
            scope = {**scope, "user": await _user_for_token(tokens[0])}
        return await self.inner(scope, receive, send)


def WebSocketAuthMiddleware(inner: Any) -> Any:  # noqa: N802 - named like Channels' stacks
    """Session auth first (sets scope['user']); a bearer subprotocol, when sent, decides."""
    return AuthMiddlewareStack(BearerSubprotocolMiddleware(inner))
