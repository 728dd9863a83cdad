"""The voicemail agent as a real process, driven by a raw SIP/RTP peer written here: malformed
SIP gets no crash, `#` (RFC 4733) skips the greeting and ends the message, and with Django down
the recording is spooled and delivered once Django is back (nothing is lost)."""

import asyncio
import socket
import struct
import time
from pathlib import Path

import pytest

from pbx.engine.process import free_port
from tests.factories import ExtensionFactory, UserFactory
from tests.voicemail.conftest import _options_answered, start_agent
from voicemail.agent import rtp, sipmsg
from voicemail.agent.backend import Backend
from voicemail.domain import audio, g711
from voicemail.models import Message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class Caller:
    """A bare SIP UAC over UDP with an RTP socket: INVITE, ACK, stream, DTMF, answer BYE."""

    def __init__(self, agent_port: int) -> None:
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind(("127.0.0.1", 0))
        self.sip.settimeout(5)
        self.media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.media.bind(("127.0.0.1", 0))
        self.agent = ("127.0.0.1", agent_port)
        self.port = self.sip.getsockname()[1]
        self.call_id = f"agent-test-{time.monotonic_ns()}@127.0.0.1"

    def invite(self, extension: str, domain: str) -> sipmsg.SipMessage:
        body = (
            "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {self.media.getsockname()[1]} RTP/AVP 8 101\r\n"
            "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        ).encode()
        self.headers = [
            ("via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={sipmsg.new_branch()}"),
            ("from", '"Carol" <sip:+33612345678@pbx.test>;tag=caller1'),
            ("to", f"<sip:{extension}@{domain}>"),
            ("call-id", self.call_id),
            ("cseq", "1 INVITE"),
            ("contact", f"<sip:carol@127.0.0.1:{self.port}>"),
            ("x-pbx-voicemail", "unavailable"),
            ("content-type", "application/sdp"),
        ]
        self.sip.sendto(
            sipmsg.build(f"INVITE sip:{extension}@{domain} SIP/2.0", self.headers, body),
            self.agent,
        )
        while True:
            reply = sipmsg.parse(self.sip.recv(4000))
            if reply.status >= 200:
                return reply

    def ack(self, reply: sipmsg.SipMessage) -> None:
        headers = [h for h in self.headers if h[0] not in ("cseq", "to", "content-type")]
        headers += [("to", reply.get("to")), ("cseq", "1 ACK")]
        self.sip.sendto(sipmsg.build("ACK sip:voicemail@127.0.0.1 SIP/2.0", headers), self.agent)

    def stream(self, pcm: bytes, destination: tuple[str, int], *, start_seq: int = 1) -> int:
        sequence = start_seq
        for index, at in enumerate(range(0, len(pcm), 320)):
            packet = rtp.build(
                payload_type=8,
                sequence=sequence,
                timestamp=index * 160,
                ssrc=7,
                payload=g711.encode(pcm[at : at + 320], g711.PCMA),
            )
            self.media.sendto(packet, destination)
            sequence += 1
            time.sleep(0.02)
        return sequence

    def press_hash(self, destination: tuple[str, int], sequence: int, timestamp: int) -> None:
        for end in (False, False, True, True, True):
            payload = struct.pack("!BBH", 11, 0x80 if end else 0, 800)
            self.media.sendto(
                rtp.build(
                    payload_type=101,
                    sequence=sequence,
                    timestamp=timestamp,
                    ssrc=7,
                    payload=payload,
                ),
                destination,
            )
            sequence += 1
            time.sleep(0.02)

    def expect_bye(self, timeout: float = 15) -> sipmsg.SipMessage:
        self.sip.settimeout(timeout)
        while True:
            message = sipmsg.parse(self.sip.recv(4000))
            if message.is_request and message.method == "BYE":
                self.sip.sendto(sipmsg.response(message, 200, "OK"), self.agent)
                return message


def media_of(reply: sipmsg.SipMessage) -> tuple[str, int]:
    from voicemail.agent.sdp import parse_offer

    offer = parse_offer(reply.body)
    return offer.address, offer.port


def test_hash_ends_the_message_and_a_spooled_deposit_arrives_once_django_is_back(
    tmp_path: Path, live_server, tenant
) -> None:
    ExtensionFactory(owner=UserFactory(tenant=tenant), number="601")
    down = f"http://127.0.0.1:{free_port()}"  # Django unreachable for the call
    agent = start_agent(down, tmp_path)
    try:
        garbage = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        garbage.sendto(b"INVITE nonsense\r\n\xff\xfe\r\n\r\n", ("127.0.0.1", agent.port))
        garbage.sendto(b"\x00" * 300, ("127.0.0.1", agent.port))
        assert _options_answered(agent.port)  # still serving after malformed input

        caller = Caller(agent.port)
        answer = caller.invite("601", tenant.sip_domain)
        assert answer.status == 200
        caller.ack(answer)
        media = media_of(answer)
        time.sleep(0.5)
        caller.press_hash(media, 1, 0)  # skips the spoken greeting
        time.sleep(0.6)  # the beep
        sequence = caller.stream(audio.tone(1000, 2.0), media, start_seq=10)
        caller.press_hash(media, sequence, 2 * 8000)  # ends the message
        bye = caller.expect_bye()
        assert bye.call_id == caller.call_id

        deadline = time.monotonic() + 15
        while not list(agent.spool.glob("*.wav")) and time.monotonic() < deadline:
            time.sleep(0.2)
        [spooled] = list(agent.spool.glob("*.wav"))
        pcm, rate = audio.read_wav(spooled.read_bytes())
        assert rate == 8000
        assert 1800 <= audio.duration_ms(pcm) <= 2400
        assert audio.tone_power(pcm, 1000) > 0.8
        assert "ended by hash" in agent.log.read_text()
    finally:
        agent.process.terminate()
        agent.process.wait(timeout=10)

    from django.conf import settings

    backend = Backend(live_server.url, settings.PBX_ENGINE_TOKEN, agent.spool)
    delivered = asyncio.run(backend.flush_spool())
    again = asyncio.run(backend.flush_spool())

    assert (delivered, again) == (1, 0)
    [message] = Message.objects.filter(mailbox__extension__number="601")
    assert message.call_id == caller.call_id
    assert message.caller == "+33612345678"
    assert message.caller_name == "Carol"
    assert list(agent.spool.glob("*")) == []


def test_a_full_mailbox_says_it_cannot_take_messages_and_hangs_up(
    agent, live_server, tenant
) -> None:
    from voicemail.selectors import mailbox_for_extension

    extension = ExtensionFactory(owner=UserFactory(tenant=tenant), number="602")
    mailbox = mailbox_for_extension(extension=extension)
    mailbox.max_messages = 0
    mailbox.save()
    caller = Caller(agent.port)

    answer = caller.invite("602", tenant.sip_domain)
    assert answer.status == 200  # answered: the caller hears why, never silence
    caller.ack(answer)
    started = time.monotonic()
    caller.media.settimeout(5)
    heard = caller.media.recv(2000)  # the spoken "cannot take messages" prompt
    bye = caller.expect_bye()

    assert rtp.parse(heard) is not None
    assert bye.call_id == caller.call_id
    assert time.monotonic() - started > 1.0  # a real prompt was played before hanging up
    assert not Message.objects.filter(mailbox=mailbox).exists()


def test_a_deposit_django_refuses_is_kept_aside_not_dropped(
    tmp_path: Path, live_server, tenant
) -> None:
    from django.conf import settings

    backend = Backend(live_server.url, settings.PBX_ENGINE_TOKEN, tmp_path / "spool")

    taken = asyncio.run(
        backend.deposit(
            domain=tenant.sip_domain,
            extension="999",
            call_id="nobody-home",
            caller="202",
            caller_name="",
            wav=audio.wav_bytes(audio.tone(1000, 1.0)),
        )
    )

    assert taken is True  # retrying cannot help (no such extension)
    [kept] = list((tmp_path / "spool" / "rejected").glob("*.wav"))
    assert audio.tone_power(audio.read_wav(kept.read_bytes())[0], 1000) > 0.9
    assert asyncio.run(backend.flush_spool()) == 0  # not retried in a loop
