"""The route decision: (routing profile, call, instant, live device state) -> decision.

Pure and deterministic. The decision lists concrete branches with start and stop offsets in
seconds from the moment the call arrives, the final action and when it happens, and a trace of
why, kept as structured events and rendered to sentences only when someone reads them.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from routing.domain.plans import (
    FinalAction,
    FinalKind,
    RingPlan,
    RoutingDocument,
    Rule,
    StageMode,
    TargetType,
)
from routing.domain.schedules import Schedule


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: int
    kind: str
    label: str
    sip_username: str
    enabled: bool = True
    revoked: bool = False
    push_capable: bool = False  # a mobile app with a live push binding


@dataclass(frozen=True, slots=True)
class Treatment:
    """Personal call treatment, outside any plan."""

    dnd: bool = False
    dnd_until: datetime | None = None  # DND ends at this instant (None: until switched off)
    forward_always: str | None = None
    forward_on_busy: str | None = None
    forward_on_no_answer: str | None = None
    max_concurrent_calls: int | None = None

    def dnd_active(self, instant: datetime) -> bool:
        return self.dnd and (self.dnd_until is None or instant < self.dnd_until)


@dataclass(frozen=True, slots=True)
class RoutingProfile:
    """Everything about one user that a decision needs, compiled once and cached."""

    user_id: int
    time_zone: str
    max_ring_seconds: int
    document: RoutingDocument
    schedules: Mapping[int, Schedule]
    devices: tuple[DeviceInfo, ...]
    treatment: Treatment = Treatment()


@dataclass(frozen=True, slots=True)
class Call:
    caller: str = ""  # E.164, an extension, or "" when withheld
    active_calls: int = 0  # calls the user is already on


@dataclass(frozen=True, slots=True)
class LiveState:
    registered: frozenset[int] = frozenset()  # device ids with a live registration


@dataclass(frozen=True, slots=True)
class Branch:
    type: TargetType  # DEVICE, EXTENSION or EXTERNAL
    value: int | str  # device id, extension number, E.164 number
    label: str
    start: int
    stop: int
    wake: bool = False  # send a push first: the app has no live registration


@dataclass(frozen=True, slots=True)
class Decision:
    branches: tuple[Branch, ...]
    final: FinalAction
    final_at: int
    reason: str  # no_answer, nothing_reachable, busy, dnd, forward_always
    plan: str | None
    rule: str | None
    trace: tuple[tuple[str, tuple[object, ...]], ...]

    def trace_lines(self) -> list[str]:
        return [render(code, args) for code, args in self.trace]


# --- Trace rendering ----------------------------------------------------------------------

_MESSAGES = {
    "clock": "{0} {1} ({2}).",
    "forward_always": "Forward-always is on: forwarding to {0}.",
    "dnd": "Do-not-disturb is on.",
    "dnd_override": "Do-not-disturb is on, but rule '{0}' lets this caller ring through.",
    "busy": "On {0} call(s), the limit is {1}: busy.",
    "rule_matched": "Rule '{0}' matched{1}.",
    "rule_skipped": "Rule '{0}' did not match{1}.",
    "rule_disabled": "Rule '{0}' is switched off.",
    "default_plan": "No rule matched: default plan '{0}'.",
    "device_skipped": "{0} skipped: {1}.",
    "wake": "{0} is not registered: waking it with a push.",
    "stage": "Stage {0} ({1}, {2} s from {3} s): {4}.",
    "stage_empty": "Stage {0} skipped: nothing in it can ring.",
    "replace_kept": "Stage {0} replaces, but {1} rings on into it, so the others ring on too: {2}.",
    "cap": "Ring time capped at {0} s by the organisation: stages from {1} on are dropped.",
    "nothing": "Nothing can ring: the final action happens at once.",
    "final": "Unanswered after {0} s: {1}.",
    "final_now": "Final action: {0}.",
}


def render(code: str, args: tuple[object, ...]) -> str:
    return _MESSAGES[code].format(*args)


def describe_final(final: FinalAction) -> str:
    if final.kind is FinalKind.FORWARD:
        return f"forward to {final.destination}"
    return {"voicemail": "voicemail", "busy": "busy", "unavailable": "unavailable"}[
        final.kind.value
    ]


# --- Evaluation ---------------------------------------------------------------------------


def _rule_matches(
    rule: Rule, profile: RoutingProfile, call: Call, instant: datetime
) -> tuple[bool, str]:
    why = []
    if rule.schedule_id is not None:
        schedule = profile.schedules.get(rule.schedule_id)
        if schedule is None:
            return False, " (its schedule is gone)"
        is_open = schedule.is_open_at(instant, profile.time_zone)
        state = "open" if is_open else "closed"
        why.append(f"schedule '{schedule.name}' is {state}")
        if is_open != rule.when_open:
            return False, f" ({why[0]})"
    if rule.has_caller_condition:
        if not rule.matches_caller(call.caller):
            return False, f" (caller {call.caller or 'anonymous'} not listed)"
        why.append(f"caller {call.caller or 'anonymous'} listed")
    return True, f" ({', '.join(why)})" if why else ""


def _forward(destination: str) -> FinalAction:
    return FinalAction(FinalKind.FORWARD, destination)


def _reject_treatment(plan: RingPlan) -> FinalAction:
    """Busy and DND go to voicemail when the plan ends in voicemail, otherwise answer busy."""
    if plan.final.kind is FinalKind.VOICEMAIL:
        return FinalAction(FinalKind.VOICEMAIL)
    return FinalAction(FinalKind.BUSY)


def evaluate(profile: RoutingProfile, call: Call, instant: datetime, live: LiveState) -> Decision:
    trace: list[tuple[str, tuple[object, ...]]] = []
    local = instant.astimezone(ZoneInfo(profile.time_zone))
    trace.append(
        (
            "clock",
            (
                local.strftime("%a %Y-%m-%d %H:%M"),
                profile.time_zone,
                f"caller {call.caller or 'anonymous'}",
            ),
        )
    )
    treatment = profile.treatment
    document = profile.document

    def immediate(final: FinalAction, reason: str, plan: str | None, rule: str | None) -> Decision:
        trace.append(("final_now", (describe_final(final),)))
        return Decision((), final, 0, reason, plan, rule, tuple(trace))

    if treatment.forward_always:
        trace.append(("forward_always", (treatment.forward_always,)))
        return immediate(_forward(treatment.forward_always), "forward_always", None, None)

    chosen: Rule | None = None
    for rule in document.rules:
        if not rule.enabled:
            trace.append(("rule_disabled", (rule.name,)))
            continue
        matched, why = _rule_matches(rule, profile, call, instant)
        trace.append(("rule_matched" if matched else "rule_skipped", (rule.name, why)))
        if matched:
            chosen = rule
            break
    plan = document.plans[chosen.plan if chosen else document.default_plan]
    rule_name = chosen.name if chosen else None
    if chosen is None:
        trace.append(("default_plan", (plan.name,)))

    if treatment.dnd_active(instant):
        if chosen is not None and chosen.overrides_dnd:
            trace.append(("dnd_override", (chosen.name,)))
        else:
            trace.append(("dnd", ()))
            return immediate(_reject_treatment(plan), "dnd", plan.name, rule_name)

    limit = treatment.max_concurrent_calls
    if limit is not None and call.active_calls >= limit:
        trace.append(("busy", (call.active_calls, limit)))
        final = (
            _forward(treatment.forward_on_busy)
            if treatment.forward_on_busy
            else _reject_treatment(plan)
        )
        return immediate(final, "busy", plan.name, rule_name)

    final = (
        _forward(treatment.forward_on_no_answer) if treatment.forward_on_no_answer else plan.final
    )
    branches = _ring(plan, profile, live, trace)
    if not branches:
        trace.append(("nothing", ()))
        return immediate(final, "nothing_reachable", plan.name, rule_name)
    final_at = max(b.stop for b in branches)
    trace.append(("final", (final_at, describe_final(final))))
    return Decision(
        tuple(branches), final, final_at, "no_answer", plan.name, rule_name, tuple(trace)
    )


def _ring(
    plan: RingPlan,
    profile: RoutingProfile,
    live: LiveState,
    trace: list[tuple[str, tuple[object, ...]]],
) -> list[Branch]:
    """Compile stages into branches: one continuous interval per target while it rings."""
    devices = {d.id: d for d in profile.devices}
    by_kind: dict[str, list[DeviceInfo]] = {}
    for device in profile.devices:
        by_kind.setdefault(device.kind, []).append(device)
    reported: set[int] = set()

    def reachable(device: DeviceInfo) -> tuple[bool, bool]:
        """(can ring, needs a wake-up push)."""
        problem = None
        if device.revoked:
            problem = "revoked"
        elif not device.enabled:
            problem = "disabled"
        elif device.id not in live.registered and not device.push_capable:
            problem = "not registered"
        if problem is not None:
            if device.id not in reported:
                trace.append(("device_skipped", (device.label, problem)))
                reported.add(device.id)
            return False, False
        wake = device.id not in live.registered
        if wake and device.id not in reported:
            trace.append(("wake", (device.label,)))
            reported.add(device.id)
        return True, wake

    done: list[Branch] = []
    active: dict[tuple[TargetType, int | str], Branch] = {}  # ringing now, stop still open
    now = 0
    cap = profile.max_ring_seconds
    for number, stage in enumerate(plan.stages, start=1):
        if now >= cap:
            trace.append(("cap", (cap, number)))
            break
        wanted: dict[tuple[TargetType, int | str], tuple[str, bool]] = {}
        for target in stage.targets:
            if target.type is TargetType.DEVICE:
                candidates = [devices[target.value]] if target.value in devices else []  # type: ignore[index]
            elif target.type is TargetType.DEVICE_KIND:
                candidates = by_kind.get(str(target.value), [])
            else:
                wanted[(target.type, target.value)] = (str(target.value), False)
                continue
            for device in candidates:
                ok, wake = reachable(device)
                if ok:
                    wanted[(TargetType.DEVICE, device.id)] = (device.label, wake)
        if not wanted:
            trace.append(("stage_empty", (number,)))
            continue
        seconds = min(stage.seconds, cap - now)
        if stage.mode is StageMode.REPLACE:
            staying = [k for k in active if k in wanted]
            leaving = [k for k in active if k not in wanted]
            if staying and leaving:
                # A phone cannot be stopped and kept ringing in the same call: cancelling the
                # others cancels it too, and inviting it again is refused (RFC 3261 merged
                # request). So the earlier devices ring on with it.
                trace.append(
                    (
                        "replace_kept",
                        (
                            number,
                            ", ".join(active[k].label for k in staying),
                            ", ".join(active[k].label for k in leaving),
                        ),
                    )
                )
            else:
                for key in leaving:
                    done.append(_closed(active.pop(key), now))
        for key, (label, wake) in wanted.items():
            if key not in active:
                active[key] = Branch(key[0], key[1], label, now, -1, wake)
        trace.append(
            (
                "stage",
                (
                    number,
                    stage.mode.value,
                    seconds,
                    now,
                    ", ".join(b.label for b in active.values()),
                ),
            )
        )
        now += seconds
    done.extend(_closed(branch, now) for branch in active.values())
    done.sort(key=lambda b: (b.start, b.stop, str(b.value)))
    return done


def _closed(branch: Branch, stop: int) -> Branch:
    return Branch(branch.type, branch.value, branch.label, branch.start, stop, branch.wake)
