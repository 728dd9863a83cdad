"""One voicemail call, from INVITE to deposit (RFC 3261 UAS dialog, RTP media)."""

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from voicemail.agent import rtp, sdp, sipmsg
from voicemail.agent.backend import Backend, MailboxRefused, Session
from voicemail.agent.prompts import Prompts, beep
from voicemail.domain import g711
from voicemail.domain.audio import FRAME_SAMPLES, duration_ms, rms, wav_bytes

logger = logging.getLogger(__name__)
T1, T2 = 0.5, 4.0
SILENCE_RMS = 250
MIN_MESSAGE_MS = 1000


@dataclass(frozen=True)
class AgentConfig:
    host: str
    port: int
    max_silence_seconds: float = 8.0
    # the address announced in SDP for the caller's audio ('' = `host`): with the media relay
    # the relay is the only peer, so `host` serves; without it, an address callers can reach
    media_address: str = ""


class VoicemailCall:
    def __init__(
        self,
        invite: sipmsg.SipMessage,
        source: tuple[str, int],
        send: Callable[[bytes, tuple[str, int]], None],
        backend: Backend,
        prompts: Prompts,
        config: AgentConfig,
        on_done: Callable[[str], None],
    ) -> None:
        self.invite, self.source, self.send = invite, source, send
        self.backend, self.prompts, self.config, self.on_done = backend, prompts, config, on_done
        self.call_id = invite.call_id
        self.tag = sipmsg.new_tag()
        self.last_response = b""
        self.acked = asyncio.Event()
        self.finished = asyncio.Event()
        self.stop_reason = ""
        self.bye_answered = asyncio.Event()
        self.rtp_transport: asyncio.DatagramTransport | None = None
        self.remote_media: tuple[str, int] | None = None
        self.codec = g711.PCMU
        self.telephone_event: int | None = None
        self.recording = False
        self.skip_greeting = False
        self.recorded = bytearray()
        self.first_timestamp: int | None = None
        self.silence_ms = 0
        self.last_packet = 0.0
        self.cseq = 1
        self.canceled = False
        uri = invite.uri
        self.extension = unquote(uri.split(":", 1)[1].split("@", 1)[0]) if "@" in uri else ""
        self.domain = sipmsg.host_port(uri)[0].lower()
        self.reason = invite.get("x-pbx-voicemail") or "unavailable"
        sender = invite.get("from")
        self.caller = unquote(sipmsg.uri_of(sender).split(":", 1)[-1].split("@", 1)[0])
        self.caller_name = sender.split("<", 1)[0].strip().strip('"') if "<" in sender else ""

    # --- SIP
    def respond(self, status: int, reason: str, *, body: bytes = b"", final: bool = True) -> None:
        extra: list[tuple[str, str]] = []
        if status == 200:
            extra = [
                ("contact", f"<sip:voicemail@{self.config.host}:{self.config.port}>"),
                ("content-type", "application/sdp"),
            ]
        data = sipmsg.response(self.invite, status, reason, to_tag=self.tag, extra=extra, body=body)
        if final:
            self.last_response = data
        self.send(data, self.source)

    def on_request(self, message: sipmsg.SipMessage, source: tuple[str, int]) -> None:
        method = message.method
        if method == "INVITE":  # a retransmission
            if self.last_response:
                self.send(self.last_response, source)
        elif method == "ACK":
            self.acked.set()
        elif method == "CANCEL":
            self.send(sipmsg.response(message, 200, "OK", to_tag=self.tag), source)
            if not self.acked.is_set() and self.last_response[:12] != b"SIP/2.0 200 ":
                self.canceled = True
                self.respond(487, "Request Terminated")
                self.finish("canceled")
        elif method == "BYE":
            self.send(sipmsg.response(message, 200, "OK"), source)
            self.finish("caller_hung_up")
        else:
            self.send(sipmsg.response(message, 405, "Method Not Allowed"), source)

    def on_response(self, message: sipmsg.SipMessage) -> None:
        if message.cseq_method == "BYE" and message.status >= 200:
            self.bye_answered.set()

    def finish(self, reason: str) -> None:
        if not self.finished.is_set():
            self.stop_reason = reason
            self.finished.set()

    async def send_bye(self) -> None:
        routes = self.invite.all("record-route")
        remote = sipmsg.uri_of(self.invite.get("contact")) or sipmsg.uri_of(self.invite.get("from"))
        destination = sipmsg.host_port(sipmsg.uri_of(routes[0]) if routes else remote)
        headers = [
            (
                "via",
                f"SIP/2.0/UDP {self.config.host}:{self.config.port}"
                f";branch={sipmsg.new_branch()};rport",
            ),
            ("max-forwards", "70"),
            ("from", f"{self.invite.get('to')};tag={self.tag}"),
            ("to", self.invite.get("from")),
            ("call-id", self.call_id),
            ("cseq", f"{self.cseq} BYE"),
        ] + [("route", route) for route in routes]
        data = sipmsg.build(f"BYE {remote} SIP/2.0", headers)
        interval = T1
        for _ in range(7):
            self.send(data, destination)
            try:
                await asyncio.wait_for(self.bye_answered.wait(), interval)
                return
            except TimeoutError:
                interval = min(interval * 2, T2)

    # --- media
    def on_rtp(self, data: bytes) -> None:
        packet = rtp.parse(data)
        if packet is None:
            return
        self.last_packet = asyncio.get_running_loop().time()
        if self.telephone_event is not None and packet.payload_type == self.telephone_event:
            event = rtp.dtmf(packet)
            if event is not None and event.key == "#":
                if self.recording:
                    self.finish("hash")
                else:
                    self.skip_greeting = True
            return
        if packet.payload_type != self.codec or not self.recording:
            return
        pcm = g711.decode(packet.payload, self.codec)
        if self.first_timestamp is None:
            self.first_timestamp = packet.timestamp
        offset = ((packet.timestamp - self.first_timestamp) & 0xFFFFFFFF) * 2
        if offset > 2 * 8000 * 3600:
            return  # a wild timestamp: ignore rather than allocate
        end = offset + len(pcm)
        if end > len(self.recorded):
            self.recorded.extend(bytes(end - len(self.recorded)))
        self.recorded[offset:end] = pcm
        self.silence_ms = self.silence_ms + 20 if rms(pcm) < SILENCE_RMS else 0

    async def play(self, pcm: bytes, *, interruptible: bool) -> None:
        if self.rtp_transport is None or self.remote_media is None:
            return
        loop = asyncio.get_running_loop()
        ssrc = getattr(self, "_ssrc", secrets.randbits(32))
        self._ssrc = ssrc
        sequence = getattr(self, "_sequence", secrets.randbits(16))
        timestamp = getattr(self, "_timestamp", secrets.randbits(32))
        start = loop.time()
        frame_bytes = FRAME_SAMPLES * 2
        for index, at in enumerate(range(0, len(pcm), frame_bytes)):
            if self.finished.is_set() or (interruptible and self.skip_greeting):
                break
            frame = pcm[at : at + frame_bytes].ljust(frame_bytes, b"\0")
            packet = rtp.build(
                payload_type=self.codec,
                sequence=sequence,
                timestamp=timestamp,
                ssrc=ssrc,
                payload=g711.encode(frame, self.codec),
                marker=index == 0,
            )
            self.rtp_transport.sendto(packet, self.remote_media)
            sequence, timestamp = sequence + 1, timestamp + FRAME_SAMPLES
            delay = start + (index + 1) * 0.02 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        self._sequence, self._timestamp = sequence, timestamp

    # --- the call
    async def run(self) -> None:
        try:
            await self._run()
        except Exception:
            logger.exception("voicemail call %s failed", self.call_id)
        finally:
            if self.rtp_transport is not None:
                self.rtp_transport.close()
            self.on_done(self.call_id)

    async def _run(self) -> None:
        self.respond(100, "Trying", final=False)
        try:
            offer = sdp.parse_offer(self.invite.body)
            self.codec = sdp.choose_codec(offer)
        except (sdp.NoCommonCodec, ValueError):
            self.respond(488, "Not Acceptable Here")
            return
        self.telephone_event = offer.telephone_event
        self.remote_media = (offer.address, offer.port)
        refused = ""
        session: Session | None = None
        try:
            session = await self.backend.session(
                domain=self.domain, extension=self.extension, reason=self.reason
            )
        except MailboxRefused as exc:
            refused = exc.code
        if self.finished.is_set():
            return
        loop = asyncio.get_running_loop()
        agent = self

        class Media(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                agent.on_rtp(data)

        self.rtp_transport, _ = await loop.create_datagram_endpoint(
            Media, local_addr=(self.config.host, 0)
        )
        port = self.rtp_transport.get_extra_info("sockname")[1]
        body = sdp.answer(
            address=self.config.media_address or self.config.host,
            port=port,
            codec=self.codec,
            telephone_event=self.telephone_event,
            session=secrets.randbelow(10**9),
        )
        self.respond(200, "OK", body=body)
        interval, waited = T1, 0.0
        while not self.acked.is_set() and not self.finished.is_set():
            try:
                await asyncio.wait_for(self.acked.wait(), interval)
            except TimeoutError:
                waited += interval
                if waited > 32:
                    self.finish("no_ack")
                    break
                self.send(self.last_response, self.source)
                interval = min(interval * 2, T2)
        if self.finished.is_set():
            if self.stop_reason == "no_ack":
                await self.send_bye()
            return
        if refused or session is None:
            logger.info("voicemail for %s@%s refused (%s)", self.extension, self.domain, refused)
            await self.play(self.prompts.get("cannot_take"), interruptible=False)
            if not self.finished.is_set():
                await self.send_bye()
            return
        await self._greet(session)
        await self.play(beep(), interruptible=False)
        self.recording = True
        self.last_packet = loop.time()
        limit = loop.time() + session.max_seconds
        while not self.finished.is_set():
            try:
                await asyncio.wait_for(self.finished.wait(), 0.1)
            except TimeoutError:
                now = loop.time()
                if now >= limit:
                    self.finish("max_length")
                elif (
                    self.silence_ms >= self.config.max_silence_seconds * 1000
                    or now - self.last_packet >= self.config.max_silence_seconds
                ):
                    self.finish("silence")
        self.recording = False
        if self.stop_reason != "caller_hung_up":
            await self.send_bye()
        await self._deposit()

    async def _greet(self, session: Session) -> None:
        if session.greeting is not None:
            await self.play(session.greeting, interruptible=True)
        elif session.name is not None:
            await self.play(session.name, interruptible=True)
            await self.play(self.prompts.get("after_name"), interruptible=True)
        else:
            prompt = "busy" if self.reason == "busy" else "unavailable"
            await self.play(self.prompts.get(prompt), interruptible=True)

    async def _deposit(self) -> None:
        pcm = bytes(self.recorded)
        length = duration_ms(pcm)
        logger.info(
            "voicemail %s for %s@%s: %d ms, ended by %s",
            self.call_id,
            self.extension,
            self.domain,
            length,
            self.stop_reason,
        )
        if length < MIN_MESSAGE_MS:
            return
        await self.backend.deposit_or_spool(
            domain=self.domain,
            extension=self.extension,
            call_id=self.call_id,
            caller=self.caller,
            caller_name=self.caller_name,
            wav=wav_bytes(pcm),
        )
