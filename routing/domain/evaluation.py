"""The route decision: (person's routing, call, instant, live device state) -> decision.

Pure and deterministic. The decision lists concrete branches (each one device, with start and
stop offsets in seconds from the moment the call arrives), the cut times, the final action and
when it happens, and a trace of why, kept as structured events and rendered to sentences only
when someone reads them.

Everything the engine is asked to do is compiled here, so that the simulator and the engine can
never disagree: an `extension` target rings that colleague's devices as their own routing says
(their plan, do-not-disturb, forward-always), clipped to the stage; a forward to a colleague
continues the call with their whole routing, final action included; forward loops and long
chains end at a guard with the dialled person's voicemail. Outside numbers need a trunk, which
does not exist yet: they are skipped and the trace says so.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from routing.domain.plans import FinalAction, FinalKind, RingPlan, RoutingDocument, Rule, TargetType
from routing.domain.schedules import WeeklySchedule
from routing.domain.stages import DeviceInfo, ring_intervals
from routing.domain.timeline import Branch, settle
from routing.domain.trace import TraceEvent, describe_final, render

__all__ = [
    "MAX_FORWARD_HOPS",
    "Branch",
    "Colleague",
    "CompiledRouting",
    "Decision",
    "DeviceInfo",
    "IncomingCall",
    "LiveState",
    "Treatment",
    "evaluate",
]

MAX_FORWARD_HOPS = 5  # people a call may pass through (forwards and extension targets)


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
class CompiledRouting:
    """Everything about one person that a decision needs, compiled once and cached."""

    user_id: int
    time_zone: str
    max_ring_seconds: int
    document: RoutingDocument
    schedules: Mapping[int, WeeklySchedule]
    devices: tuple[DeviceInfo, ...]
    treatment: Treatment = Treatment()


@dataclass(frozen=True, slots=True)
class IncomingCall:
    caller: str = ""  # E.164, an extension, or "" when withheld
    active_calls: int = 0  # calls the called person is already on


@dataclass(frozen=True, slots=True)
class LiveState:
    registered: frozenset[int] = frozenset()  # device ids with a live registration


@dataclass(frozen=True, slots=True)
class Colleague:
    """Another person of the organisation a call may reach (extension target, forward)."""

    extension: str
    name: str
    routing: CompiledRouting
    live: LiveState


Colleagues = Callable[[str], Colleague | None]  # extension number -> who answers it, if anyone


def no_colleagues(extension: str) -> Colleague | None:
    return None


@dataclass(frozen=True, slots=True)
class Decision:
    branches: tuple[Branch, ...]
    cuts: tuple[int, ...]  # every branch is cancelled at these times; the next ones ring
    final: FinalAction  # what happens at `final_at`: voicemail, busy or unavailable
    final_at: int
    mailbox: str | None  # voicemail: the extension whose mailbox takes the call
    greeting: str  # voicemail: "unavailable" or "busy"
    reason: str  # no_answer, nothing_reachable, busy, dnd, forward_always
    plan: str | None
    rule: str | None
    trace: tuple[TraceEvent, ...]

    def trace_lines(self) -> list[str]:
        return [render(code, args) for code, args in self.trace]


@dataclass(frozen=True, slots=True)
class _End:
    final: FinalAction
    at: int
    mailbox: str | None = None
    greeting: str = "unavailable"


@dataclass(frozen=True, slots=True)
class _Outcome:
    branches: list[Branch]
    end: _End
    reason: str
    plan: str | None = None
    rule: str | None = None


_VOICEMAIL = FinalAction(FinalKind.VOICEMAIL)


def evaluate(
    routing: CompiledRouting,
    call: IncomingCall,
    instant: datetime,
    live: LiveState,
    *,
    extension: str = "",
    colleagues: Colleagues = no_colleagues,
) -> Decision:
    """`extension` is the number that was dialled (its mailbox takes the call when a forward
    chain loops); `colleagues` finds the people that extension targets and forwards reach."""
    trace: list[TraceEvent] = []
    local = instant.astimezone(ZoneInfo(routing.time_zone))
    trace.append(
        (
            "clock",
            (
                local.strftime("%a %Y-%m-%d %H:%M"),
                routing.time_zone,
                f"caller {call.caller or 'anonymous'}",
            ),
        )
    )
    walk = _Walk(call, instant, colleagues, trace, dialled=extension)
    outcome = walk.call(_Person(extension, routing, live), at=0, chain=(extension,))
    end = outcome.end
    branches, cuts = settle(outcome.branches, end.at, trace)
    final_at = end.at if branches else 0
    shown = end.mailbox if end.mailbox != extension else None
    if branches:
        trace.append(("final", (final_at, describe_final(end.final, shown))))
    else:
        if outcome.reason == "no_answer":
            outcome = _Outcome([], end, "nothing_reachable", outcome.plan, outcome.rule)
        trace.append(("final_now", (describe_final(end.final, shown),)))
    return Decision(
        branches=branches,
        cuts=cuts,
        final=end.final,
        final_at=final_at,
        mailbox=end.mailbox,
        greeting=end.greeting,
        reason=outcome.reason,
        plan=outcome.plan,
        rule=outcome.rule,
        trace=tuple(trace),
    )


@dataclass(frozen=True, slots=True)
class _Person:
    extension: str
    routing: CompiledRouting
    live: LiveState


class _Walk:
    """One decision's walk through the people a call reaches."""

    def __init__(
        self,
        call: IncomingCall,
        instant: datetime,
        colleagues: Colleagues,
        trace: list[TraceEvent],
        dialled: str,
    ) -> None:
        self.caller = call.caller
        self.active_calls = call.active_calls
        self.instant = instant
        self.colleagues = colleagues
        self.trace = trace
        self.dialled = dialled

    # --- the call reaches a person: their whole routing, final action included --------------

    def call(self, person: _Person, *, at: int, chain: tuple[str, ...]) -> _Outcome:
        treatment = person.routing.treatment
        instant = self.instant + timedelta(seconds=at)
        if treatment.forward_always and self._followable(treatment.forward_always):
            self.trace.append(("forward_always", (treatment.forward_always,)))
            branches, end = self._forward(treatment.forward_always, at=at, chain=chain)
            return _Outcome(branches, end, "forward_always")
        rule, plan = self._choose(person, instant)
        rule_name = rule.name if rule else None
        if treatment.dnd_active(instant):
            if rule is not None and rule.overrides_dnd:
                self.trace.append(("dnd_override", (rule.name,)))
            else:
                self.trace.append(("dnd", ()))
                return _Outcome([], self._rejected(plan, person, at), "dnd", plan.name, rule_name)
        limit = treatment.max_concurrent_calls
        # Only the dialled person's calls are known (the engine counts them); colleagues
        # reached further down the chain count as free.
        busy_now = self.active_calls if len(chain) == 1 else 0
        if limit is not None and busy_now >= limit:
            self.trace.append(("busy", (busy_now, limit)))
            if treatment.forward_on_busy and self._followable(treatment.forward_on_busy):
                branches, end = self._forward(treatment.forward_on_busy, at=at, chain=chain)
                return _Outcome(branches, end, "busy", plan.name, rule_name)
            end = self._rejected(plan, person, at, greeting="busy")
            return _Outcome([], end, "busy", plan.name, rule_name)

        final = plan.final
        if treatment.forward_on_no_answer:
            final = FinalAction(FinalKind.FORWARD, treatment.forward_on_no_answer)
        branches = self._ring(person, plan, start=at, stop=None, chain=chain)
        if not branches:
            self.trace.append(("nothing", ()))
        ring_end = max((b.stop for b in branches), default=at)
        later, end = self._final(final, person, at=ring_end, chain=chain)
        return _Outcome(branches + later, end, "no_answer", plan.name, rule_name)

    def _final(
        self, final: FinalAction, person: _Person, *, at: int, chain: tuple[str, ...]
    ) -> tuple[list[Branch], _End]:
        if final.kind is FinalKind.FORWARD:
            destination = final.destination or ""
            if self._followable(destination):
                return self._forward(destination, at=at, chain=chain)
            return [], _End(_VOICEMAIL, at, person.extension or None)
        if final.kind is FinalKind.VOICEMAIL:
            return [], _End(_VOICEMAIL, at, person.extension or None)
        return [], _End(final, at)

    def _rejected(
        self, plan: RingPlan, person: _Person, at: int, *, greeting: str = "unavailable"
    ) -> _End:
        """Busy and DND go to voicemail when the plan ends in voicemail, otherwise answer busy."""
        if plan.final.kind is FinalKind.VOICEMAIL:
            return _End(_VOICEMAIL, at, person.extension or None, greeting)
        return _End(FinalAction(FinalKind.BUSY), at)

    def _followable(self, destination: str) -> bool:
        if destination.startswith("+"):
            self.trace.append(("forward_external", (destination,)))
            return False
        return True

    def _guard(self, extension: str, chain: tuple[str, ...]) -> str | None:
        path = " → ".join((*chain, extension))
        fallback = f"voicemail of {self.dialled}" if self.dialled else "voicemail"
        if extension in chain:
            self.trace.append(("forward_loop", (extension, path, fallback)))
            return "loop"
        if len(chain) > MAX_FORWARD_HOPS:
            self.trace.append(("hop_limit", (MAX_FORWARD_HOPS, path, fallback)))
            return "hops"
        return None

    def _forward(
        self, extension: str, *, at: int, chain: tuple[str, ...]
    ) -> tuple[list[Branch], _End]:
        if self._guard(extension, chain) is not None:
            return [], _End(_VOICEMAIL, at, self.dialled or None)
        colleague = self.colleagues(extension)
        if colleague is None:
            self.trace.append(("extension_unknown", (extension,)))
            return [], _End(_VOICEMAIL, at, chain[-1] or None)
        self.trace.append(("forward_to", (extension, colleague.name, at)))
        self._enter(colleague, at)
        outcome = self.call(
            _Person(extension, colleague.routing, colleague.live),
            at=at,
            chain=(*chain, extension),
        )
        return outcome.branches, outcome.end

    # --- an extension target: that person's devices ring, clipped to the stage -------------

    def _extension(
        self, extension: str, *, start: int, stop: int, chain: tuple[str, ...]
    ) -> list[Branch]:
        if self._guard(extension, chain) is not None:
            return []
        colleague = self.colleagues(extension)
        if colleague is None:
            self.trace.append(("extension_unknown", (extension,)))
            return []
        self.trace.append(("extension", (extension, colleague.name, start, stop)))
        self._enter(colleague, start)
        person = _Person(extension, colleague.routing, colleague.live)
        branches = self._ring_only(person, start=start, stop=stop, chain=(*chain, extension))
        if not branches:
            self.trace.append(("extension_silent", (extension, colleague.name)))
        return branches

    def _ring_only(
        self, person: _Person, *, start: int, stop: int, chain: tuple[str, ...]
    ) -> list[Branch]:
        """What a person's routing rings in [start, stop): no final action (the call's own
        plan decides what happens when nobody answers)."""
        treatment = person.routing.treatment
        instant = self.instant + timedelta(seconds=start)
        if treatment.forward_always and self._followable(treatment.forward_always):
            self.trace.append(("forward_always", (treatment.forward_always,)))
            return self._extension(treatment.forward_always, start=start, stop=stop, chain=chain)
        rule, plan = self._choose(person, instant)
        if treatment.dnd_active(instant) and not (rule is not None and rule.overrides_dnd):
            self.trace.append(("dnd", ()))
            return []
        return self._ring(person, plan, start=start, stop=stop, chain=chain)

    # --- shared -----------------------------------------------------------------------------

    def _ring(
        self,
        person: _Person,
        plan: RingPlan,
        *,
        start: int,
        stop: int | None,
        chain: tuple[str, ...],
    ) -> list[Branch]:
        routing = person.routing
        cap = (
            routing.max_ring_seconds
            if stop is None
            else min(routing.max_ring_seconds, stop - start)
        )
        devices = {d.id: d for d in routing.devices}
        branches: list[Branch] = []
        for interval in ring_intervals(
            plan,
            devices=routing.devices,
            registered=person.live.registered,
            offset=start,
            cap=cap,
            trace=self.trace,
        ):
            if interval.type is TargetType.EXTENSION:
                branches.extend(
                    self._extension(
                        str(interval.value), start=interval.start, stop=interval.stop, chain=chain
                    )
                )
                continue
            device = devices[int(interval.value)]
            branches.append(
                Branch(
                    device_id=device.id,
                    sip_username=device.sip_username,
                    label=device.label,
                    start=interval.start,
                    stop=interval.stop,
                    wake=interval.wake,
                    user_id=routing.user_id,
                )
            )
        return branches

    def _choose(self, person: _Person, instant: datetime) -> tuple[Rule | None, RingPlan]:
        document = person.routing.document
        chosen: Rule | None = None
        for rule in document.rules:
            if not rule.enabled:
                self.trace.append(("rule_disabled", (rule.name,)))
                continue
            matched, why = _rule_matches(rule, person.routing, self.caller, instant)
            self.trace.append(("rule_matched" if matched else "rule_skipped", (rule.name, why)))
            if matched:
                chosen = rule
                break
        plan = document.plans[chosen.plan if chosen else document.default_plan]
        if chosen is None:
            self.trace.append(("default_plan", (plan.name,)))
        return chosen, plan

    def _enter(self, colleague: Colleague, at: int) -> None:
        local = (self.instant + timedelta(seconds=at)).astimezone(
            ZoneInfo(colleague.routing.time_zone)
        )
        self.trace.append(
            (
                "person",
                (
                    colleague.extension,
                    colleague.name,
                    at,
                    local.strftime("%a %H:%M"),
                    colleague.routing.time_zone,
                ),
            )
        )


def _rule_matches(
    rule: Rule, routing: CompiledRouting, caller: str, instant: datetime
) -> tuple[bool, str]:
    why = []
    if rule.schedule_id is not None:
        schedule = routing.schedules.get(rule.schedule_id)
        if schedule is None:
            return False, " (its schedule is gone)"
        is_open = schedule.is_open_at(instant, routing.time_zone)
        state = "open" if is_open else "closed"
        why.append(f"schedule '{schedule.name}' is {state}")
        if is_open != rule.when_open:
            return False, f" ({why[0]})"
    if rule.has_caller_condition:
        if not rule.matches_caller(caller):
            return False, f" (caller {caller or 'anonymous'} not listed)"
        why.append(f"caller {caller or 'anonymous'} listed")
    return True, f" ({', '.join(why)})" if why else ""
