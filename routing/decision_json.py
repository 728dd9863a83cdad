"""A decision in the contract's terms (pbx.engine.contract): what the engine carries out, and
what the simulate endpoint shows, in one encoding."""

from typing import Any

from pbx.engine.contract import BranchOrder, EngineDecision, FinalOrder, FinalStep
from routing.routed import RoutedCall


def engine_decision(routed: RoutedCall, *, call_id: str | None, with_trace: bool) -> EngineDecision:
    decision = routed.decision
    cuts = set(decision.cuts)
    return EngineDecision(
        call_id=call_id,
        user_id=routed.destination.user_id,
        extension=routed.destination.extension,
        plan=decision.plan,
        rule=decision.rule,
        reason=decision.reason,
        branches=tuple(
            BranchOrder(
                device_id=branch.device_id,
                sip_username=branch.sip_username,
                label=branch.label,
                user_id=branch.user_id,
                start_ms=branch.start * 1000,
                stop_ms=branch.stop * 1000,
                wake=branch.wake,
                after_cut=branch.start in cuts,
            )
            for branch in decision.branches
        ),
        cuts=tuple(cut * 1000 for cut in decision.cuts),
        final=FinalStep(
            order=FinalOrder(decision.final.kind.value),
            at_ms=decision.final_at * 1000,
            mailbox=decision.mailbox or None,
            greeting=decision.greeting,
        ),
        trace=tuple(decision.trace_lines()) if with_trace else None,
    )


def decision_json(
    routed: RoutedCall, *, with_trace: bool, call_id: str | None = None
) -> dict[str, Any]:
    return engine_decision(routed, call_id=call_id, with_trace=with_trace).to_json()
