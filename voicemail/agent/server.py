"""The agent's SIP transport (UDP): parses datagrams, routes them to calls by Call-ID, answers
malformed or stray requests with a clear error instead of silence."""

import asyncio
import logging

from voicemail.agent import sipmsg
from voicemail.agent.backend import Backend
from voicemail.agent.call import AgentConfig, VoicemailCall
from voicemail.agent.prompts import Prompts

logger = logging.getLogger(__name__)


class AgentProtocol(asyncio.DatagramProtocol):
    def __init__(self, backend: Backend, prompts: Prompts, config: AgentConfig) -> None:
        self.backend, self.prompts, self.config = backend, prompts, config
        self.calls: dict[str, VoicemailCall] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes, address: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(data, address)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data.strip() == b"":
            return  # keep-alive
        try:
            message = sipmsg.parse(data)
        except (sipmsg.SipParseError, ValueError, IndexError) as exc:
            logger.warning("malformed SIP from %s:%s dropped: %s", addr[0], addr[1], exc)
            return
        call = self.calls.get(message.call_id)
        if not message.is_request:
            if call is not None:
                call.on_response(message)
            return
        if call is not None:
            call.on_request(message, addr)
            return
        if message.method == "INVITE":
            call = VoicemailCall(
                message, addr, self.send, self.backend, self.prompts, self.config, self._done
            )
            self.calls[message.call_id] = call
            task = asyncio.get_running_loop().create_task(call.run())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif message.method == "OPTIONS":
            self.send(sipmsg.response(message, 200, "OK", to_tag=sipmsg.new_tag()), addr)
        elif message.method != "ACK":
            self.send(sipmsg.response(message, 481, "Call/Transaction Does Not Exist"), addr)

    def _done(self, call_id: str) -> None:
        loop = asyncio.get_running_loop()
        # Keep the call a little longer to absorb retransmissions, then forget it.
        loop.call_later(32, self.calls.pop, call_id, None)


async def serve(
    *, config: AgentConfig, backend: Backend, prompts: Prompts, ready: asyncio.Event | None = None
) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: AgentProtocol(backend, prompts, config), local_addr=(config.host, config.port)
    )
    logger.info("voicemail agent listening on udp:%s:%s", config.host, config.port)
    if ready is not None:
        ready.set()
    try:
        while True:
            await asyncio.sleep(60)
            delivered = await backend.flush_spool()
            if delivered:
                logger.info("delivered %d spooled voicemail deposit(s)", delivered)
    finally:
        transport.close()
