"""SDP offer/answer (RFC 3264) for one audio stream of G.711 with telephone-event. Pure."""

from dataclasses import dataclass

from voicemail.domain.g711 import PCMA, PCMU


class NoCommonCodec(ValueError):
    pass


@dataclass(frozen=True)
class AudioOffer:
    address: str
    port: int
    payload_types: tuple[int, ...]
    telephone_event: int | None


def parse_offer(body: bytes) -> AudioOffer:
    address, port = "", 0
    types: tuple[int, ...] = ()
    events: int | None = None
    media_address = ""
    in_audio = False
    for raw in body.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line.startswith("c=") and not in_audio:
            address = line.split()[-1]
        elif line.startswith("m="):
            in_audio = line.startswith("m=audio")
            if in_audio:
                fields = line[2:].split()
                port = int(fields[1])
                types = tuple(int(t) for t in fields[3:] if t.isascii() and t.isdigit())
        elif in_audio and line.startswith("c="):
            media_address = line.split()[-1]
        elif (
            in_audio
            and line.lower().startswith("a=rtpmap:")
            and "telephone-event/8000" in line.lower()
        ):
            events = int(line.split(":", 1)[1].split()[0])
    if not port:
        raise NoCommonCodec("no audio stream offered")
    return AudioOffer(media_address or address, port, types, events)


def choose_codec(offer: AudioOffer) -> int:
    for payload_type in offer.payload_types:
        if payload_type in (PCMU, PCMA):
            return payload_type
    raise NoCommonCodec("neither PCMU nor PCMA offered")


def answer(
    *, address: str, port: int, codec: int, telephone_event: int | None, session: int
) -> bytes:
    types = [str(codec)] + ([str(telephone_event)] if telephone_event is not None else [])
    lines = [
        "v=0",
        f"o=pbx-voicemail {session} {session} IN IP4 {address}",
        "s=voicemail",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(types)}",
        f"a=rtpmap:{codec} {'PCMU' if codec == PCMU else 'PCMA'}/8000",
    ]
    if telephone_event is not None:
        lines += [
            f"a=rtpmap:{telephone_event} telephone-event/8000",
            f"a=fmtp:{telephone_event} 0-16",
        ]
    lines += ["a=ptime:20", "a=sendrecv"]
    return ("\r\n".join(lines) + "\r\n").encode()
