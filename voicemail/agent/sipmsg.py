"""Parse and build SIP messages (RFC 3261 section 7): just what a voicemail UAS needs. Pure."""

import re
import secrets
from dataclasses import dataclass, field

COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
    "e": "content-encoding",
}


class SipParseError(ValueError):
    pass


@dataclass
class SipMessage:
    first_line: str
    headers: list[tuple[str, str]] = field(default_factory=list)  # (lower-case name, value)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        if self.is_request:
            return self.first_line.split(" ", 1)[0]
        return self.cseq_method

    @property
    def uri(self) -> str:
        return self.first_line.split(" ")[1]

    @property
    def status(self) -> int:
        return int(self.first_line.split(" ")[1])

    def get(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value
        return ""

    def all(self, name: str) -> list[str]:
        values: list[str] = []
        for key, value in self.headers:
            if key == name:
                values.extend(part.strip() for part in _split_commas(value))
        return values

    @property
    def call_id(self) -> str:
        return self.get("call-id")

    @property
    def cseq_number(self) -> int:
        return int(self.get("cseq").split()[0])

    @property
    def cseq_method(self) -> str:
        return self.get("cseq").split()[1]


def _split_commas(value: str) -> list[str]:
    """Split a header value on commas outside <...> and quotes."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in value:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse(data: bytes) -> SipMessage:
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        head, separator, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("not UTF-8") from exc
    lines = re.split(r"\r?\n", text)
    first = lines[0].strip()
    if not (first.startswith("SIP/2.0 ") or first.endswith(" SIP/2.0")):
        raise SipParseError(f"not a SIP start line: {first[:60]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # folded continuation
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise SipParseError(f"bad header line: {line[:60]!r}")
        key = name.strip().lower()
        headers.append((COMPACT.get(key, key), value.strip()))
    message = SipMessage(first, headers, body)
    for required in ("via", "from", "to", "call-id", "cseq"):
        if not message.get(required):
            raise SipParseError(f"missing {required}")
    length = message.get("content-length")
    if length:
        if not (length.isascii() and length.isdigit()) or int(length) > len(body):
            raise SipParseError("bad Content-Length")
        message.body = body[: int(length)]
    return message


def build(first_line: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [first_line] + [f"{_canonical(name)}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _canonical(name: str) -> str:
    special = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate"}
    return special.get(name, "-".join(part.capitalize() for part in name.split("-")))


def response(
    request: SipMessage,
    status: int,
    reason: str,
    *,
    to_tag: str = "",
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> bytes:
    headers: list[tuple[str, str]] = [("via", v) for v in request.all("via")]
    headers.append(("from", request.get("from")))
    to = request.get("to")
    if to_tag and ";tag=" not in to:
        to = f"{to};tag={to_tag}"
    headers += [("to", to), ("call-id", request.call_id), ("cseq", request.get("cseq"))]
    if status == 200 or 100 < status < 200:
        headers += [("record-route", rr) for rr in request.all("record-route")]
    headers += extra or []
    return build(f"SIP/2.0 {status} {reason}", headers, body)


def tag_of(header_value: str) -> str:
    match = re.search(r";\s*tag=([^;>\s]+)", header_value)
    return match.group(1) if match else ""


def uri_of(header_value: str) -> str:
    match = re.search(r"<([^>]+)>", header_value)
    return match.group(1) if match else header_value.split(";")[0].strip()


def host_port(uri: str) -> tuple[str, int]:
    """The host and port a SIP URI points at (`sip:user@host:port;params`)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split("@", 1)[-1].split(";", 1)[0].split("?", 1)[0]
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        return host, int(port.lstrip(":") or 5060)
    host, _, port = rest.partition(":")
    return host, int(port or 5060)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)
