"""Pure voicemail pieces: PIN policy, G.711, SIP parsing, SDP negotiation, RTP, MWI bodies."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicemail.agent import rtp, sdp, sipmsg
from voicemail.domain import audio, g711
from voicemail.domain.mwi import message_summary
from voicemail.domain.pins import PinPolicy, WeakPin, lockout_seconds, pin_check


@pytest.mark.parametrize("pin", ["480725", "9021473", "52817306"])
def test_strong_pins_pass(pin: str) -> None:
    pin_check(pin, PinPolicy(), personal=["201", "+33612345678"])


def test_pins_from_the_owners_numbers_are_refused() -> None:
    with pytest.raises(WeakPin) as refused:
        pin_check("905718", PinPolicy(), personal=["+33 6 90 57 18 42"])
    assert refused.value.code == "pin_personal"


def test_tenant_policy_can_ask_for_longer_pins() -> None:
    with pytest.raises(WeakPin) as refused:
        pin_check("480725", PinPolicy(min_length=8))
    assert refused.value.code == "pin_too_short"


def test_lockouts_double_and_are_capped() -> None:
    policy = PinPolicy(lockout_seconds=60, max_lockout_seconds=600)
    assert [lockout_seconds(policy, n) for n in range(1, 6)] == [60, 120, 240, 480, 600]


@given(st.binary(min_size=1, max_size=400))
def test_g711_decode_encode_round_trips(payload: bytes) -> None:
    for payload_type in (g711.PCMU, g711.PCMA):
        linear = g711.decode(payload, payload_type)
        again = g711.encode(linear, payload_type)
        assert g711.decode(again, payload_type) == linear


def test_g711_keeps_a_tone() -> None:
    tone = audio.tone(1000, 0.5)
    for payload_type in (g711.PCMU, g711.PCMA):
        assert (
            audio.tone_power(g711.decode(g711.encode(tone, payload_type), payload_type), 1000)
            > 0.99
        )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"INVITE sip:x SIP/2.0\r\nVia: x\r\n\r\n",  # no From/To/Call-ID/CSeq
        b"INVITE sip:x SIP/2.0\r\nVia: a\r\nFrom: b\r\nTo: c\r\nCall-ID: d\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 99\r\n\r\nshort",
        b"\xff\xfe\x00garbage\r\n\r\n",
    ],
)
def test_malformed_sip_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(sipmsg.SipParseError):
        sipmsg.parse(data)


def test_sip_compact_headers_and_multiple_vias() -> None:
    message = sipmsg.parse(
        b"INVITE sip:201@pbx.test SIP/2.0\r\nv: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b\r\n"
        b"f: <sip:bob@pbx.test>;tag=x\r\nt: <sip:201@pbx.test>\r\ni: abc\r\nCSeq: 7 INVITE\r\n"
        b"l: 0\r\n\r\n"
    )
    assert message.all("via") == ["SIP/2.0/UDP a;branch=z9hG4bK1", "SIP/2.0/UDP b"]
    assert (message.call_id, message.cseq_number, message.method) == ("abc", 7, "INVITE")
    reply = sipmsg.parse(sipmsg.response(message, 200, "OK", to_tag="t1"))
    assert reply.all("via") == message.all("via")
    assert sipmsg.tag_of(reply.get("to")) == "t1"


def test_sdp_prefers_the_offers_order_and_refuses_other_codecs() -> None:
    offer = sdp.parse_offer(
        b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18 8 0 101\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\n"
    )
    assert (offer.address, offer.port, offer.telephone_event) == ("10.0.0.1", 4000, 101)
    assert sdp.choose_codec(offer) == g711.PCMA
    with pytest.raises(sdp.NoCommonCodec):
        sdp.choose_codec(sdp.parse_offer(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 18\r\n"))


def test_rtp_round_trip_and_dtmf() -> None:
    packet = rtp.parse(
        rtp.build(
            payload_type=101, sequence=5, timestamp=800, ssrc=9, payload=bytes([11, 0x80, 3, 32])
        )
    )
    assert packet is not None
    assert (packet.payload_type, packet.sequence, packet.timestamp) == (101, 5, 800)
    event = rtp.dtmf(packet)
    assert event is not None
    assert (event.key, event.end) == ("#", True)
    assert rtp.parse(b"\x00" * 20) is None  # not RTP version 2


def test_message_summary_body() -> None:
    assert message_summary(account="sip:201@pbx.test", new=2, old=5) == (
        "Messages-Waiting: yes\r\nMessage-Account: sip:201@pbx.test\r\nVoice-Message: 2/5 (0/0)\r\n"
    )
