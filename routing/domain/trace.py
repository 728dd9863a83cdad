"""Why a call rang as it did: structured trace events `(code, args)`, rendered to sentences only
when someone reads them (the hot path never formats text)."""

from routing.domain.plans import FinalAction, FinalKind

TraceEvent = tuple[str, tuple[object, ...]]

_MESSAGES = {
    "clock": "{0} {1} ({2}).",
    "person": "Routing of extension {0} ({1}) from {2} s: {3} {4}.",
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
    "rings_on": (
        "{0} rings on until {1} s: {2} rings across {3} s, and a phone cannot be stopped while"
        " another rings on in the same call."
    ),
    "too_many": "{0} not rung: a call rings at most {1} branches.",
    "cap": "Ring time capped at {0} s by the organisation: stages from {1} on are dropped.",
    "external_skipped": (
        "{0} skipped: calls to outside numbers need a trunk, and none is available yet."
    ),
    "forward_external": (
        "Forward to {0} not followed: calls to outside numbers need a trunk, and none is"
        " available yet."
    ),
    "extension": "Extension {0} ({1}) rings from {2} s to {3} s, per their own routing.",
    "extension_unknown": "Extension {0} takes no calls: skipped.",
    "extension_silent": "Extension {0} ({1}) rings none of their devices now.",
    "forward_to": "Forwarding to extension {0} ({1}) at {2} s: their own routing applies.",
    "forward_loop": "Forwarding to {0} would loop ({1}): {2} instead.",
    "hop_limit": "More than {0} forwards ({1}): {2} instead.",
    "nothing": "Nothing can ring: the final action happens at once.",
    "final": "Unanswered after {0} s: {1}.",
    "final_now": "Final action: {0}.",
}


def render(code: str, args: tuple[object, ...]) -> str:
    return _MESSAGES[code].format(*args)


def describe_final(final: FinalAction, mailbox: str | None = None) -> str:
    if final.kind is FinalKind.FORWARD:
        return f"forward to {final.destination}"
    if final.kind is FinalKind.VOICEMAIL and mailbox:
        return f"voicemail of {mailbox}"
    return {"voicemail": "voicemail", "busy": "busy", "unavailable": "unavailable"}[
        final.kind.value
    ]
