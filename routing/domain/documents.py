"""Routing documents: validation of what people save (every problem reported by path),
the canonical JSON form, and the default document.

A routing document is what a user (or a template) edits as a whole: named plans, a default
plan and ordered rules (see routing.domain.plans for the shapes).
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pbx.directory.domain import InvalidValue, normalise_e164, validate_extension_number
from routing.domain.plans import (
    ANONYMOUS,
    DEVICE_KINDS,
    MAX_CALLER_PATTERNS,
    MAX_PLANS,
    MAX_RULES,
    MAX_STAGE_SECONDS,
    MAX_STAGES,
    MAX_TARGETS_PER_STAGE,
    MIN_STAGE_SECONDS,
    FinalAction,
    FinalKind,
    RingPlan,
    RoutingDocument,
    Rule,
    Stage,
    StageMode,
    Target,
    TargetType,
)

NO_TRUNK = "no_trunk"
NO_TRUNK_MESSAGE = "Calls to outside numbers need a trunk, and none is available yet."


class DocumentInvalid(ValueError):
    """Every problem found, as {dotted path: [(code, message)]}."""

    def __init__(self, errors: dict[str, list[tuple[str, str]]]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class DocumentContext:
    """What the parser needs to know about the organisation to check references."""

    owner_id: int | None  # None for a template: it may not name specific devices
    device_owners: Mapping[int, tuple[int, bool]]  # device id -> (owner user id, revoked)
    schedule_ids: Collection[int]
    extensions: Collection[str]  # extension numbers of the organisation
    own_extensions: Collection[str] = ()
    # Calls to outside numbers need a trunk. Until trunks exist they are refused when a
    # document is saved; a stored document that has them still loads (the evaluator skips them
    # and says so in the trace).
    outside_numbers: bool = False


class _Errors:
    def __init__(self) -> None:
        self.items: dict[str, list[tuple[str, str]]] = {}

    def add(self, path: str, code: str, message: str) -> None:
        self.items.setdefault(path, []).append((code, message))


def _int(raw: Any) -> int | None:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


def _text(raw: Any, limit: int) -> str | None:
    return raw.strip() if isinstance(raw, str) and 0 < len(raw.strip()) <= limit else None


def _destination(raw: Any, ctx: DocumentContext, path: str, errors: _Errors) -> str | None:
    """A forward destination: an extension of the organisation or an E.164 number."""
    if not isinstance(raw, str) or not raw.strip():
        errors.add(path, "required", "Give an extension or an E.164 number.")
        return None
    text = raw.strip()
    if text.startswith("+"):
        try:
            number = normalise_e164(text)
        except InvalidValue as exc:
            errors.add(path, exc.code, str(exc))
            return None
        if not ctx.outside_numbers:
            errors.add(path, NO_TRUNK, NO_TRUNK_MESSAGE)
            return None
        return number
    if text not in ctx.extensions:
        errors.add(path, "unknown_extension", f"No extension {text} in this organisation.")
        return None
    if text in ctx.own_extensions:
        errors.add(path, "forward_loop", "Forwarding to your own extension would loop.")
        return None
    return text


def _target(raw: Any, ctx: DocumentContext, path: str, errors: _Errors) -> Target | None:
    if not isinstance(raw, Mapping):
        errors.add(path, "invalid", "A target is an object with a type.")
        return None
    kind = raw.get("type")
    if kind == TargetType.DEVICE:
        device_id = _int(raw.get("device_id"))
        known = ctx.device_owners.get(device_id) if device_id is not None else None
        if ctx.owner_id is None:
            errors.add(
                path, "device_in_template", "Templates ring device kinds, not specific devices."
            )
        elif known is None:
            errors.add(f"{path}.device_id", "unknown_device", "No such device.")
        elif known[0] != ctx.owner_id:
            errors.add(
                f"{path}.device_id", "not_your_device", "This device belongs to someone else."
            )
        elif known[1]:
            errors.add(f"{path}.device_id", "device_revoked", "This device was revoked.")
        elif device_id is not None:
            return Target(TargetType.DEVICE, device_id)
        return None
    if kind == TargetType.DEVICE_KIND:
        if raw.get("kind") not in DEVICE_KINDS:
            errors.add(f"{path}.kind", "invalid_choice", f"Use one of {', '.join(DEVICE_KINDS)}.")
            return None
        return Target(TargetType.DEVICE_KIND, raw["kind"])
    if kind == TargetType.EXTENSION:
        number = raw.get("extension")
        number = number if isinstance(number, str) else ""
        try:
            validate_extension_number(number)
        except InvalidValue as exc:
            errors.add(f"{path}.extension", exc.code, str(exc))
            return None
        if number not in ctx.extensions:
            errors.add(f"{path}.extension", "unknown_extension", f"No extension {number}.")
            return None
        if number in ctx.own_extensions:
            errors.add(f"{path}.extension", "ring_loop", "A plan cannot ring its own extension.")
            return None
        return Target(TargetType.EXTENSION, number)
    if kind == TargetType.EXTERNAL:
        try:
            number = normalise_e164(str(raw.get("number", "")))
        except InvalidValue as exc:
            errors.add(f"{path}.number", exc.code, str(exc))
            return None
        if not ctx.outside_numbers:
            errors.add(f"{path}.number", NO_TRUNK, NO_TRUNK_MESSAGE)
            return None
        return Target(TargetType.EXTERNAL, number)
    errors.add(
        f"{path}.type", "invalid_choice", f"Use one of {', '.join(t.value for t in TargetType)}."
    )
    return None


def _stage(raw: Any, ctx: DocumentContext, path: str, errors: _Errors) -> Stage | None:
    if not isinstance(raw, Mapping):
        errors.add(path, "invalid", "A stage is {seconds, mode, targets}.")
        return None
    seconds = _int(raw.get("seconds"))
    if seconds is None or not MIN_STAGE_SECONDS <= seconds <= MAX_STAGE_SECONDS:
        errors.add(
            f"{path}.seconds",
            "out_of_range",
            f"Ring between {MIN_STAGE_SECONDS} and {MAX_STAGE_SECONDS} seconds.",
        )
    mode_raw = raw.get("mode", StageMode.ADD.value)
    if mode_raw not in (StageMode.ADD, StageMode.REPLACE):
        errors.add(f"{path}.mode", "invalid_choice", "Use add or replace.")
    targets_raw = raw.get("targets")
    if not isinstance(targets_raw, list) or not targets_raw:
        errors.add(f"{path}.targets", "required", "A stage rings at least one target.")
        return None
    if len(targets_raw) > MAX_TARGETS_PER_STAGE:
        errors.add(f"{path}.targets", "max_length", f"At most {MAX_TARGETS_PER_STAGE} targets.")
        return None
    targets = [_target(t, ctx, f"{path}.targets.{i}", errors) for i, t in enumerate(targets_raw)]
    if seconds is None or None in targets or path + ".mode" in errors.items:
        return None
    unique = tuple(dict.fromkeys(t for t in targets if t is not None))
    return Stage(seconds=seconds, mode=StageMode(mode_raw), targets=unique)


def _final(raw: Any, ctx: DocumentContext, path: str, errors: _Errors) -> FinalAction | None:
    if not isinstance(raw, Mapping) or raw.get("action") not in tuple(FinalKind):
        errors.add(f"{path}.action", "invalid_choice", f"Use one of {', '.join(FinalKind)}.")
        return None
    kind = FinalKind(raw["action"])
    if kind is FinalKind.FORWARD:
        destination = _destination(raw.get("destination"), ctx, f"{path}.destination", errors)
        return FinalAction(kind, destination) if destination else None
    return FinalAction(kind)


def _plan(raw: Any, ctx: DocumentContext, path: str, errors: _Errors) -> RingPlan | None:
    if not isinstance(raw, Mapping):
        errors.add(path, "invalid", "A plan is {name, stages, final}.")
        return None
    name = _text(raw.get("name"), 60)
    if name is None:
        errors.add(f"{path}.name", "required", "Name the plan (up to 60 characters).")
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, list):
        errors.add(f"{path}.stages", "required", "A list of stages.")
        stages_raw = []
    if len(stages_raw) > MAX_STAGES:
        errors.add(f"{path}.stages", "max_length", f"At most {MAX_STAGES} stages.")
        stages_raw = []
    stages = [_stage(s, ctx, f"{path}.stages.{i}", errors) for i, s in enumerate(stages_raw)]
    final = _final(raw.get("final"), ctx, f"{path}.final", errors)
    if name is None or final is None or None in stages:
        return None
    return RingPlan(name=name, stages=tuple(s for s in stages if s is not None), final=final)


def _callers(raw: Any, path: str, errors: _Errors) -> tuple[frozenset[str], tuple[str, ...]]:
    if raw is None:
        return frozenset(), ()
    if not isinstance(raw, list) or len(raw) > MAX_CALLER_PATTERNS:
        errors.add(path, "invalid", f"A list of up to {MAX_CALLER_PATTERNS} numbers or prefixes.")
        return frozenset(), ()
    exact: set[str] = set()
    prefixes: list[str] = []
    for index, item in enumerate(raw):
        text = item.strip() if isinstance(item, str) else ""
        if text == ANONYMOUS:
            exact.add(ANONYMOUS)
        elif (
            text.endswith("*") and text.startswith("+") and text[1:-1].isdigit() and len(text) <= 17
        ):
            prefixes.append(text[:-1])
        else:
            try:
                exact.add(normalise_e164(text))
            except InvalidValue as exc:
                errors.add(
                    f"{path}.{index}",
                    exc.code,
                    "Use an E.164 number, a prefix such as +4420*, or 'anonymous'.",
                )
    return frozenset(exact), tuple(dict.fromkeys(prefixes))


def _rule(
    raw: Any, ctx: DocumentContext, plans: Collection[str], path: str, errors: _Errors
) -> Rule | None:
    if not isinstance(raw, Mapping):
        errors.add(path, "invalid", "A rule is {name, plan, ...}.")
        return None
    name = _text(raw.get("name"), 60)
    if name is None:
        errors.add(f"{path}.name", "required", "Name the rule (up to 60 characters).")
    plan = raw.get("plan")
    if plan not in plans:
        errors.add(f"{path}.plan", "unknown_plan", "Name a plan of this document.")
    schedule_id = raw.get("schedule_id")
    if schedule_id is not None and (
        _int(schedule_id) is None or schedule_id not in ctx.schedule_ids
    ):
        errors.add(f"{path}.schedule_id", "unknown_schedule", "No such schedule.")
    when = raw.get("when", "open")
    if when not in ("open", "closed"):
        errors.add(f"{path}.when", "invalid_choice", "Use open or closed.")
    callers, prefixes = _callers(raw.get("callers"), f"{path}.callers", errors)
    if schedule_id is None and not callers and not prefixes:
        errors.add(path, "no_condition", "A rule needs a schedule or callers to match.")
    flags = {}
    for flag, default in (("overrides_dnd", False), ("enabled", True)):
        value = raw.get(flag, default)
        if not isinstance(value, bool):
            errors.add(f"{path}.{flag}", "invalid", "true or false.")
        flags[flag] = value is True
    if name is None or errors.items.keys() & {
        f"{path}.plan",
        f"{path}.schedule_id",
        f"{path}.when",
        path,
    }:
        return None
    return Rule(
        name=name,
        plan=str(plan),
        schedule_id=schedule_id,
        when_open=when == "open",
        callers=callers,
        caller_prefixes=prefixes,
        overrides_dnd=flags["overrides_dnd"],
        enabled=flags["enabled"],
    )


_KEYS = {"plans", "default_plan", "rules"}


def parse_routing_document(raw: Any, ctx: DocumentContext) -> RoutingDocument:
    """Validate a routing document; raise DocumentInvalid listing every problem by path."""
    errors = _Errors()
    if not isinstance(raw, Mapping):
        raise DocumentInvalid(
            {"non_field_errors": [("invalid", "A routing document is an object.")]}
        )
    for key in sorted(set(raw) - _KEYS):
        errors.add(str(key), "unknown_field", "Unknown field.")
    plans_raw = raw.get("plans")
    if not isinstance(plans_raw, list) or not plans_raw or len(plans_raw) > MAX_PLANS:
        errors.add("plans", "required", f"Between 1 and {MAX_PLANS} plans.")
        plans_raw = []
    plans: dict[str, RingPlan] = {}
    names: list[Any] = []
    for index, plan_raw in enumerate(plans_raw):
        plan = _plan(plan_raw, ctx, f"plans.{index}", errors)
        name = plan_raw.get("name") if isinstance(plan_raw, Mapping) else None
        if isinstance(name, str) and name.strip() in names:
            errors.add(f"plans.{index}.name", "duplicate", "Two plans have this name.")
        names.append(name.strip() if isinstance(name, str) else name)
        if plan is not None:
            plans[plan.name] = plan
    default = raw.get("default_plan")
    if default not in names:
        errors.add("default_plan", "unknown_plan", "Name one of the plans.")
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list) or len(rules_raw) > MAX_RULES:
        errors.add("rules", "invalid", f"A list of up to {MAX_RULES} rules.")
        rules_raw = []
    rules = [_rule(r, ctx, names, f"rules.{i}", errors) for i, r in enumerate(rules_raw)]
    if errors.items:
        raise DocumentInvalid(errors.items)
    return RoutingDocument(
        plans=plans, default_plan=str(default), rules=tuple(r for r in rules if r)
    )


def default_document() -> dict[str, Any]:
    """What a person gets before anyone configures anything: every device 30 s, then voicemail."""
    return {
        "plans": [
            {
                "name": "ring all",
                "stages": [
                    {
                        "seconds": 30,
                        "mode": "add",
                        "targets": [{"type": "device_kind", "kind": kind} for kind in DEVICE_KINDS],
                    }
                ],
                "final": {"action": "voicemail"},
            }
        ],
        "default_plan": "ring all",
        "rules": [],
    }


def referenced_schedule_ids(document: RoutingDocument) -> set[int]:
    return {r.schedule_id for r in document.rules if r.schedule_id is not None}


def _dump_target(target: Target) -> dict[str, Any]:
    key = {
        TargetType.DEVICE: "device_id",
        TargetType.DEVICE_KIND: "kind",
        TargetType.EXTENSION: "extension",
        TargetType.EXTERNAL: "number",
    }[target.type]
    return {"type": target.type.value, key: target.value}


def _dump_rule(rule: Rule) -> dict[str, Any]:
    data: dict[str, Any] = {"name": rule.name, "plan": rule.plan}
    if rule.schedule_id is not None:
        data["schedule_id"] = rule.schedule_id
        data["when"] = "open" if rule.when_open else "closed"
    if rule.has_caller_condition:
        data["callers"] = sorted(rule.callers) + [f"{p}*" for p in rule.caller_prefixes]
    data["overrides_dnd"] = rule.overrides_dnd
    data["enabled"] = rule.enabled
    return data


def dump_routing_document(document: RoutingDocument) -> dict[str, Any]:
    """The canonical JSON form (normalised numbers, explicit modes); parsing it gives it back."""
    return {
        "plans": [
            {
                "name": plan.name,
                "stages": [
                    {
                        "seconds": stage.seconds,
                        "mode": stage.mode.value,
                        "targets": [_dump_target(t) for t in stage.targets],
                    }
                    for stage in plan.stages
                ],
                "final": {"action": plan.final.kind.value}
                | ({"destination": plan.final.destination} if plan.final.destination else {}),
            }
            for plan in document.plans.values()
        ],
        "default_plan": document.default_plan,
        "rules": [_dump_rule(rule) for rule in document.rules],
    }


def check_destination(raw: Any, ctx: DocumentContext, path: str) -> str:
    """Validate one forward destination (DND/forwarding settings); raise DocumentInvalid."""
    errors = _Errors()
    destination = _destination(raw, ctx, path, errors)
    if destination is None:
        raise DocumentInvalid(errors.items)
    return destination
