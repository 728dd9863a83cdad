"""The contract between Django and the engine, in one place: what the engine asks, what Django
decides, and what the engine reports. Typed values with one JSON encoding and a version.

The engine (deploy/kamailio) sends `version` with every route request and every event batch
(`#!define CONTRACT_VERSION` in kamailio.cfg); Django refuses another version with the code
`contract_version`, and the engine then works in degraded mode instead of misreading a decision.

A decision is complete: the engine carries it out as written and derives nothing. Every branch
rings one device (an extension, a forward to a colleague, a woken app: all compiled to devices
by the evaluator), from `start_ms` to `stop_ms` after the call arrived; at each time in `cuts`
every ringing branch is cancelled and the branches marked `after_cut` ring next; at `final.at_ms`
the final action happens. What the engine cannot carry out is never emitted (the evaluator says
in the trace what it skipped and why).

Pure Python: no Django import, so the engine's side of the seam can be tested without a database.
"""

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

CONTRACT_VERSION = 1


class ContractError(ValueError):
    """A message that does not follow the contract (`code` is stable, `field` names the culprit)."""

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


def check_version(raw: Mapping[str, Any]) -> None:
    version = raw.get("version")
    if isinstance(version, bool) or version != CONTRACT_VERSION:
        raise ContractError(
            "contract_version",
            f"The engine speaks contract version {version!r}; Django speaks {CONTRACT_VERSION}.",
            "version",
        )


def _text(raw: Mapping[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = raw.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        raise ContractError("invalid", f"Field {key} is missing or invalid.", key)
    return value


def _count(raw: Mapping[str, Any], key: str, limit: int) -> int:
    value = raw.get(key, 0)
    if value in ("", None):
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
        raise ContractError("invalid", f"Field {key} is missing or invalid.", key)
    return value


# --- Engine -> Django: the route request ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RouteRequest:
    domain: str  # the dialled SIP domain, lower case
    called: str  # an extension number or an E.164 DID
    caller: str = ""  # the calling device's SIP username, an E.164 number or ""
    caller_name: str = ""
    call_id: str = ""  # empty: a question without a call (nothing is recorded)
    active_calls: int = 0


def parse_route_request(raw: Any) -> RouteRequest:
    if not isinstance(raw, Mapping):
        raise ContractError("malformed_request", "Send a JSON object.")
    check_version(raw)
    return RouteRequest(
        domain=_text(raw, "domain", 253, required=True).lower(),
        called=_text(raw, "called", 32, required=True),
        caller=_text(raw, "caller", 64),
        # What a caller's phone puts there must not cost the call its decision: cut, not refused.
        caller_name=_clip(raw, "caller_name", 128),
        call_id=_clip(raw, "call_id", 255),
        active_calls=_count(raw, "active_calls", 1000),
    )


# --- Django -> engine: the decision -----------------------------------------------------------


class FinalOrder(StrEnum):
    """What the engine does at the decision's final time. Forwards to colleagues are compiled
    into branches and a final order of the person forwarded to; calls to outside numbers wait
    for trunks and are never ordered."""

    VOICEMAIL = "voicemail"  # hand the call to the voicemail agent, mailbox `mailbox`
    BUSY = "busy"  # 486 Busy Here
    UNAVAILABLE = "unavailable"  # 480 Temporarily Unavailable


@dataclass(frozen=True, slots=True)
class BranchOrder:
    device_id: int
    sip_username: str
    label: str
    start_ms: int
    stop_ms: int
    wake: bool = False  # Django is waking the app with a push: hold the call for its REGISTER
    after_cut: bool = False  # starts at a cut: rung by the engine once the cut has completed
    user_id: int | None = None  # whose device (a colleague's, for extension branches)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "device",
            "device_id": self.device_id,
            "sip_username": self.sip_username,
            "label": self.label,
            "user_id": self.user_id,
            "start_ms": self.start_ms,
            "stop_ms": self.stop_ms,
            "wake": self.wake,
            "after_cut": self.after_cut,
        }


@dataclass(frozen=True, slots=True)
class FinalStep:
    order: FinalOrder
    at_ms: int
    mailbox: str | None = None  # the extension whose mailbox takes the call (voicemail)
    greeting: str = "unavailable"  # which greeting the voicemail agent plays: unavailable, busy

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.order.value,
            "at_ms": self.at_ms,
            "mailbox": self.mailbox,
            "greeting": self.greeting,
        }


@dataclass(frozen=True, slots=True)
class EngineDecision:
    user_id: int
    extension: str
    branches: tuple[BranchOrder, ...]
    cuts: tuple[int, ...]  # ms: every branch is cancelled, then the `after_cut` ones ring
    final: FinalStep
    reason: str
    plan: str | None = None
    rule: str | None = None
    call_id: str | None = None
    trace: tuple[str, ...] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "version": CONTRACT_VERSION,
            "call_id": self.call_id,
            "user_id": self.user_id,
            "extension": self.extension,
            "plan": self.plan,
            "rule": self.rule,
            "reason": self.reason,
            "branches": [branch.to_json() for branch in self.branches],
            "cuts": list(self.cuts),
            "final": self.final.to_json(),
        }
        if self.trace is not None:
            body["trace"] = list(self.trace)
        return body


# --- Engine -> Django: events -----------------------------------------------------------------


class EventType(StrEnum):
    REGISTERED = "registered"
    UNREGISTERED = "unregistered"
    REFUSED = "refused"  # a REGISTER or INVITE refused (bad credentials, network not allowed)
    EXPIRED = "expired"  # the engine dropped a contact: it expired or stopped answering pings
    RINGING = "ringing"
    ANSWERED = "answered"
    VOICEMAIL = "voicemail"
    ENDED = "ended"
    MISSED = "missed"
    BANNED = "banned"  # the engine banned a source address (failed authentications, scanner)


REGISTRATION_EVENTS = frozenset(
    {EventType.REGISTERED, EventType.UNREGISTERED, EventType.REFUSED, EventType.EXPIRED}
)
CALL_EVENTS = frozenset(
    {EventType.RINGING, EventType.ANSWERED, EventType.VOICEMAIL, EventType.ENDED, EventType.MISSED}
)
SECURITY_EVENTS = frozenset({EventType.BANNED})
REFUSABLE_METHODS = frozenset({"REGISTER", "INVITE"})
MAX_EXPIRES = 3600
DEFAULT_EXPIRES = 600


@dataclass(frozen=True, slots=True)
class RegistrationEvent:
    type: EventType
    username: str
    domain: str
    contact: str = ""
    expires: int = DEFAULT_EXPIRES
    source_address: str | None = None
    source_port: int | None = None
    transport: str = ""
    user_agent: str = ""
    reason: str = ""
    method: str = "REGISTER"  # a refusal's request: REGISTER or INVITE
    detail: str = ""  # a refusal's particulars, e.g. "transport policy tls_srtp_required: ..."


@dataclass(frozen=True, slots=True)
class SourceBanEvent:
    """The engine banned `source_address` for `seconds` (its requests are dropped unanswered)."""

    type: EventType
    source_address: str
    reason: str  # auth_failures, scanner, flood
    seconds: int
    failures: int = 0  # failed authentications that led to it
    repeat: int = 1  # the address's bans within a day, this one included
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class CallEvent:
    type: EventType
    call_id: str
    domain: str
    contact: str = ""  # the registered contact of the branch that answered
    reply_contact: str = ""  # the Contact of its 200 OK
    code: int | None = None


def _address(raw: Mapping[str, Any]) -> str | None:
    text = _text(raw, "source_address", 64) or None
    if text is None:
        return None
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError as exc:
        raise ContractError("invalid", "source_address is not an IP address") from exc


def _port(raw: Mapping[str, Any]) -> int | None:
    port = raw.get("source_port")
    if port is None:
        return None
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ContractError("invalid", "source_port is not a port")
    return port


def _clip(raw: Mapping[str, Any], key: str, limit: int) -> str:
    value = raw.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ContractError("invalid", f"{key} must be a string", key)
    return value[:limit]


def _registration_event(kind: EventType, raw: Mapping[str, Any]) -> RegistrationEvent:
    expires_text = _clip(raw, "expires", 10)
    expires = (
        int(expires_text) if expires_text.isascii() and expires_text.isdigit() else DEFAULT_EXPIRES
    )
    username = _clip(raw, "username", 64)
    domain = _clip(raw, "domain", 253).lower()
    if not username or not domain:
        raise ContractError("invalid", "username and domain are required")
    return RegistrationEvent(
        type=kind,
        username=username,
        domain=domain,
        contact=_clip(raw, "contact", 512),
        expires=0
        if kind in (EventType.UNREGISTERED, EventType.EXPIRED)
        else min(expires, MAX_EXPIRES),
        source_address=_address(raw),
        source_port=_port(raw),
        transport=_clip(raw, "transport", 8),
        user_agent=_clip(raw, "user_agent", 200),
        reason=_clip(raw, "reason", 40),
        method=_method(raw),
        detail=_clip(raw, "detail", 200),
    )


def _method(raw: Mapping[str, Any]) -> str:
    method = _clip(raw, "method", 16).upper() or "REGISTER"
    if method not in REFUSABLE_METHODS:
        raise ContractError("invalid", "method is REGISTER or INVITE", "method")
    return method


def _ban_event(kind: EventType, raw: Mapping[str, Any]) -> SourceBanEvent:
    address = _address(raw)
    if address is None:
        raise ContractError("invalid", "source_address is required", "source_address")
    seconds = _count(raw, "seconds", 10**8)
    if seconds == 0:
        raise ContractError("invalid", "seconds is the ban's length", "seconds")
    return SourceBanEvent(
        type=kind,
        source_address=address,
        reason=_clip(raw, "reason", 40) or "auth_failures",
        seconds=seconds,
        failures=_count(raw, "failures", 10**9),
        repeat=max(1, _count(raw, "repeat", 10**6)),
        user_agent=_clip(raw, "user_agent", 200),
    )


def _call_event(kind: EventType, raw: Mapping[str, Any]) -> CallEvent:
    call_id = _clip(raw, "call_id", 255)
    domain = _clip(raw, "domain", 253).lower()
    if not call_id or not domain:
        raise ContractError("invalid", "call_id and domain are required")
    code = raw.get("code")
    if isinstance(code, str) and code.isascii() and code.isdigit():
        code = int(code)
    if code is not None and (
        not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 699
    ):
        raise ContractError("invalid", "code is a SIP status")
    return CallEvent(
        type=kind,
        call_id=call_id,
        domain=domain,
        contact=_clip(raw, "contact", 512),
        reply_contact=_clip(raw, "reply_contact", 512),
        code=code,
    )


def parse_event(raw: Any) -> RegistrationEvent | CallEvent | SourceBanEvent:
    """One event of a batch. Raises ContractError (the batch goes on without it)."""
    if not isinstance(raw, Mapping):
        raise ContractError("invalid", "an event is an object")
    try:
        kind = EventType(str(raw.get("type")))
    except ValueError as exc:
        raise ContractError("invalid", "unknown event type", "type") from exc
    if kind in CALL_EVENTS:
        return _call_event(kind, raw)
    if kind in SECURITY_EVENTS:
        return _ban_event(kind, raw)
    return _registration_event(kind, raw)


def parse_event_batch(raw: Any) -> list[Any]:
    """The raw events of `{"version": 1, "events": [...]}`; each is parsed on its own."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("events"), list):
        raise ContractError("malformed_request", 'Send {"version": 1, "events": [...]}.')
    check_version(raw)
    return list(raw["events"])
