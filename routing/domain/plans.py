"""Ring plans, rules and the routing document that holds them (validation and the JSON form
are in routing.domain.documents).

A routing document is what a user (or a template) edits as a whole:

    {"plans": [{"name": "office",
                "stages": [{"seconds": 15, "mode": "add",
                            "targets": [{"type": "device_kind", "kind": "desk_phone"}]},
                           {"seconds": 20, "mode": "add",
                            "targets": [{"type": "device_kind", "kind": "mobile_app"}]}],
                "final": {"action": "voicemail"}}],
     "default_plan": "office",
     "rules": [{"name": "after hours", "plan": "mobile", "schedule_id": 3, "when": "closed"},
               {"name": "VIP", "plan": "mobile", "callers": ["+4420*", "+33612345678"]}]}

Rules are tried in order; the first whose conditions all hold picks the plan; otherwise the
default plan applies.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

MIN_STAGE_SECONDS = 5
MAX_STAGE_SECONDS = 120
MAX_STAGES = 10
MAX_TARGETS_PER_STAGE = 20
MAX_PLANS = 20
MAX_RULES = 50
MAX_CALLER_PATTERNS = 200
DEVICE_KINDS = ("desk_phone", "softphone", "mobile_app", "web_softphone")
ANONYMOUS = "anonymous"


class StageMode(StrEnum):
    ADD = "add"  # ring these as well as what is still ringing
    REPLACE = "replace"  # stop what is ringing, ring these instead


class TargetType(StrEnum):
    DEVICE = "device"
    DEVICE_KIND = "device_kind"
    EXTENSION = "extension"
    EXTERNAL = "external"


class FinalKind(StrEnum):
    VOICEMAIL = "voicemail"
    FORWARD = "forward"
    BUSY = "busy"  # reject with 486 Busy Here
    UNAVAILABLE = "unavailable"  # reject with 480 Temporarily Unavailable


@dataclass(frozen=True, slots=True)
class Target:
    type: TargetType
    value: int | str  # device id, device kind, extension number or E.164 number


@dataclass(frozen=True, slots=True)
class Stage:
    seconds: int
    mode: StageMode
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class FinalAction:
    kind: FinalKind
    destination: str | None = None  # extension number or E.164 for FORWARD


@dataclass(frozen=True, slots=True)
class RingPlan:
    name: str
    stages: tuple[Stage, ...]
    final: FinalAction


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    plan: str
    schedule_id: int | None = None
    when_open: bool = True  # with a schedule: match while it is open (True) or closed (False)
    callers: frozenset[str] = frozenset()  # exact E.164 numbers, or "anonymous"
    caller_prefixes: tuple[str, ...] = ()  # "+4420*" stored as "+4420"
    overrides_dnd: bool = False  # these callers ring through do-not-disturb
    enabled: bool = True

    @property
    def has_caller_condition(self) -> bool:
        return bool(self.callers or self.caller_prefixes)

    def matches_caller(self, caller: str) -> bool:
        if not self.has_caller_condition:
            return True
        number = caller or ANONYMOUS
        return number in self.callers or any(number.startswith(p) for p in self.caller_prefixes)


@dataclass(frozen=True, slots=True)
class RoutingDocument:
    plans: Mapping[str, RingPlan]
    default_plan: str
    rules: tuple[Rule, ...] = field(default=())
