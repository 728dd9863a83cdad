"""The JSON shape of a decision, shared by the engine API and the simulate endpoint."""

from typing import Any

from routing.decisions import RoutedCall
from routing.domain.plans import TargetType


def decision_json(routed: RoutedCall, *, with_trace: bool) -> dict[str, Any]:
    decision = routed.decision
    devices = {d.id: d for d in routed.profile.devices}
    branches = []
    for branch in decision.branches:
        item: dict[str, Any] = {
            "type": branch.type.value,
            "label": branch.label,
            "start_ms": branch.start * 1000,
            "stop_ms": branch.stop * 1000,
            "wake": branch.wake,
        }
        if branch.type is TargetType.DEVICE:
            item["device_id"] = branch.value
            item["sip_username"] = devices[int(branch.value)].sip_username
        elif branch.type is TargetType.EXTENSION:
            item["extension"] = branch.value
        else:
            item["number"] = branch.value
        branches.append(item)
    body: dict[str, Any] = {
        "user_id": routed.destination.user_id,
        "extension": routed.destination.extension,
        "plan": decision.plan,
        "rule": decision.rule,
        "reason": decision.reason,
        "branches": branches,
        "final": {
            "action": decision.final.kind.value,
            "destination": decision.final.destination,
            "at_ms": decision.final_at * 1000,
        },
    }
    if with_trace:
        body["trace"] = decision.trace_lines()
    return body
