"""A small SIP phone for tests, over UDP, TCP or TLS (Python's ssl module: a real TLS handshake
with the engine's listener). The Debian sipp has no TLS; this phone registers with digest
authentication and answers a call on the very connection it registered on, as phones do.

It is deliberately small: one dialog at a time, messages parsed just enough to answer them."""

import base64
import hashlib
import re
import secrets
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Message:
    first_line: str
    headers: list[tuple[str, str]]
    body: str = ""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def status(self) -> int:
        return int(self.first_line.split()[1]) if self.first_line.startswith("SIP/2.0") else 0

    @property
    def reason(self) -> str:
        return self.first_line.split(" ", 2)[2] if self.status else ""

    @property
    def method(self) -> str:
        return "" if self.status else self.first_line.split()[0]


def parse(raw: bytes) -> Message:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return Message(lines[0], headers, body.decode(errors="replace"))


def answer_sdp(offer: str) -> str:
    """An answer in kind: SRTP with an SDES key of the offer's first suite when the offer is
    RTP/SAVP, plain RTP otherwise."""
    sdp = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    crypto = re.search(r"^a=crypto:(\d+) (\S+) ", offer, re.M)
    if " RTP/SAVP " in offer and crypto:
        key = base64.b64encode(secrets.token_bytes(30)).decode()
        return sdp + (
            "m=audio 40000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            f"a=crypto:{crypto[1]} {crypto[2]} inline:{key}\r\n"
        )
    return sdp + "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"


def _digest_params(challenge: str) -> dict[str, str]:
    params = {}
    for part in challenge.removeprefix("Digest ").split(","):
        key, _, value = part.strip().partition("=")
        params[key.strip()] = value.strip().strip('"')
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest is MD5


@dataclass
class Phone:
    """A phone with one connection to the engine (`transport`: udp, tcp or tls)."""

    transport: str
    host: str
    port: int
    cafile: Path | None = None
    sock: socket.socket = field(init=False)
    _buffer: bytes = field(init=False, default=b"")
    received: list[Message] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self.sock.connect((self.host, self.port))
        else:
            raw = socket.create_connection((self.host, self.port), timeout=5)
            if self.transport == "tls":
                context = ssl.create_default_context(
                    cafile=str(self.cafile) if self.cafile else None
                )
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                raw = context.wrap_socket(raw, server_hostname="localhost")
            self.sock = raw
        self.local_port = int(self.sock.getsockname()[1])
        # the protocol the handshake agreed (None: no TLS)
        self.tls_version = self.sock.version() if isinstance(self.sock, ssl.SSLSocket) else None

    def close(self) -> None:
        self.sock.close()

    def via(self, branch: str) -> str:
        return f"SIP/2.0/{self.transport.upper()} 127.0.0.1:{self.local_port};branch={branch};rport"

    def contact(self, username: str) -> str:
        # The phone's own address: for TCP/TLS nothing listens there (the connection's port),
        # so only the connection it registered on reaches it.
        return f"<sip:{username}@127.0.0.1:{self.local_port};transport={self.transport}>"

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def receive(self, timeout: float = 5.0) -> Message:
        self.sock.settimeout(timeout)
        udp = self.transport == "udp"
        message = parse(self.sock.recv(65535)) if udp else self._read_stream()
        self.received.append(message)
        return message

    def _read_stream(self) -> Message:
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")  # keepalive CRLFs
            head, found, rest = self._buffer.partition(b"\r\n\r\n")
            if found:
                message = parse(head + b"\r\n\r\n")
                length = int(message.header("Content-Length") or message.header("l") or 0)
                if len(rest) >= length:
                    self._buffer = rest[length:]
                    message.body = rest[:length].decode(errors="replace")
                    return message
            chunk = self.sock.recv(65535)
            if not chunk:
                raise ConnectionError("the engine closed the connection")
            self._buffer += chunk

    def receive_request(self, method: str, timeout: float = 8.0) -> Message:
        """The next request of `method` (OPTIONS keepalives from the engine are answered)."""
        while True:
            message = self.receive(timeout)
            if message.method == "OPTIONS" and method != "OPTIONS":
                self.reply(message, 200, "OK")
                continue
            if message.method == method:
                return message
            raise AssertionError(f"expected {method}, got {message.first_line}")

    def register(self, *, username: str, domain: str, secret: str, expires: int = 600) -> Message:
        """REGISTER with digest authentication; the final response."""
        call_id = secrets.token_hex(8)
        tag = secrets.token_hex(4)
        authorization = ""
        for cseq in (1, 2):
            self.send(
                f"REGISTER sip:{domain} SIP/2.0\r\n"
                f"Via: {self.via('z9hG4bK' + secrets.token_hex(6))}\r\n"
                f"From: <sip:{username}@{domain}>;tag={tag}\r\n"
                f"To: <sip:{username}@{domain}>\r\n"
                f"Call-ID: {call_id}\r\n"
                f"CSeq: {cseq} REGISTER\r\n"
                f"Contact: {self.contact(username)}\r\n"
                f"{authorization}"
                "Max-Forwards: 70\r\n"
                f"Expires: {expires}\r\n"
                f"User-Agent: pytest-{self.transport}-phone\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            response = self.receive()
            while 100 <= response.status < 200:
                response = self.receive()
            if response.status != 401:
                return response
            challenge = _digest_params(response.header("WWW-Authenticate") or "")
            authorization = self._authorization(
                challenge, username=username, secret=secret, uri=f"sip:{domain}"
            )
        return response

    @staticmethod
    def _authorization(
        challenge: dict[str, str],
        *,
        username: str,
        secret: str,
        uri: str,
        method: str = "REGISTER",
        header: str = "Authorization",
    ) -> str:
        realm, nonce = challenge["realm"], challenge["nonce"]
        ha1 = _md5(f"{username}:{realm}:{secret}")
        ha2 = _md5(f"{method}:{uri}")
        fields = f'username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
        if "auth" in challenge.get("qop", "").split(","):
            cnonce, nc = secrets.token_hex(8), "00000001"
            response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
        else:
            response = _md5(f"{ha1}:{nonce}:{ha2}")
        return f'{header}: Digest {fields}, response="{response}", algorithm=MD5\r\n'

    def reply(
        self,
        request: Message,
        code: int,
        reason: str,
        *,
        to_tag: str = "",
        contact: str = "",
        body: str = "",
    ) -> None:
        to = request.header("To") or ""
        if to_tag and ";tag=" not in to:
            to += f";tag={to_tag}"
        lines = [f"SIP/2.0 {code} {reason}"]
        lines += [f"Via: {via}" for via in request.all("Via")]
        lines += [f"Record-Route: {route}" for route in request.all("Record-Route")]
        lines += [
            f"From: {request.header('From')}",
            f"To: {to}",
            f"Call-ID: {request.header('Call-ID')}",
            f"CSeq: {request.header('CSeq')}",
        ]
        if contact:
            lines.append(f"Contact: {contact}")
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        self.send("\r\n".join(lines) + "\r\n\r\n" + body)

    def answer_call(self, username: str) -> tuple[Message, Message]:
        """Wait for an INVITE, ring, answer with an SDP, take the ACK and the caller's BYE.
        (INVITE, BYE) as received."""
        invite = self.receive_request("INVITE", timeout=15)
        tag = secrets.token_hex(4)
        self.reply(invite, 180, "Ringing", to_tag=tag, contact=self.contact(username))
        sdp = answer_sdp(invite.body)
        self.reply(invite, 200, "OK", to_tag=tag, contact=self.contact(username), body=sdp)
        self.receive_request("ACK")
        bye = self.receive_request("BYE", timeout=15)
        self.reply(bye, 200, "OK")
        return invite, bye


@dataclass
class Call:
    """A call the phone placed: what it needs to send in the dialog."""

    call_id: str
    from_header: str
    to_header: str
    request_uri: str  # the far end's Contact
    routes: list[str]
    cseq: int
    final: Message


SRTP_OFFER = (
    "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40002 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.b64encode(b"k" * 30).decode() + "\r\n"
)
RTP_OFFER = (
    "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def place_call(
    phone: Phone, *, username: str, domain: str, secret: str, called: str, offer: str
) -> Call:
    """INVITE `called` with `offer`, authenticating when challenged; ACK the final answer."""
    call_id, tag = secrets.token_hex(8), secrets.token_hex(4)
    uri = f"sip:{called}@{domain}"
    from_header, authorization = f"<sip:{username}@{domain}>;tag={tag}", ""
    for cseq in (1, 2):
        branch = "z9hG4bK" + secrets.token_hex(6)
        phone.send(
            f"INVITE {uri} SIP/2.0\r\nVia: {phone.via(branch)}\r\n"
            f"From: {from_header}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq} INVITE\r\nContact: {phone.contact(username)}\r\n{authorization}"
            "Max-Forwards: 70\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(offer.encode())}\r\n\r\n{offer}"
        )
        final = phone.receive(timeout=15)
        while final.status < 200:
            final = phone.receive(timeout=15)
        if final.status >= 300:
            # the ACK of a negative answer: same branch, the answer's To
            phone.send(
                f"ACK {uri} SIP/2.0\r\nVia: {phone.via(branch)}\r\nFrom: {from_header}\r\n"
                f"To: {final.header('To')}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} ACK\r\n"
                "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
        if final.status != 407:
            break
        challenge = _digest_params(final.header("Proxy-Authenticate") or "")
        authorization = Phone._authorization(
            challenge,
            username=username,
            secret=secret,
            uri=uri,
            method="INVITE",
            header="Proxy-Authorization",
        )
    call = Call(
        call_id=call_id,
        from_header=from_header,
        to_header=final.header("To") or "",
        request_uri=(final.header("Contact") or uri).strip("<>").split(">")[0],
        routes=list(reversed(_split_routes(final.all("Record-Route")))),
        cseq=cseq,
        final=final,
    )
    if final.status < 300:
        in_dialog(phone, call, "ACK", username)
    return call


def _split_routes(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def in_dialog(phone: Phone, call: Call, method: str, username: str) -> None:
    """Send ACK or BYE inside the call, along its route set."""
    cseq = call.cseq if method == "ACK" else call.cseq + 1
    routes = "".join(f"Route: {route}\r\n" for route in call.routes)
    phone.send(
        f"{method} {call.request_uri} SIP/2.0\r\n"
        f"Via: {phone.via('z9hG4bK' + secrets.token_hex(6))}\r\n"
        f"From: {call.from_header}\r\nTo: {call.to_header}\r\nCall-ID: {call.call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n{routes}Contact: {phone.contact(username)}\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
