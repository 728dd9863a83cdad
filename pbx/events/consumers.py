from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from pbx.events.publish import user_group

PROTOCOL = "pbx.v1"
CLOSE_UNAUTHENTICATED = 4401


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """Authenticates, subscribes the socket to its user's group, forwards events. Nothing else."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        subprotocol = PROTOCOL if PROTOCOL in self.scope.get("subprotocols", []) else None
        await self.accept(subprotocol=subprotocol)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def pbx_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
